"""Autopilot's forge source: the open issues carrying a label in a GitHub or GitLab project.

Each issue is a task: its id from the issue's number (`gh-12`, `gl-4`; the number is an
integer, checked, so nothing an issue's author writes reaches a branch name or a path), its
title one line of printable text, its text the issue's body as written. That body is
untrusted: anyone who can open an issue wrote it. It goes to the run only as the task's
words (`forge.issues.task_text`, as for `acb resolve`), and never sets anything autopilot
does: no acceptance command comes from an issue (the project's own test command is used),
no branch, no id.

A token found in an issue's title is redacted before the title is stored (the run's redactor
covers the rest of the run's record).
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from autocodebase.autopilot.tasks import Task
from autocodebase.errors import UsageError
from autocodebase.forge.base import Issue
from autocodebase.forge.clients import forge_for
from autocodebase.forge.refs import ForgeKind, ForgeRef, project_of_remote
from autocodebase.forge.tokens import Token, find_token
from autocodebase.redact import Redactor
from autocodebase.vcs.push import push_url

MAX_ISSUES = 100
"""Issues one pass takes from the forge, oldest first; the rest wait for later passes."""
MAX_TITLE = 200
PREFIX = {"github": "gh", "gitlab": "gl"}
_LABEL = re.compile(r"[^,\x00-\x1f\x7f]{1,100}")
_SPACES = re.compile(r"\s+")


def one_line(text: str, limit: int = MAX_TITLE) -> str:
    """`text` as one printable line: control and format characters (escape sequences,
    bidirectional overrides, newlines) dropped, runs of white space made one space, capped."""
    kept = "".join(
        " " if ch.isspace() else ch
        for ch in text
        if ch.isspace() or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn")
    )
    line = _SPACES.sub(" ", kept).strip()
    return line if len(line) <= limit else line[: limit - 1] + "…"


def check_label(label: str) -> str:
    """A label as GitHub and GitLab name them; a comma would ask for several labels at once."""
    if not _LABEL.fullmatch(label) or not label.strip():
        raise UsageError(f"not a label: {label!r} (one label, no comma, at most 100 characters)")
    return label


class ForgeTasks:
    """Open issues labelled `label` in `project` (GitHub or GitLab), as autopilot tasks."""

    def __init__(self, project: ForgeRef, token: Token | None, label: str, limit: int = MAX_ISSUES):
        self.project = project
        self.token = token
        self.label = check_label(label)
        self.limit = limit
        self.name: str = project.forge
        secrets = {token.source.replace(" ", "_").upper(): token.value} if token else {}
        self._redactor = Redactor(secrets)

    def tasks(self) -> list[Task]:
        client = forge_for(self.project, self.token)
        try:
            issues = client.labelled_issues(self.label, self.limit)
        finally:
            client.close()
        return [self._task(issue) for issue in issues]

    def _task(self, issue: Issue) -> Task:
        title = one_line(self._redactor.text(issue.title)) or f"issue {issue.number}"
        task_id = f"{PREFIX[self.project.forge]}-{int(issue.number)}"
        origin = one_line(self._redactor.text(issue.web_url), 500)
        forge = self.project.forge
        return Task(task_id, title, issue.body, None, origin, forge, issue.number)


def forge_project(
    root: Path, forge: ForgeKind, remote: str, repo: str | None
) -> tuple[ForgeRef, Token]:
    """The project `--source github|gitlab` works on (the one `remote` points at, or `repo` on
    its host) and the token for it. A token is required: autopilot pushes and opens requests,
    and refusing now is better than after a run was paid for."""
    project = project_of_remote(push_url(root, remote), forge, repo)
    token = find_token(forge, project.host)
    if token is None:
        names = "GITLAB_TOKEN" if forge == "gitlab" else "GH_TOKEN or GITHUB_TOKEN (or `gh`)"
        raise UsageError(
            f"no token for {project.host}: set {names}; autopilot pushes branches and opens "
            "requests there"
        )
    return project, token
