"""Autopilot's memory: each task's state and every transition, in the run ledger.

A task moves `queued` → `running` → one of `merged`, `awaiting-approval`, `branch-ready`,
`needs-person`; a person moves `awaiting-approval` (or `needs-person`) on with `approve` or
`reject`. With a deploy policy a merged task goes on: `awaiting-deploy` (a person approves the
release) or `releasing` → `watching` → `deployed`, or → `rolling-back` → `rolled-back` with a
fix task queued beside it (docs/autopilot.md draws the whole machine). A forge issue's task
goes from `running` to `pr-open` (its pull/merge request opened) and from there to `merged`
(approved on the forge and merged through its API) or `rejected` (closed without a merge).

Each move is a conditional UPDATE (`WHERE state IN (...)`), so two processes cannot both take
the same step, and each is recorded in `autopilot_transitions` with the run and the
reason. A loop that finds a task `running` while it holds the workspace's lock knows the
process that started it is gone (`recover`).
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from autocodebase.autopilot.tasks import Task
from autocodebase.errors import UsageError

QUEUED: Final = "queued"
RUNNING: Final = "running"
AWAITING: Final = "awaiting-approval"
MERGED: Final = "merged"
BRANCH_READY: Final = "branch-ready"
NEEDS_PERSON: Final = "needs-person"
REJECTED: Final = "rejected"
AWAITING_DEPLOY: Final = "awaiting-deploy"
RELEASING: Final = "releasing"
WATCHING: Final = "watching"
ROLLING_BACK: Final = "rolling-back"
DEPLOYED: Final = "deployed"
ROLLED_BACK: Final = "rolled-back"
CHANGE_OPEN: Final = "pr-open"
"""A forge task's pull/merge request is open, waiting for its approval on the forge (or, with
`--merge auto`, for the forge to call it mergeable)."""
STATES: Final = (
    QUEUED, RUNNING, AWAITING, MERGED, BRANCH_READY, NEEDS_PERSON, REJECTED,
    AWAITING_DEPLOY, RELEASING, WATCHING, ROLLING_BACK, DEPLOYED, ROLLED_BACK, CHANGE_OPEN,
)  # fmt: skip
WAITING_ON_PEOPLE: Final = (AWAITING, NEEDS_PERSON, AWAITING_DEPLOY, CHANGE_OPEN)
FINISHED: Final = (MERGED, BRANCH_READY, REJECTED, DEPLOYED, ROLLED_BACK)
IN_FLIGHT: Final = (RELEASING, WATCHING, ROLLING_BACK)
"""A release under way: the pass that finds one (after a crash, or a person's approval of a
release) carries it on from what is live, never from the start."""


@dataclass(frozen=True)
class TaskRecord:
    id: str
    title: str
    state: str
    attempts: int
    base: str | None
    branch: str
    worktree: str | None
    run_id: str | None
    commit_sha: str | None
    verification: str | None
    cost_usd: float
    reason: str
    updated_at: float
    deploy: str | None = None
    """The deploy policy the task was worked under (ask/auto/never): `approve` follows it."""
    release_sha: str | None = None
    """The commit its release is of: the base branch's head right after its merge."""
    previous_sha: str | None = None
    """What was live when it was released: the rollback target, and where the commit range a
    fix task is given starts."""
    releases: int = 0
    """Times it was released (a release interrupted by a crash is tried once more)."""
    fixes: str | None = None
    """For a fix task autopilot queued: the task whose release was rolled back."""
    text: str | None = None
    """A fix task's text (tasks from files keep theirs in the file)."""
    test: str | None = None
    """A fix task's acceptance command (the rolled-back task's)."""
    forge: str | None = None
    """`github`/`gitlab` for an issue's task: its approval is its pull request's, on the forge."""
    change_number: int | None = None
    """The pull/merge request opened for it (GitHub's number, GitLab's iid)."""
    change_url: str | None = None

    def as_task(self) -> Task:
        """A task autopilot queued itself (a fix), as the loop works it."""
        origin = f"autopilot: fix for {self.fixes}" if self.fixes else "autopilot"
        return Task(self.id, self.title, self.text or "", self.test, origin)


@dataclass(frozen=True)
class Transition:
    at: float
    from_state: str | None
    to_state: str
    run_id: str | None
    reason: str


