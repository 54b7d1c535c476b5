"""A loopback forge: the subset of GitHub's REST API (under /api/v3, as GitHub Enterprise
serves it) and GitLab's (under /api/v4) that acb uses, shaped from their documented examples,
plus git's smart HTTP (`git http-backend`) for real pushes: under /git/, and at
`/OWNER/REPO.git` as github.com serves a repository (`git_root/OWNER/REPO.git` on disk).

It checks what a real forge checks: the auth header on every call (401 otherwise), required
fields (422), review comments only on lines of the diff (422, as GitHub answers), and a
GitLab position naming the merge request's diff_refs. Faults are queued per path prefix
(`fail(...)`); every request is recorded for assertions.

For autopilot it also lists open issues by label (GitHub's list holding pull requests too, as
GitHub's does; paginated with `Link: rel="next"`), keeps the pull/merge requests it opened
(`state.changes`, their head the pushed branch's commit in `git_root`), their reviews
(GitHub) and approvals (GitLab), and merges one on `PUT .../merge` only at its current head
(409 otherwise) and only when mergeable (405).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from autocodebase.forge.review_comments import commentable_lines

HEAD_SHA = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
BASE_SHA = "c3ab8ff13720e8ad9047dd39466b3c8974e592c2"
START_SHA = "d7c64e6b1e3a6a4e7e0a2c1a1d1f8b2b1c9e0f11"
PATCH = "@@ -1,3 +1,4 @@\n def a():\n-    return 1\n+    x = 1\n+    return x\n \n"


@dataclass
class Recorded:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any


@dataclass
class ForgeState:
    token: str
    issues: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    """(project, number) -> title, body, and optionally labels (names), state, pull_request."""
    changes: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    """Requests opened: state, merged, mergeable, head, reviews (GitHub), approved_by (GitLab)."""
    next_change: int = 1347
    link_host: str | None = None
    """Set: list pages' next links point at this host instead (a forge gone wrong)."""
    files: dict[str, str] = field(default_factory=lambda: {"app.py": PATCH})
    """The open pull/merge request's diff, per file (what /files and /diffs list)."""
    faults: list[tuple[str, int, dict[str, str]]] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    git_root: Path | None = None
    """Bare repositories served under /git/ (a push needs the token as Basic auth)."""


class ForgeServer:
    def __init__(self, token: str) -> None:
        self.state = ForgeState(token)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.state = self.state  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> ForgeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail(self, prefix: str, status: int, headers: dict[str, str] | None = None) -> None:
        """The next request whose path starts with `prefix` gets `status`."""
        self.state.faults.append((prefix, status, headers or {}))

    def requests_to(self, method: str, pattern: str) -> list[Recorded]:
        return [r for r in self.state.requests if r.method == method and re.search(pattern, r.path)]


GITHUB_ISSUE = re.compile(r"^/api/v3/repos/([^/]+/[^/]+)/issues/(\d+)$")
GITHUB_ISSUES = re.compile(r"^/api/v3/repos/([^/]+/[^/]+)/issues$")
GITLAB_ISSUES = re.compile(r"^/api/v4/projects/([^/]+)/issues$")
GITHUB_PULLS = re.compile(r"^/api/v3/repos/([^/]+/[^/]+)/pulls$")
GITHUB_PULL = re.compile(r"^/api/v3/repos/([^/]+/[^/]+)/pulls/(\d+)(/files|/reviews|/merge)?$")
GITLAB_ISSUE = re.compile(r"^/api/v4/projects/([^/]+)/issues/(\d+)$")
GITLAB_MRS = re.compile(r"^/api/v4/projects/([^/]+)/merge_requests$")
GITLAB_MR = re.compile(
    r"^/api/v4/projects/([^/]+)/merge_requests/(\d+)(/diffs|/discussions|/notes|/approvals|/merge)?$"
)


