"""GitLab's REST API (v4), the calls acb makes: an issue, a merge request, review discussions.

A line comment on GitLab is a discussion with a `position` that names the merge request's
`diff_refs` (base, start and head commits) and the new-side line; findings that cannot be
placed go into one summary note. A draft merge request is one whose title starts `Draft:`,
which is how GitLab's API spells it.
"""

from __future__ import annotations

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


def gitlab_headers(token: Token | None) -> dict[str, str]:
    headers = {"User-Agent": f"acb/{__version__}"}
    if token is not None:
        headers["PRIVATE-TOKEN"] = token.value
    return headers


class GitLab:
    """One project on a GitLab instance."""

    def __init__(self, ref: ForgeRef, http: ForgeHttp):
        self.ref = ref
        self.http = http
        self.project = f"/projects/{ref.project_id}"

    def issue(self, number: int) -> Issue:
        data = self.http.request("GET", f"{self.project}/issues/{number}")
        text = str(data.get("description") or "")
        return Issue(number, str(data["title"]), text, str(data["web_url"]))

    def open_change_request(
        self, title: str, body: str, head: str, base: str, draft: bool
    ) -> ChangeRequest:
        payload = {
            "source_branch": head,
            "target_branch": base,
            "title": f"Draft: {title}" if draft else title,
            "description": body,
            "remove_source_branch": True,
        }
        data = self.http.request("POST", f"{self.project}/merge_requests", json=payload)
        return ChangeRequest(int(data["iid"]), str(data["web_url"]))

    def labelled_issues(self, label: str, limit: int) -> list[Issue]:
        params = {"state": "opened", "labels": label, "order_by": "created_at", "sort": "asc"}
        found: list[Issue] = []
        for item in self.http.pages(f"{self.project}/issues", params=params):
            if len(found) >= limit:
                break
            if not isinstance(item, dict) or label not in (item.get("labels") or []):
                continue
            if item.get("state", "opened") != "opened":
                continue
            found.append(listed_issue(item, "iid", "description", "web_url"))
        return found

    def change_status(self, number: int) -> ChangeStatus:
        path = f"{self.project}/merge_requests/{number}"
        request = self.http.request("GET", path)
        approvals = self.http.request("GET", f"{path}/approvals")
        by = tuple(
            str((a.get("user") or {}).get("username") or "")
            for a in approvals.get("approved_by") or []
            if isinstance(a, dict)
        )
        # `approved` is true with no approval rule at all (GitLab Free): it counts only when
        # someone did approve.
        approved = approvals.get("approved") is True and bool(by)
        state = {"merged": "merged", "closed": "closed", "locked": "closed"}.get(
            str(request.get("state")), "open"
        )
        mergeable = request.get("detailed_merge_status") == "mergeable"
        head = str(request.get("sha") or "")
        return ChangeStatus(state, head, approved, by, mergeable, str(request.get("web_url")))

    def merge_change_request(self, number: int, sha: str, title: str) -> str:
        path = f"{self.project}/merge_requests/{number}/merge"
        data = self.http.request("PUT", path, json={"sha": sha, "merge_commit_message": title})
        if data.get("state") != "merged":
            raise ForgeError(f"PUT {path}: not merged (state {data.get('state')})")
        return str(data.get("merge_commit_sha") or data.get("sha") or "")

    def post_review(self, number: int, summary: str, findings: list[Finding]) -> PostedReview:
        path = f"{self.project}/merge_requests/{number}"
        request = self.http.request("GET", path)
        refs = request["diff_refs"]
        diffs = self.http.pages(f"{path}/diffs")
        commentable = commentable_lines((d["new_path"], d.get("diff") or "") for d in diffs)
        on_lines, elsewhere = place(findings, commentable)
        for finding in on_lines:
            position = {
                "position_type": "text",
                "base_sha": refs["base_sha"],
                "start_sha": refs["start_sha"],
                "head_sha": refs["head_sha"],
                "old_path": finding.file,
                "new_path": finding.file,
                "new_line": finding.line,
            }
            body = {"body": comment_text(finding), "position": position}
            self.http.request("POST", f"{path}/discussions", json=body)
        self.http.request("POST", f"{path}/notes", json={"body": review_body(summary, elsewhere)})
        return PostedReview(str(request["web_url"]), len(on_lines), len(elsewhere))

    def close(self) -> None:
        self.http.close()