class AutopilotState:
    """The autopilot tables for one repository (`workspace`: its root)."""

    def __init__(self, connection: sqlite3.Connection, workspace: Path):
        self.connection = connection
        self.workspace = str(workspace)

    # -- tasks ---------------------------------------------------------------------------

    def sync(self, tasks: Iterable[Task]) -> list[str]:
        """Record tasks seen for the first time as queued (their titles kept current); the
        ids that are new."""
        added = []
        with self._transaction():
            for task in tasks:
                current = self.get(task.id)
                if current is None:
                    self.connection.execute(
                        "INSERT INTO autopilot_tasks (workspace, id, title, state, branch,"
                        " reason, updated_at, forge) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            self.workspace,
                            task.id,
                            task.title,
                            QUEUED,
                            task.branch,
                            f"found in {task.origin}",
                            time.time(),
                            task.forge,
                        ),
                    )
                    self._log(task.id, None, QUEUED, None, f"found in {task.origin}")
                    added.append(task.id)
                elif current.fixes is None and current.title != task.title:
                    self.connection.execute(
                        "UPDATE autopilot_tasks SET title=? WHERE workspace=? AND id=?",
                        (task.title, self.workspace, task.id),
                    )
        return added

    def _add_fix(self, fix: Task, fixes: str) -> None:
        why = f"queued by autopilot: the release of {fixes} was rolled back"
        self.connection.execute(
            "INSERT INTO autopilot_tasks (workspace, id, title, state, branch, reason,"
            " updated_at, fixes, text, test) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                self.workspace, fix.id, fix.title, QUEUED, fix.branch, why, time.time(),
                fixes, fix.text, fix.test,
            ),
        )  # fmt: skip
        self._log(fix.id, None, QUEUED, None, why)

    def queued_fixes(self) -> list[Task]:
        """Fix tasks waiting to be worked, oldest first: they go before the source's tasks."""
        return [
            r.as_task()
            for r in self.all()
            if r.fixes is not None and r.text is not None and r.state == QUEUED
        ]

    def get(self, task_id: str) -> TaskRecord | None:
        row = self.connection.execute(
            f"SELECT {_COLUMNS} FROM autopilot_tasks WHERE workspace=? AND id=?",  # noqa: S608
            (self.workspace, task_id),
        ).fetchone()
        return TaskRecord(*row) if row is not None else None

    def require(self, task_id: str) -> TaskRecord:
        found = self.get(task_id)
        if found is None:
            raise UsageError(f"no autopilot task {task_id!r} here (see `acb autopilot status`)")
        return found

    def all(self) -> list[TaskRecord]:
        rows = self.connection.execute(
            f"SELECT {_COLUMNS} FROM autopilot_tasks WHERE workspace=? ORDER BY rowid",  # noqa: S608
            (self.workspace,),
        ).fetchall()
        return [TaskRecord(*row) for row in rows]

    def move(
        self,
        task_id: str,
        allowed_from: Iterable[str],
        to: str,
        reason: str,
        **fields: Any,
    ) -> bool:
        """Move the task to `to` if it is in one of `allowed_from`, setting `fields` too;
        False (nothing changed) when it was not."""
        with self._transaction():
            return self._move(task_id, allowed_from, to, reason, **fields)

    def move_and_queue_fix(
        self, task_id: str, allowed_from: Iterable[str], to: str, reason: str, fix: Task
    ) -> bool:
        """`move`, and queue `fix` (a fix task for `task_id`) in the same transaction: a
        rollback is never recorded without the fix it asked for, nor a fix without it."""
        with self._transaction():
            if not self._move(task_id, allowed_from, to, reason):
                return False
            self._add_fix(fix, task_id)
        return True

    def _move(
        self, task_id: str, allowed_from: Iterable[str], to: str, reason: str, **fields: Any
    ) -> bool:
        """`move` inside the caller's transaction."""
        allowed = tuple(allowed_from)
        current = self.get(task_id)
        if current is None or current.state not in allowed:
            return False
        columns = {"state": to, "reason": reason, "updated_at": time.time(), **fields}
        if not set(columns) <= set(_COLUMN_NAMES):  # names from code, never from input
            raise ValueError(f"not columns: {sorted(set(columns) - set(_COLUMN_NAMES))}")
        assignments = ", ".join(f"{name}=?" for name in columns)
        marks = ", ".join("?" for _ in allowed)
        done = self.connection.execute(
            f"UPDATE autopilot_tasks SET {assignments} WHERE workspace=? AND id=?"  # noqa: S608
            f" AND state IN ({marks})",
            (*columns.values(), self.workspace, task_id, *allowed),
        )
        if done.rowcount != 1:
            return False
        run_id = fields.get("run_id", current.run_id)
        self._log(task_id, current.state, to, run_id, reason)
        return True

    def add_cost(self, task_id: str, cost: float) -> None:
        self.connection.execute(
            "UPDATE autopilot_tasks SET cost_usd = cost_usd + ? WHERE workspace=? AND id=?",
            (cost, self.workspace, task_id),
        )

    def history(self, task_id: str) -> list[Transition]:
        rows = self.connection.execute(
            "SELECT at, from_state, to_state, run_id, reason FROM autopilot_transitions"
            " WHERE workspace=? AND task_id=? ORDER BY seq",
            (self.workspace, task_id),
        ).fetchall()
        return [Transition(*row) for row in rows]

    def _log(
        self, task_id: str, before: str | None, after: str, run_id: str | None, reason: str
    ) -> None:
        self.connection.execute(
            "INSERT INTO autopilot_transitions (workspace, task_id, at, from_state, to_state,"
            " run_id, reason) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (self.workspace, task_id, time.time(), before, after, run_id, reason),
        )

    # -- pause ---------------------------------------------------------------------------

    def paused(self) -> str | None:
        """Why the autopilot is paused here, or None when it is not."""
        row = self.connection.execute(
            "SELECT paused, reason FROM autopilot_control WHERE workspace=?", (self.workspace,)
        ).fetchone()
        if row is None or not row[0]:
            return None
        return str(row[1]) or "paused"

    def set_paused(self, paused: bool, reason: str) -> None:
        self.connection.execute(
            "INSERT INTO autopilot_control (workspace, paused, at, reason) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(workspace) DO UPDATE SET paused=excluded.paused, at=excluded.at,"
            " reason=excluded.reason",
            (self.workspace, int(paused), time.time(), reason),
        )

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction (the ledger's connection is in autocommit mode): a move and
        its record land together or not at all."""
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        self.connection.execute("COMMIT")


_COLUMN_NAMES = (
    "id", "title", "state", "attempts", "base", "branch", "worktree", "run_id", "commit_sha",
    "verification", "cost_usd", "reason", "updated_at", "deploy", "release_sha", "previous_sha",
    "releases", "fixes", "text", "test", "forge", "change_number", "change_url",
)  # fmt: skip
"""`TaskRecord`'s fields in order: the only names a query here is built from."""
_COLUMNS = ", ".join(_COLUMN_NAMES)
