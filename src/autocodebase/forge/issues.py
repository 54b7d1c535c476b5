"""An issue as a task: from a forge or a local markdown file, with the branch name it gets."""

from __future__ import annotations

import re
from pathlib import Path

from autocodebase.errors import UsageError
from autocodebase.forge.base import Issue

SLUG_CHARS = 40
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def slug(title: str) -> str:
    """`Fix the --verbose flag!` -> `fix-the-verbose-flag`, at most `SLUG_CHARS` long, cut at
    a word boundary."""
    words = _NOT_SLUG.sub("-", title.lower()).strip("-")
    if len(words) > SLUG_CHARS:
        words = words[:SLUG_CHARS].rsplit("-", 1)[0] or words[:SLUG_CHARS]
    return words or "task"


def read_task_file(path: Path) -> Issue:
    """A markdown task: the first non-blank line is the title (`#`s stripped), the rest the
    text. Its number is 0: a local task has none."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the task file {path}: {exc}") from None
    lines = text.strip().splitlines()
    if not lines:
        raise UsageError(f"the task file {path} is empty")
    title = lines[0].lstrip("#").strip()
    if not title:
        raise UsageError(f"the task file {path} has no title on its first line")
    return Issue(0, title, "\n".join(lines[1:]).strip(), str(path))


def branch_for(issue: Issue, from_file: bool) -> str:
    if from_file:
        return f"acb/task-{slug(issue.title)}"
    return f"acb/issue-{issue.number}-{slug(issue.title)}"


def task_text(issue: Issue, from_file: bool) -> str:
    """What the run is asked: the issue as written, with where it came from."""
    if from_file:
        head = f"{issue.title}\n\n{issue.body}".strip()
        return f"{head}\n\n(Task from {issue.web_url}.)"
    body = issue.body.strip() or "(the issue has no description)"
    return (
        f"Resolve issue #{issue.number}: {issue.title}\n\n{body}\n\n"
        f"(Issue: {issue.web_url}. Make the change, with tests where the project has them.)"
    )
