"""GitHub's REST API, the calls acb makes: an issue, a pull request, a review with comments.

Shapes follow GitHub's documented requests (`POST /repos/{o}/{r}/pulls`,
`POST /repos/{o}/{r}/pulls/{n}/reviews` with `comments[path, line, side, body]`). The review's
`commit_id` is the pull request's head as GitHub sees it, so comments land on the diff the
reviewers see.
"""

from __future__ import annotations

from typing import Any

from autocodebase import __version__
from autocodebase.forge.base import (
    ChangeRequest,
    ChangeStatus,
    Issue,
    PostedReview,
    listed_issue,
)
from autocodebase.forge.http import ForgeError, ForgeHttp
from autocodebase.forge.refs import ForgeRef
from autocodebase.forge.review_comments import (
    comment_text,
    commentable_lines,
    place,
    review_body,
)
from autocodebase.forge.tokens import Token
from autocodebase.quality.review.findings import Finding

REVIEWERS = frozenset({"OWNER", "MEMBER", "COLLABORATOR"})
"""Whose review counts: anyone may submit an APPROVE review on a public repository's pull
request (GitHub lists it with `author_association` NONE or CONTRIBUTOR), and only these
associations have write access to give one that means something."""


def github_headers(token: Token | None) -> dict[str, str]:
    headers = {
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
        "User-Agent": f"acb/{__version__}",
    }
    if token is not None:
        headers["Authorization"] = f"Bearer {token.value}"
    return headers


class GitHub:
    """One repository on GitHub (or GitHub Enterprise)."""

    def __init__(self, ref: ForgeRef, http: ForgeHttp):
        self.ref = ref
        self.http = http
        self.repo = f"/repos/{ref.project}"

    def issue(self, number: int) -> Issue:
        data = self.http.request("GET", f"{self.repo}/issues/{number}")
        return Issue(number, str(data["title"]), str(data.get("body") or ""), data["html_url"])

    def open_change_request(
        self, title: str, body: str, head: str, base: str, draft: bool
    ) -> ChangeRequest:
        payload = {"title": title, "body": body, "head": head, "base": base, "draft": draft}
        data = self.http.request("POST", f"{self.repo}/pulls", json=payload)
        return ChangeRequest(int(data["number"]), str(data["html_url"]))

    def labelled_issues(self, label: str, limit: int) -> list[Issue]:
        params = {"state": "open", "labels": label, "sort": "created", "direction": "asc"}
        found: list[Issue] = []
        for item in self.http.pages(f"{self.repo}/issues", params=params):
            if len(found) >= limit:
                break
            if not isinstance(item, dict) or "pull_request" in item:
                continue  # GitHub's issue list holds pull requests too
            names = [x.get("name") for x in item.get("labels") or [] if isinstance(x, dict)]
            if label not in names or item.get("state", "open") != "open":
                continue
            found.append(listed_issue(item, "number", "body", "html_url"))
        return found

    def change_status(self, number: int) -> ChangeStatus:
        pull = self.http.request("GET", f"{self.repo}/pulls/{number}")
        head = str(pull["head"]["sha"])
        reviews = list(self.http.pages(f"{self.repo}/pulls/{number}/reviews"))
        approvers = _approvers(reviews, head)
        if pull.get("merged"):
            state = "merged"
        else:
            state = "closed" if pull.get("state") == "closed" else "open"
        mergeable = pull.get("mergeable") is True and pull.get("mergeable_state") == "clean"
        url = str(pull.get("html_url") or "")
        return ChangeStatus(state, head, bool(approvers), approvers, mergeable, url)

    def merge_change_request(self, number: int, sha: str, title: str) -> str:
        payload = {"sha": sha, "merge_method": "merge", "commit_title": title}
        data = self.http.request("PUT", f"{self.repo}/pulls/{number}/merge", json=payload)
        if not data.get("merged"):
            raise ForgeError(f"PUT {self.repo}/pulls/{number}/merge: not merged")
        return str(data.get("sha") or "")

    def post_review(self, number: int, summary: str, findings: list[Finding]) -> PostedReview:
        pull = self.http.request("GET", f"{self.repo}/pulls/{number}")
        files = self.http.pages(f"{self.repo}/pulls/{number}/files")
        commentable = commentable_lines((f["filename"], f.get("patch") or "") for f in files)
        on_lines, elsewhere = place(findings, commentable)
        payload = {
            "commit_id": pull["head"]["sha"],
            "body": review_body(summary, elsewhere),
            "event": "COMMENT",
            "comments": [
                {"path": f.file, "line": f.line, "side": "RIGHT", "body": comment_text(f)}
                for f in on_lines
            ],
        }
        data = self.http.request("POST", f"{self.repo}/pulls/{number}/reviews", json=payload)
        url = str(data.get("html_url") or pull.get("html_url") or self.ref.web_url)
        return PostedReview(url, len(on_lines), len(elsewhere))

    def close(self) -> None:
        self.http.close()


def _approvers(reviews: list[Any], head: str) -> tuple[str, ...]:
    """Who approves `head` now: each reviewer with write access counts by their latest
    approving or change-requesting review; an approval of an older commit does not cover
    commits pushed since, and any standing request for changes blocks."""
    latest: dict[str, dict[str, Any]] = {}
    for review in reviews:
        if not isinstance(review, dict) or review.get("author_association") not in REVIEWERS:
            continue
        if review.get("state") not in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED"):
            continue  # a comment changes no one's verdict
        login = str((review.get("user") or {}).get("login") or "")
        latest[login] = review  # GitHub lists reviews oldest first
    if any(r["state"] == "CHANGES_REQUESTED" for r in latest.values()):
        return ()
    return tuple(
        sorted(
            login
            for login, r in latest.items()
            if r["state"] == "APPROVED" and r.get("commit_id") == head
        )
    )
