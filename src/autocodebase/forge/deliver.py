"""A finished branch delivered to its forge: pushed, then a pull/merge request opened on it.

`acb resolve` does this for one issue and `acb autopilot --source github|gitlab` for each task
that passed its gates; both call these two functions, so the push's rules (the token only to
its own host, never on a command line or on disk: `vcs/push.py`) and the request's shape (the
head named `owner:branch` from a fork, the body from the run's record) are written once.
"""

from __future__ import annotations

from pathlib import Path

from autocodebase.forge.base import ChangeRequest
from autocodebase.forge.clients import forge_for
from autocodebase.forge.pr_body import RunReport, pull_request_body
from autocodebase.forge.refs import ForgeRef, remote_project
from autocodebase.forge.tokens import Token
from autocodebase.vcs.git import git_text
from autocodebase.vcs.push import push_branch, push_url

PUSH_USER = {"github": "x-access-token", "gitlab": "oauth2"}
"""The user name each forge expects beside a token in git's Basic authentication."""


def push_to_forge(
    root: Path, remote: str, branch: str, forge: ForgeRef | None, token: Token | None
) -> str:
    """Push `branch` to `remote`, with `token` only if the push URL is on `forge`'s host; the
    URL pushed to."""
    user = PUSH_USER[forge.forge if forge else "github"]
    host = forge.host if forge else None
    return push_branch(root, remote, branch, token.value if token else None, user, host)


def change_body(
    repo: Path, since: str, report: RunReport, closes: str | None, opened_by: str
) -> str:
    """The request's body: the run's record and `git diff --stat since..HEAD` of `repo`
    (a worktree on the branch)."""
    diffstat = git_text(repo, "diff", "--stat", f"{since}..HEAD")
    return pull_request_body(report, diffstat, closes, opened_by)


def open_change(
    forge: ForgeRef,
    token: Token | None,
    root: Path,
    remote: str,
    branch: str,
    base: str,
    title: str,
    body: str,
    draft: bool = False,
) -> ChangeRequest:
    """The pull/merge request from the pushed `branch` into `base` on `forge`'s project."""
    head = branch
    pushed_to = remote_project(push_url(root, remote))
    if forge.forge == "github" and pushed_to:
        owner = pushed_to[1].split("/")[0]
        if owner != forge.project.split("/")[0]:
            head = f"{owner}:{branch}"  # a fork: GitHub names the head by its owner
    client = forge_for(forge, token)
    try:
        return client.open_change_request(title, body, head, base, draft)
    finally:
        client.close()
