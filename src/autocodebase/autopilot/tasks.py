"""Where autopilot's tasks come from: a `Source`, and the local queue that is the first one.

The local queue is `.acb/tasks/*.md` (one task a file, its id the file's name) and
`.acb/tasks.toml` (`[[task]]` tables), read in that order; markdown files in name order, so
`01-...md` runs before `02-...md`. A markdown task:

    ---
    test: python -m pytest -q tests/test_words.py
    ---
    # Add longest_word

    What to do, in as many lines as it takes.

The front matter is optional and holds one key, `test`: the acceptance command, which becomes
the run's test command. The title is the first line (`#`s dropped), the text the rest. Any
mistake is one line naming the file and what is wrong.

Forge sources (open issues with a label on GitHub/GitLab) are in `forge_tasks.py`; the loop asks
a source only for its tasks, so they plug in beside this one.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from autocodebase.errors import UsageError

TASKS_DIR = Path(".acb/tasks")
TASKS_TOML = Path(".acb/tasks.toml")
TASK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
"""Ids become branch names (`acb/task-<id>`): letters, digits, `-` and `_`, at most 64."""
FRONT_MATTER_KEYS = ("test",)
TOML_KEYS = ("id", "title", "text", "test")


class TaskFileError(UsageError):
    """A task file that cannot be read as a task (one line: the file and what is wrong)."""


@dataclass(frozen=True)
class Task:
    id: str
    title: str
    text: str
    test: str | None
    """The acceptance command (the run's test command); None: the project's own tests."""
    origin: str
    """Where it was written (`.acb/tasks/x.md`, `.acb/tasks.toml`, an issue's URL), for people
    and the run."""
    forge: str | None = None
    """`github` or `gitlab` for an issue's task (its branch is pushed and a pull/merge request
    opened in place of a local merge); None for the local queue."""
    number: int | None = None
    """The issue's number (GitLab: its iid), for `Closes #N`."""

    @property
    def branch(self) -> str:
        return f"acb/task-{self.id}"


class Source(Protocol):
    """Where tasks come from: the local queue, or a forge's issues with a label."""

    name: str

    def tasks(self) -> list[Task]:
        """Every task the source holds now, in the order they should be worked."""
        ...


class LocalTasks:
    """`.acb/tasks/*.md` and `.acb/tasks.toml` in the repository at `root`."""

    name = "tasks"

    def __init__(self, root: Path):
        self.root = root

    def tasks(self) -> list[Task]:
        found: list[Task] = []
        folder = self.root / TASKS_DIR
        if folder.is_dir():
            found += [read_markdown(path, self.root) for path in sorted(folder.glob("*.md"))]
        if (self.root / TASKS_TOML).is_file():
            found += read_toml(self.root / TASKS_TOML, self.root)
        seen: dict[str, str] = {}
        for task in found:
            if task.id in seen:
                raise TaskFileError(
                    f"{task.origin}: task id {task.id!r} is also used by {seen[task.id]}"
                )
            seen[task.id] = task.origin
        return found


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _check_id(task_id: str, where: str, what: str) -> str:
    if not TASK_ID.fullmatch(task_id):
        raise TaskFileError(
            f"{where}: {what} {task_id!r} is not a task id (letters, digits, '-' and '_', "
            "at most 64)"
        )
    return task_id


def _check_test(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or "\n" in value.strip():
        raise TaskFileError(f"{where}: 'test' must be one command line")
    return value.strip()


def read_markdown(path: Path, root: Path) -> Task:
    """One markdown task file; its id is the file's name without `.md`."""
    where = _shown(path, root)
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TaskFileError(f"{where}: cannot be read: {exc}") from None
    task_id = _check_id(path.stem, where, "the file name")
    fields, body = _front_matter(raw, where)
    lines = body.strip().splitlines()
    if not lines:
        raise TaskFileError(f"{where}: the task is empty (its first line is the title)")
    title = lines[0].lstrip("#").strip()
    if not title:
        raise TaskFileError(f"{where}: the first line is the title, and it is empty")
    text = "\n".join(lines[1:]).strip()
    return Task(task_id, title, text, _check_test(fields.get("test"), where), where)


def _front_matter(raw: str, where: str) -> tuple[dict[str, str], str]:
    """(`key: value` pairs, the rest) of a file that opens with a `---` line."""
    lines = raw.lstrip("\ufeff").splitlines()
    if not lines or lines[0].strip() != "---":
        return {}, raw
    try:
        end = next(n for n, line in enumerate(lines[1:], start=1) if line.strip() == "---")
    except StopIteration:
        raise TaskFileError(f"{where}: the front matter opened by '---' is never closed") from None
    fields: dict[str, str] = {}
    for number, line in enumerate(lines[1:end], start=2):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, colon, value = line.partition(":")
        key = key.strip()
        if not colon or not key:
            raise TaskFileError(f"{where}:{number}: front matter lines are 'key: value'")
        if key not in FRONT_MATTER_KEYS:
            known = ", ".join(FRONT_MATTER_KEYS)
            raise TaskFileError(f"{where}:{number}: unknown key {key!r} (known: {known})")
        fields[key] = value.strip()
    return fields, "\n".join(lines[end + 1 :])


def read_toml(path: Path, root: Path) -> list[Task]:
    """`.acb/tasks.toml`: `[[task]]` tables with `id`, `title`, `text` and optional `test`."""
    where = _shown(path, root)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise TaskFileError(f"{where}: {exc}") from None
    unknown = sorted(set(data) - {"task"})
    if unknown:
        raise TaskFileError(f"{where}: unknown table or key {unknown[0]!r} (tasks are [[task]])")
    entries = data.get("task", [])
    if not isinstance(entries, list):
        raise TaskFileError(f"{where}: 'task' must be an array of tables ([[task]])")
    tasks = []
    for number, entry in enumerate(entries, start=1):
        at = f"{where}: task {number}"
        if not isinstance(entry, dict):
            raise TaskFileError(f"{at}: each task is a table ([[task]])")
        extra = sorted(set(entry) - set(TOML_KEYS))
        if extra:
            raise TaskFileError(f"{at}: unknown key {extra[0]!r} (known: {', '.join(TOML_KEYS)})")
        for key in ("id", "title", "text"):
            if not isinstance(entry.get(key), str) or not entry[key].strip():
                raise TaskFileError(f"{at}: {key!r} is missing or not a non-empty string")
        task_id = _check_id(entry["id"].strip(), at, "id")
        test = _check_test(entry.get("test"), at)
        tasks.append(Task(task_id, entry["title"].strip(), entry["text"].strip(), test, where))
    return tasks
