"""The autopilot page's data: per workspace, whether the loop is paused, each task's state and
the decisions taken on it (the ledger's autopilot tables, read-only like every page).

Task titles, reasons and fix texts come from task files, issues and the monitor's diagnosis:
they are shown autoescaped and redacted, never trusted. The states that wait on a person come
first, since they are why someone opens this page.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# autopilot.state's groups of states: the layers keep the dashboard from importing autopilot,
# and tests/test_serve_autopilot.py keeps these in step with it.
WAITING_ON_PEOPLE = ("awaiting-approval", "needs-person", "awaiting-deploy", "pr-open")
FINISHED = ("merged", "branch-ready", "rejected", "deployed", "rolled-back")
UNDER_WAY = ("running", "releasing", "watching", "rolling-back")

TRANSITIONS_PER_WORKSPACE = 500
TASK_FIELDS = (
    "id",
    "title",
    "state",
    "attempts",
    "branch",
    "run_id",
    "commit_sha",
    "verification",
    "cost_usd",
    "reason",
    "updated_at",
    "deploy",
    "release_sha",
    "previous_sha",
    "releases",
    "change_url",
)
"""What the page shows of a task (a fix task's whole text stays in the ledger and its run)."""


@dataclass
class Workspace:
    workspace: str
    paused: bool = False
    paused_reason: str = ""
    tasks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def waiting(self) -> int:
        return sum(task["state"] in WAITING_ON_PEOPLE for task in self.tasks)

    @property
    def active(self) -> bool:
        """Something may change while the page is open: a run or a release under way."""
        return any(task["state"] in UNDER_WAY for task in self.tasks)


def _order(task: dict[str, Any]) -> tuple[int, float]:
    state = task["state"]
    rank = 0 if state in WAITING_ON_PEOPLE else 1 if state not in FINISHED else 2
    return rank, -float(task.get("updated_at") or 0)


def autopilot_workspaces(
    reading: Callable[[], Any], clean: Callable[[Any], Any]
) -> list[Workspace]:
    """Every workspace autopilot has worked in, its tasks (people's first, then newest) each
    with its decisions in order; `clean` redacts what is shown."""
    with reading() as db:
        try:
            tasks = db.execute("SELECT * FROM autopilot_tasks").fetchall()
            control = db.execute("SELECT workspace, paused, reason FROM autopilot_control")
            paused = {row["workspace"]: (bool(row["paused"]), row["reason"]) for row in control}
            transitions = _transitions(db, {row["workspace"] for row in tasks})
        except sqlite3.OperationalError:  # a ledger from before autopilot existed
            return []
    found: dict[str, Workspace] = {}
    for row in tasks:
        record = dict(row)
        name = str(record["workspace"])
        entry = found.setdefault(name, Workspace(name, *paused.get(name, (False, ""))))
        shown = {key: record.get(key) for key in TASK_FIELDS}
        if not str(shown.get("change_url") or "").startswith(("https://", "http://")):
            shown["change_url"] = None  # an href: never a javascript: or data: URL
        shown["decisions"] = transitions.get((name, str(record["id"])), [])
        entry.tasks.append(clean(shown))
    for entry in found.values():
        entry.tasks.sort(key=_order)
        entry.workspace = str(clean(entry.workspace))
        entry.paused_reason = str(clean(entry.paused_reason))
    return sorted(found.values(), key=lambda w: (-w.waiting, w.workspace))


def _transitions(
    db: sqlite3.Connection, workspaces: set[str]
) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """The newest decisions of each workspace, grouped by task, oldest first."""
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for workspace in sorted(workspaces):
        rows = db.execute(
            "SELECT task_id, at, from_state, to_state, run_id, reason FROM autopilot_transitions"
            " WHERE workspace = ? ORDER BY seq DESC LIMIT ?",
            (workspace, TRANSITIONS_PER_WORKSPACE),
        ).fetchall()
        for row in reversed(rows):
            decision = dict(row)
            grouped.setdefault((workspace, str(decision.pop("task_id"))), []).append(decision)
    return grouped
