"""The forge-neutral shapes `acb resolve` and `acb review --post` work with, and the one
protocol both forges implement; the clients translate to and from their wire formats."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from autocodebase.forge.http import ForgeError
from autocodebase.quality.review.findings import Finding


@dataclass(frozen=True)
class Issue:
    number: int
    title: str
    body: str
    web_url: str


def listed_issue(item: dict[str, Any], number: str, body: str, url: str) -> Issue:
    """An issue from a forge's issue list, its fields under the forge's names (GitHub's
    `number`/`body`/`html_url`, GitLab's `iid`/`description`/`web_url`); a malformed item is
    a one-line error, not a traceback."""
    found, title = item.get(number), item.get("title")
    if type(found) is not int or found < 1 or not isinstance(title, str):
        article = "an" if number[0] in "aeiou" else "a"
        raise ForgeError(f"GET issues: an issue without {article} {number} or a title")
    text = item.get(body)
    return Issue(found, title, text if isinstance(text, str) else "", str(item.get(url)))


@dataclass(frozen=True)
class ChangeRequest:
    """A pull request (GitHub) or merge request (GitLab) that was opened."""

    number: int
    web_url: str


@dataclass(frozen=True)
class ChangeStatus:
    """Where an opened pull/merge request stands, as autopilot's later passes read it."""

    state: str
    """`open`, `merged`, or `closed` (closed without a merge)."""
    head_sha: str
    """The head commit the forge reports now: what a merge would land."""
    approved: bool
    """A person allowed to approve did, on `head_sha` where the forge says which commit."""
    approved_by: tuple[str, ...]
    mergeable: bool
    """The forge's own verdict: no conflict, and its required checks and rules are met."""
    web_url: str


@dataclass(frozen=True)
class PostedReview:
    web_url: str
    comments: int
    """Findings placed on their lines."""
    in_body: int
    """Findings the forge would not take on a line (outside the diff), listed in the body."""


class Forge(Protocol):
    def issue(self, number: int) -> Issue:
        """The issue's title and text."""
        ...

    def open_change_request(
        self, title: str, body: str, head: str, base: str, draft: bool
    ) -> ChangeRequest:
        """A pull/merge request from branch `head` (or `owner:head`) into `base`."""
        ...

    def post_review(self, number: int, summary: str, findings: list[Finding]) -> PostedReview:
        """`summary` and each finding on its line of the change request `number`."""
        ...

    def labelled_issues(self, label: str, limit: int) -> list[Issue]:
        """Open issues carrying `label`, oldest first, at most `limit` (pull requests, which
        GitHub's issue list includes, are left out)."""
        ...

    def change_status(self, number: int) -> ChangeStatus:
        """The pull/merge request's state, approval and mergeability now."""
        ...

    def merge_change_request(self, number: int, sha: str, title: str) -> str:
        """Merge it through the API, only if its head is still `sha`; the merged commit."""
        ...

    def close(self) -> None: ...
