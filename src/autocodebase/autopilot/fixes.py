"""The fix task autopilot queues when a release it made is rolled back: a task like any other,
whose text carries the diagnosis, so the run that fixes it starts from what was seen, not
from a guess: what the monitor (or acb deploy's own checks) found, which release it was, and
the commits that release added over the one that was live before it.

The commit subjects come from the repository (runs wrote them), so they are treated as text
for a model and nothing else: control characters dropped, lines and their number capped.
Nothing here is ever run.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path

from autocodebase.autopilot.state import TaskRecord
from autocodebase.autopilot.tasks import Task
from autocodebase.vcs.git import GitError, git_text

MAX_COMMITS = 20
MAX_LINE = 160
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def fix_id(task_id: str, taken: Collection[str]) -> str:
    """`fix-<task>` (a task id: at most 64 characters), numbered when that is taken."""
    stem = f"fix-{task_id}"[:60]
    candidate, number = stem, 2
    while candidate in taken:
        candidate, number = f"{stem}-{number}", number + 1
    return candidate


def commit_range(root: Path, previous: str | None, release: str) -> tuple[str, list[str]]:
    """(the range as people write it, its commits one line each, newest first)."""
    spec = f"{previous}..{release}" if previous else release
    first = f"{release[:12]} (the first release)"
    shown = f"{previous[:12]}..{release[:12]}" if previous else first
    try:
        log = git_text(root, "log", "--no-decorate", "--format=%h %s", f"-n{MAX_COMMITS}", spec)
    except GitError:
        return shown, []
    lines = [_CONTROL.sub("", line)[:MAX_LINE] for line in log.splitlines() if line.strip()]
    return shown, lines


def fix_task(
    root: Path, record: TaskRecord, diagnosis: str, how: str, taken: Collection[str]
) -> Task:
    """The fix task for `record`, whose release (`record.release_sha`) was rolled back."""
    assert record.release_sha is not None
    release = record.release_sha
    shown, commits = commit_range(root, record.previous_sha, release)
    listing = "\n".join(f"- {line}" for line in commits) or "- (the commits could not be listed)"
    more = f"\n(only the newest {MAX_COMMITS} are shown)" if len(commits) >= MAX_COMMITS else ""
    before = (
        f"release {record.previous_sha[:12]}, which serves again"
        if record.previous_sha
        else "no earlier release"
    )
    text = (
        f"Release {release[:12]} (task {record.id}: {record.title}) passed its tests and was "
        f"deployed, then rolled back ({how}) because of what was seen in production:\n\n"
        f"{_CONTROL.sub('', diagnosis)[:2000]}\n\n"
        f"It went out over {before}. The commits it added ({shown}):\n{listing}{more}\n\n"
        "Find the cause in these commits and fix it. The project's tests passed with the "
        "regression, so they do not cover it: add a test that fails without the fix."
    )
    title = f"Fix the regression that rolled back {record.id}"
    origin = f"autopilot: fix for {record.id}"
    return Task(fix_id(record.id, taken), title, text, record.test, origin)
