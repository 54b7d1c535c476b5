"""Writing and reading the ledger. Events are committed as they happen (WAL mode), so a run that
is killed halfway still leaves a readable record up to its last step."""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autocodebase.errors import UsageError
from autocodebase.ledger.migrations import migrate


def connect(path: Path) -> sqlite3.Connection:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Events reach the ledger from more than one thread (the start checkpoint is taken in
        # one, announcements come from timers); the event bus lets one through at a time.
        connection = sqlite3.connect(
            path, timeout=10, isolation_level=None, check_same_thread=False
        )
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        migrate(connection)
    except (OSError, sqlite3.Error) as exc:
        raise UsageError(f"cannot open the run ledger at {path}: {exc}") from exc
    connection.row_factory = sqlite3.Row
    return connection


class LedgerWriter:
    """An event sink that records one run."""

    def __init__(self, connection: sqlite3.Connection):
        self.connection = connection

    def __call__(self, event: dict[str, Any]) -> None:
        if event.get("transient"):
            return
        kind = event["type"]
        if kind == "run_started":
            self.connection.execute(
                "INSERT INTO runs (id, started_at, task, model, workspace, settings, sandbox,"
                " acb_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    event["run_id"],
                    event["ts"],
                    event["task"],
                    event["model"],
                    event["workspace"],
                    json.dumps(event["settings"]),
                    event["sandbox"],
                    event["acb_version"],
                ),
            )
        self.connection.execute(
            "INSERT INTO events (run_id, seq, ts, type, payload) VALUES (?, ?, ?, ?, ?)",
            (event["run_id"], event["seq"], event["ts"], kind, json.dumps(event)),
        )
        if kind == "checkpoint":
            self.connection.execute(
                "UPDATE runs SET checkpoint_ref=? WHERE id=?", (event["ref"], event["run_id"])
            )
        if kind == "git":
            self.connection.execute(
                "UPDATE runs SET end_checkpoint_ref=?, commit_sha=?, branch=? WHERE id=?",
                (event["end_checkpoint"], event["commit"], event["branch"], event["run_id"]),
            )
        if kind == "run_finished":
            usage = event["usage"]
            self.connection.execute(
                "UPDATE runs SET finished_at=?, outcome=?, exit_code=?, steps=?, input_tokens=?,"
                " output_tokens=?, cost_usd=?, final_message=?, error=?, diff=? WHERE id=?",
                (
                    event["ts"],
                    event["outcome"],
                    event["exit_code"],
                    event["steps"],
                    usage.get("input_tokens", 0),
                    usage.get("output_tokens", 0),
                    event["cost_usd"],
                    event["final_message"],
                    event["error"],
                    event["diff"],
                    event["run_id"],
                ),
            )
            verification = event.get("verification") or {}
            self.connection.execute(
                "UPDATE runs SET verification=?, verification_detail=? WHERE id=?",
                (verification.get("status"), verification.get("detail"), event["run_id"]),
            )


@dataclass(frozen=True)
class RunSummary:
    id: str
    started_at: float
    finished_at: float | None
    task: str
    model: str
    outcome: str | None
    steps: int | None
    cost_usd: float | None
    input_tokens: int | None
    output_tokens: int | None