GIT_SMART_HTTP = re.compile(r"^/.+\.git/(info/refs|git-upload-pack|git-receive-pack)$")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    @property
    def state(self) -> ForgeState:
        return self.server.state  # type: ignore[attr-defined,no-any-return]

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def _handle(self, method: str) -> None:
        parts = urlsplit(self.path)
        path = parts.path
        if path.startswith("/git/") or GIT_SMART_HTTP.match(path):
            self._git(method, path, parts.query)
            return
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        self.state.requests.append(
            Recorded(method, path, parts.query, dict(self.headers.items()), body)
        )
        for index, (prefix, status, headers) in enumerate(self.state.faults):
            if path.startswith(prefix):
                del self.state.faults[index]
                self._json(status, {"message": "Server Error"}, headers)
                return
        if not self._authorised(path):
            self._json(
                401, {"message": "Bad credentials" if "/v3/" in path else "401 Unauthorized"}
            )
            return
        routed = self._github(method, path, parts.query, body) if "/v3/" in path else None
        if routed is None and "/v4/" in path:
            routed = self._gitlab(method, path, parts.query, body)
        if routed is None:
            self._json(404, {"message": "Not Found"})
            return
        self._json(*routed)

    def _authorised(self, path: str) -> bool:
        token = self.state.token
        if "/v3/" in path:
            return self.headers.get("Authorization") == f"Bearer {token}"
        return self.headers.get("PRIVATE-TOKEN") == token

    # -- GitHub ----------------------------------------------------------------------------

    def _github(self, method: str, path: str, query: str, body: Any) -> tuple[Any, ...] | None:
        host = self.headers.get("Host")
        if method == "GET" and (m := GITHUB_ISSUE.match(path)):
            found = self.state.issues.get((m.group(1), int(m.group(2))))
            if found is None:
                return None
            number = int(m.group(2))
            return 200, {
                "id": 1,
                "number": number,
                "state": "open",
                "title": found["title"],
                "body": found["body"],
                "html_url": f"http://{host}/{m.group(1)}/issues/{number}",
                "user": {"login": "octocat"},
            }
        if method == "GET" and (m := GITHUB_ISSUES.match(path)):
            return self._issue_list(m.group(1), query, "github")
        if method == "POST" and (m := GITHUB_PULLS.match(path)):
            missing = [k for k in ("title", "head", "base") if not (body or {}).get(k)]
            if missing:
                return 422, {"message": "Validation Failed", "errors": missing}
            number = self._new_change(m.group(1), body["head"], body["title"], body["body"])
            return 201, {
                "number": number,
                "state": "open",
                "draft": bool(body.get("draft")),
                "html_url": f"http://{host}/{m.group(1)}/pull/{number}",
                "head": {
                    "ref": body["head"],
                    "sha": self.state.changes[(m.group(1), number)]["head"],
                },
                "base": {"ref": body["base"], "sha": BASE_SHA},
            }
        if m := GITHUB_PULL.match(path):
            return self._github_pull(method, m.group(1), int(m.group(2)), m.group(3), query, body)
        return None

    def _github_pull(
        self, method: str, repo: str, number: int, part: str | None, query: str, body: Any
    ) -> tuple[Any, ...] | None:
        host = self.headers.get("Host")
        change = self.state.changes.get((repo, number))
        if change is not None and part in (None, "/reviews", "/merge") and method != "POST":
            return self._github_change(method, repo, number, part, change, body)
        if method == "GET" and part is None:
            return 200, {
                "number": number,
                "html_url": f"http://{host}/{repo}/pull/{number}",
                "head": {"sha": HEAD_SHA},
                "base": {"sha": BASE_SHA},
            }
        if method == "GET" and part == "/files":
            files = [
                {"filename": n, "status": "modified", "patch": p}
                for n, p in self.state.files.items()
            ]
            page = int(dict(q.split("=") for q in query.split("&") if "=" in q).get("page", "1"))
            # One file per page, so that a client that does not follow Link misses some.
            if page < len(files):
                link = f'<http://{host}/api/v3/repos/{repo}/pulls/{number}/files?page={page + 1}>; rel="next"'
                return 200, files[page - 1 : page], {"Link": link}
            return 200, files[page - 1 : page]
        if method == "POST" and part == "/reviews":
            lines = commentable_lines(self.state.files.items())
            for comment in body.get("comments", []):
                if set(comment) != {"path", "line", "side", "body"} or comment["side"] != "RIGHT":
                    return 422, {"message": "Unprocessable Entity", "errors": [comment]}
                if comment["line"] not in lines.get(comment["path"], set()):
                    return 422, {"message": "Line could not be resolved"}
            if body.get("event") not in ("COMMENT", "APPROVE", "REQUEST_CHANGES"):
                return 422, {"message": "event"}
            return 200, {
                "id": 80,
                "state": "COMMENTED",
                "commit_id": body.get("commit_id"),
                "html_url": f"http://{host}/{repo}/pull/{number}#pullrequestreview-80",
            }
        return None

    def _github_change(
        self,
        method: str,
        repo: str,
        number: int,
        part: str | None,
        change: dict[str, Any],
        body: Any,
    ) -> tuple[Any, ...] | None:
        """A pull request opened here: GitHub's shapes for it, its reviews and its merge."""
        host = self.headers.get("Host")
        if method == "GET" and part is None:
            return 200, {
                "number": number,
                "state": "closed" if change["state"] != "open" else "open",
                "merged": change["state"] == "merged",
                "mergeable": change["mergeable"],
                "mergeable_state": "clean" if change["mergeable"] else "blocked",
                "html_url": f"http://{host}/{repo}/pull/{number}",
                "head": {"ref": change["branch"], "sha": change["head"]},
                "base": {"sha": BASE_SHA},
            }
        if method == "GET" and part == "/reviews":
            return 200, change["reviews"]
        if method == "PUT" and part == "/merge":
            return self._merge(change, (body or {}).get("sha"), "github")
        return None

    def _merge(self, change: dict[str, Any], sha: str | None, forge: str) -> tuple[Any, ...]:
        if change["state"] != "open" or not change["mergeable"]:
            return 405, {
                "message": "Pull Request is not mergeable"
                if forge == "github"
                else "405 Method Not Allowed"
            }
        if sha is not None and sha != change["head"]:
            return 409, {
                "message": "Head branch was modified. Review and try the merge again."
                if forge == "github"
                else "SHA does not match HEAD of source branch"
            }
        change["state"] = "merged"
        change["merged_with"] = sha
        if forge == "github":
            return 200, {
                "sha": "9f4e" + change["head"][4:],
                "merged": True,
                "message": "Pull Request successfully merged",
            }
        return 200, {
            "iid": change["number"],
            "state": "merged",
            "sha": change["head"],
            "merge_commit_sha": "9f4e" + change["head"][4:],
        }

    def _new_change(self, project: str, branch: str, title: str, body: str) -> int:
        """Record a request opened from `branch`; its head is the branch's pushed commit."""
        number = self.state.next_change
        self.state.next_change += 1
        head = HEAD_SHA
        if self.state.git_root is not None:
            bare = self.state.git_root / f"{project}.git"
            done = subprocess.run(
                ["git", "rev-parse", f"refs/heads/{branch}"],
                cwd=bare,
                capture_output=True,
                text=True,
            )
            if bare.is_dir() and done.returncode == 0:
                head = done.stdout.strip()
        self.state.changes[(project, number)] = {
            "number": number, "state": "open", "mergeable": True, "head": head, "branch": branch,
            "title": title, "body": body, "reviews": [], "approved_by": [],
        }  # fmt: skip
        return number

    def _issue_list(self, project: str, query: str, forge: str) -> tuple[Any, ...]:
        """Open issues with the asked label, `per_page` a page, GitHub's with its pull requests
        among them (items with a `pull_request` key), as GitHub's own list has them."""
        params = dict(q.split("=", 1) for q in query.split("&") if "=" in q)
        label = unquote(params.get("labels", ""))
        page, per_page = int(params.get("page", "1")), int(params.get("per_page", "30"))
        host = self.headers.get("Host")
        items = []
        for (where, number), issue in sorted(self.state.issues.items()):
            labels = issue.get("labels", [])
            if where != project or issue.get("state", "open") != "open":
                continue
            if label and label not in labels:
                continue
            if forge == "github":
                item = {
                    "number": number, "title": issue["title"], "body": issue["body"],
                    "state": "open", "labels": [{"name": n, "color": "ededed"} for n in labels],
                    "html_url": f"http://{host}/{project}/issues/{number}",
                }  # fmt: skip
                if issue.get("pull_request"):
                    item["pull_request"] = {
                        "url": f"http://{host}/api/v3/repos/{project}/pulls/{number}"
                    }
            else:
                item = {
                    "iid": number, "title": issue["title"], "description": issue["body"],
                    "state": "opened", "labels": list(labels),
                    "web_url": f"http://{host}/{project}/-/issues/{number}",
                }  # fmt: skip
            items.append(item)
        chosen = items[(page - 1) * per_page : page * per_page]
        if page * per_page >= len(items):
            return 200, chosen
        there = self.state.link_host or host
        base = (
            f"/api/v3/repos/{project}/issues"
            if forge == "github"
            else f"/api/v4/projects/{quote(project, safe='')}/issues"
        )
        link = f'<http://{there}{base}?{query.replace(f"page={page}&", "")}&page={page + 1}>; rel="next"'
        return 200, chosen, {"Link": link}

    # -- GitLab ----------------------------------------------------------------------------

    def _gitlab(self, method: str, path: str, query: str, body: Any) -> tuple[Any, ...] | None:
        host = self.headers.get("Host")
        if method == "GET" and (m := GITLAB_ISSUE.match(path)):
            project = unquote(m.group(1))
            found = self.state.issues.get((project, int(m.group(2))))
            if found is None:
                return 404, {"message": "404 Not found"}
            iid = int(m.group(2))
            return 200, {
                "id": 76,
                "iid": iid,
                "title": found["title"],
                "description": found["body"],
                "state": "opened",
                "web_url": f"http://{host}/{project}/-/issues/{iid}",
            }
        if method == "GET" and (m := GITLAB_ISSUES.match(path)):
            return self._issue_list(unquote(m.group(1)), query, "gitlab")
        if method == "POST" and (m := GITLAB_MRS.match(path)):
            missing = [k for k in ("source_branch", "target_branch", "title") if not body.get(k)]
            if missing:
                return 400, {"message": f"{missing[0]} is missing"}
            project = unquote(m.group(1))
            if self.state.next_change == 1347:
                self.state.next_change = 7  # GitLab's iids are small; the first is 7 here
            iid = self._new_change(
                project, body["source_branch"], body["title"], body["description"]
            )
            return 201, {
                "id": 1,
                "iid": iid,
                "title": body["title"],
                "draft": body["title"].startswith("Draft:"),
                "web_url": f"http://{host}/{project}/-/merge_requests/{iid}",
            }
        if m := GITLAB_MR.match(path):
            return self._gitlab_mr(method, unquote(m.group(1)), int(m.group(2)), m.group(3), body)
        return None

    def _gitlab_mr(
        self, method: str, project: str, iid: int, part: str | None, body: Any
    ) -> tuple[Any, ...] | None:
        host = self.headers.get("Host")
        change = self.state.changes.get((project, iid))
        if change is not None and method == "GET" and part is None:
            state = {"open": "opened", "merged": "merged", "closed": "closed"}[change["state"]]
            return 200, {
                "iid": iid,
                "state": state,
                "sha": change["head"],
                "source_branch": change["branch"],
                "detailed_merge_status": "mergeable" if change["mergeable"] else "not_approved",
                "diff_refs": {"base_sha": BASE_SHA, "head_sha": HEAD_SHA, "start_sha": START_SHA},
                "web_url": f"http://{host}/{project}/-/merge_requests/{iid}",
            }
        if change is not None and method == "GET" and part == "/approvals":
            by = change["approved_by"]
            return 200, {
                "iid": iid,
                "approved": change.get("approvals_required", 0) <= len(by),
                "approvals_required": change.get("approvals_required", 0),
                "approvals_left": max(change.get("approvals_required", 0) - len(by), 0),
                "approved_by": [{"user": {"username": u, "name": u.title()}} for u in by],
            }
        if change is not None and method == "PUT" and part == "/merge":
            return self._merge(change, (body or {}).get("sha"), "gitlab")
        if method == "GET" and part is None:
            return 200, {
                "iid": iid,
                "web_url": f"http://{host}/{project}/-/merge_requests/{iid}",
                "diff_refs": {"base_sha": BASE_SHA, "head_sha": HEAD_SHA, "start_sha": START_SHA},
            }
        if method == "GET" and part == "/diffs":
            return 200, [
                {"old_path": n, "new_path": n, "diff": p, "new_file": False}
                for n, p in self.state.files.items()
            ]
        if method == "POST" and part == "/discussions":
            position = body.get("position") or {}
            expected = {"base_sha": BASE_SHA, "head_sha": HEAD_SHA, "start_sha": START_SHA}
            if any(position.get(k) != v for k, v in expected.items()):
                return 400, {"message": "position is invalid"}
            lines = commentable_lines(self.state.files.items())
            if position.get("new_line") not in lines.get(position.get("new_path"), set()):
                return 400, {"message": '400 Bad request - Note {:line_code=>["can\'t be blank"]}'}
            return 201, {
                "id": "6a9c1750b37d",
                "individual_note": False,
                "notes": [{"body": body["body"]}],
            }
        if method == "POST" and part == "/notes":
            return 201, {"id": 302, "body": body["body"]}
        return None

    # -- git over smart HTTP ---------------------------------------------------------------

    def _git(self, method: str, path: str, query: str) -> None:
        """`git http-backend` as CGI, behind Basic auth with the token as the password."""
        import base64

        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length) if length else b""
        self.state.requests.append(Recorded(method, path, query, dict(self.headers.items()), None))
        accepted = {  # GitHub's user beside a token, and GitLab's
            "Basic " + base64.b64encode(f"{user}:{self.state.token}".encode()).decode()
            for user in ("x-access-token", "oauth2")
        }
        if self.headers.get("Authorization") not in accepted:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        assert self.state.git_root is not None
        env = {
            "PATH": os.environ["PATH"],
            "GIT_PROJECT_ROOT": str(self.state.git_root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REMOTE_USER": "x-access-token",
            "REQUEST_METHOD": method,
            "PATH_INFO": path[len("/git") :] if path.startswith("/git/") else path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(data)),
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "http.receivepack",
            "GIT_CONFIG_VALUE_0": "true",
        }
        done = subprocess.run(["git", "http-backend"], input=data, env=env, capture_output=True)
        head, _, payload = done.stdout.partition(b"\r\n\r\n")
        status, headers = 200, []
        for line in head.decode().split("\r\n"):
            name, _, value = line.partition(": ")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers.append((name, value))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        raw = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(raw)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(raw)
