"""GitHub's REST API, the calls acb makes: an issue, a pull request, a review with comments.

Shapes follow GitHub's documented requests (`POST /repos/{o}/{r}/pulls`,
`POST /repos/{o}/{r}/pulls/{n}/reviews` with `comments[path, line, side, body]`). The review's
`commit_id` is the pull request's head as GitHub sees it, so comments land on the diff the
reviewers see.
"""

from __future__ import annotations

from autocodebase import __version__
from autocodebase.forge.base import ChangeRequest, Issue, PostedReview
from autocodebase.forge.http import ForgeHttp
from autocodebase.forge.refs import ForgeRef
from autocodebase.forge.review_comments import (
    comment_text,
    commentable_lines,
    place,
    review_body,
)
from autocodebase.forge.tokens import Token
from autocodebase.quality.review.findings import Finding


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