class LedgerReader:
    def __init__(self, connection: sqlite3.Connection):
        self.connection = connection

    def list_runs(self, limit: int = 20) -> list[RunSummary]:
        rows = self.connection.execute(
            "SELECT id, started_at, finished_at, task, model, outcome, steps, cost_usd,"
            " input_tokens, output_tokens FROM runs ORDER BY started_at DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [RunSummary(**dict(row)) for row in rows]

    def list_runs_in(self, root: Path, limit: int = 20) -> list[RunSummary]:
        """The newest runs whose workspace lies in the repository at `root`."""
        prefix = str(root).rstrip("/")
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = self.connection.execute(
            "SELECT id, started_at, finished_at, task, model, outcome, steps, cost_usd,"
            " input_tokens, output_tokens FROM runs WHERE workspace = ? OR workspace LIKE ?"
            " ESCAPE '\\' ORDER BY started_at DESC LIMIT ?",
            (prefix, escaped + "/%", limit),
        ).fetchall()
        return [RunSummary(**dict(row)) for row in rows]

    def resolve(self, ref: str) -> str:
        """A full run id from an id, a unique prefix of one, or `last`."""
        if ref == "last":
            row = self.connection.execute(
                "SELECT id FROM runs ORDER BY started_at DESC LIMIT 1"
            ).fetchone()
            if row is None:
                raise UsageError("the ledger holds no runs yet")
            return str(row["id"])
        escaped = ref.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = self.connection.execute(
            "SELECT id FROM runs WHERE id LIKE ? ESCAPE '\\' ORDER BY started_at DESC LIMIT 3",
            (escaped + "%",),
        ).fetchall()
        if not rows:
            raise UsageError(f"no run matches {ref!r} (see `acb runs list`)")
        if len(rows) > 1 and rows[0]["id"] != ref:
            raise UsageError(f"{ref!r} matches several runs; give more of the id")
        return str(rows[0]["id"])

    def last_in(self, root: Path) -> str:
        """The newest run whose workspace lies in the repository at `root`."""
        found = self.list_runs_in(root, 1)
        if not found:
            raise UsageError(f"no acb run has worked in {root} (see `acb runs list`)")
        return found[0].id

    def run(self, run_id: str) -> dict[str, Any]:
        row = self.connection.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        record = dict(row)
        record["settings"] = json.loads(record["settings"])
        return record

    def events(self, run_id: str) -> list[dict[str, Any]]:
        rows = self.connection.execute(
            "SELECT payload FROM events WHERE run_id = ? ORDER BY seq", (run_id,)
        ).fetchall()
        return [json.loads(row["payload"]) for row in rows]

    def test_memory(
        self, workspace: Path, limit: int = 500
    ) -> list[tuple[float, str, str, dict[str, Any]]]:
        """`acb tests`' record in `workspace`, newest first, as (time, run id, event type,
        payload): candidates' verdicts, the lessons each generation was given and the mutants
        it left alive; what `testgen_resets` set aside is left out."""
        resets = self.connection.execute(
            "SELECT target, MAX(at) FROM testgen_resets WHERE workspace = ? GROUP BY target",
            (str(workspace),),
        ).fetchall()
        since_all = max((at for target, at in resets if target is None), default=0.0)
        since = {target: at for target, at in resets if target is not None}
        rows = self.connection.execute(
            "SELECT e.ts, e.run_id, e.type, e.payload FROM events e JOIN runs r ON r.id = "
            "e.run_id WHERE r.workspace = ? AND e.ts > ? AND e.type IN ('test_candidate', "
            "'test_lessons', 'mutants_survived') ORDER BY e.ts DESC, e.seq DESC LIMIT ?",
            (str(workspace), since_all, limit),
        ).fetchall()
        found = []
        for ts, run_id, kind, payload in rows:
            record = json.loads(payload)
            if ts > since.get(str(record.get("target")), 0.0):
                found.append((float(ts), str(run_id), str(kind), record))
        return found


def forget_test_memory(
    connection: sqlite3.Connection, workspace: Path, targets: list[str] | None
) -> None:
    """`acb tests --forget`: the record before now no longer teaches (for `targets`, or all)."""
    now = time.time()
    with connection:
        chosen: list[str | None] = list(targets) if targets else [None]
        for target in chosen:
            connection.execute(
                "INSERT INTO testgen_resets (at, workspace, target) VALUES (?, ?, ?)",
                (now, str(workspace), target),
            )


def record_release(
    connection: sqlite3.Connection, workspace: Path, release: dict[str, Any], target: str
) -> None:
    """One deployment decision (live, rolled-back, failed) with what was measured."""
    connection.execute(
        "INSERT INTO releases (at, workspace, sha, target, outcome, reason, measured) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            time.time(),
            str(workspace),
            release["sha"],
            target,
            release["outcome"],
            release.get("reason", ""),
            json.dumps(release.get("measured", {})),
        ),
    )


def releases(connection: sqlite3.Connection, workspace: Path) -> list[dict[str, Any]]:
    rows = connection.execute(
        "SELECT at, sha, target, outcome, reason, measured FROM releases "
        "WHERE workspace = ? ORDER BY at",
        (str(workspace),),
    ).fetchall()
    return [{**dict(row), "measured": json.loads(row["measured"])} for row in rows]
