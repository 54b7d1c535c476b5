"""What the dashboard reads from the ledger: paginated, filtered, read-only.

Every request opens its own read-only connection (`mode=ro`): the dashboard can never change
the record it shows, and a run being written meanwhile (WAL) is read as far as it has come.
Filters are bound parameters, never formatted into SQL; pages are LIMIT/OFFSET over the
`started_at` index, so a ledger of 10,000 runs costs a page, not a table.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, get_args
from urllib.parse import quote

from autocodebase.events import Outcome
from autocodebase.ledger.store import connect

OUTCOMES = (*get_args(Outcome), "running")
"""`running`: no outcome recorded yet (running now, or killed before it could say)."""
VERIFICATIONS = ("verified", "partly-verified", "unverified")
MAX_PAGE = 100_000
SHOWN_EVENTS = 2_000
"""A run page shows the first and the last this many events; the API and `acb runs show`
have them all."""
RUN_COLUMNS = (
    "id, started_at, finished_at, task, model, workspace, outcome, exit_code, steps,"
    " input_tokens, output_tokens, cost_usd, verification, commit_sha, branch"
)


class BadFilter(ValueError):
    """A filter value the dashboard cannot use (shown to the person, never a 500)."""


@dataclass(frozen=True)
class RunFilter:
    repository: str = ""
    outcome: str = ""
    model: str = ""
    verification: str = ""
    since: str = ""
    """A date, YYYY-MM-DD, inclusive."""
    until: str = ""
    """A date, YYYY-MM-DD, inclusive."""
    page: int = 1
    per_page: int = 50

    @classmethod
    def from_query(cls, query: dict[str, str]) -> RunFilter:
        try:
            page = max(1, int(query.get("page") or 1))
            per_page = min(200, max(1, int(query.get("per_page") or 50)))
        except ValueError as exc:
            raise BadFilter("page and per_page are numbers") from exc
        if page > MAX_PAGE:
            raise BadFilter(f"page is at most {MAX_PAGE:,}")
        chosen = cls(
            repository=query.get("repository", ""),
            outcome=query.get("outcome", ""),
            model=query.get("model", ""),
            verification=query.get("verification", ""),
            since=query.get("since", ""),
            until=query.get("until", ""),
            page=page,
            per_page=per_page,
        )
        if chosen.outcome and chosen.outcome not in OUTCOMES:
            raise BadFilter(f"unknown outcome {chosen.outcome!r}")
        if chosen.verification and chosen.verification not in VERIFICATIONS:
            raise BadFilter(f"unknown verification {chosen.verification!r}")
        for day in (chosen.since, chosen.until):
            if day:
                _day_start(day)
        return chosen

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        values: list[Any] = []
        if self.repository:
            clauses.append("workspace = ?")
            values.append(self.repository)
        if self.outcome == "running":
            clauses.append("outcome IS NULL")
        elif self.outcome:
            clauses.append("outcome = ?")
            values.append(self.outcome)
        if self.model:
            clauses.append("model = ?")
            values.append(self.model)
        if self.verification:
            clauses.append("verification = ?")
            values.append(self.verification)
        if self.since:
            clauses.append("started_at >= ?")
            values.append(_day_start(self.since))
        if self.until:
            clauses.append("started_at < ?")
            values.append(_day_start(self.until) + 86400)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", values

    def query(self, **changes: Any) -> dict[str, str]:
        """The filter as query parameters (for links to other pages of the same list)."""
        values = {**vars(self), **changes}
        return {k: str(v) for k, v in values.items() if v not in ("", None)}


def _day_start(day: str) -> float:
    try:
        return datetime.strptime(day, "%Y-%m-%d").astimezone().timestamp()
    except ValueError as exc:
        raise BadFilter(f"not a date (YYYY-MM-DD): {day!r}") from exc


@dataclass
class RunPage:
    runs: list[dict[str, Any]]
    total: int
    chosen: RunFilter
    repositories: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.chosen.per_page))


class Ledger:
    """The ledger at `path`, opened read-only for each use."""

    def __init__(self, path: Path):
        self.path = path
        # Once, writable: creates a missing ledger and brings its schema (and the indexes the
        # filters use) up to date; every read afterwards is read-only.
        connect(path).close()

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        uri = f"file:{quote(str(self.path))}?mode=ro"
        connection = sqlite3.connect(uri, uri=True, timeout=10)
        connection.row_factory = sqlite3.Row
        try:
            yield connection
        finally:
            connection.close()

    def runs(self, chosen: RunFilter) -> RunPage:
        where, values = chosen.where()
        offset = (chosen.page - 1) * chosen.per_page
        with self.reading() as db:
            total = db.execute(f"SELECT COUNT(*) FROM runs{where}", values).fetchone()[0]  # noqa: S608 - clauses are ours, values bound
            rows = db.execute(
                f"SELECT {RUN_COLUMNS} FROM runs{where} ORDER BY started_at DESC LIMIT ? OFFSET ?",  # noqa: S608
                [*values, chosen.per_page, offset],
            ).fetchall()
            repositories = [r[0] for r in db.execute("SELECT DISTINCT workspace FROM runs")]
            models = [r[0] for r in db.execute("SELECT DISTINCT model FROM runs")]
        return RunPage([dict(r) for r in rows], total, chosen, sorted(repositories), sorted(models))

    def run(self, run_id: str) -> dict[str, Any] | None:
        with self.reading() as db:
            row = db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            return None
        record = dict(row)
        record["settings"] = json.loads(record["settings"])
        return record

    def events(self, run_id: str, after: int = -1) -> list[dict[str, Any]]:
        """The run's events with `seq` above `after`, in order."""
        with self.reading() as db:
            rows = db.execute(
                "SELECT payload FROM events WHERE run_id = ? AND seq > ? ORDER BY seq",
                (run_id, after),
            ).fetchall()
        return [json.loads(row[0]) for row in rows]

    def events_shown(self, run_id: str) -> tuple[list[dict[str, Any]], int]:
        """The events a run's page shows: the first and the last `SHOWN_EVENTS`, and how
        many were left out between them (a run of 100,000 events is not one page)."""
        with self.reading() as db:
            count = db.execute("SELECT COUNT(*) FROM events WHERE run_id = ?", (run_id,))
            total = int(count.fetchone()[0])
            if total <= 2 * SHOWN_EVENTS:
                rows = db.execute(
                    "SELECT payload FROM events WHERE run_id = ? ORDER BY seq", (run_id,)
                ).fetchall()
            else:
                rows = db.execute(
                    "SELECT payload FROM (SELECT payload, seq FROM events WHERE run_id = ?"
                    " ORDER BY seq LIMIT ?) UNION ALL SELECT payload FROM (SELECT payload, seq"
                    " FROM events WHERE run_id = ? ORDER BY seq DESC LIMIT ?)",
                    (run_id, SHOWN_EVENTS, run_id, SHOWN_EVENTS),
                ).fetchall()
        events = sorted((json.loads(row[0]) for row in rows), key=lambda e: e["seq"])
        return events, max(0, total - 2 * SHOWN_EVENTS)

    def tool_calls(self, run_id: str, call_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The `tool_call` events with these ids (a live page's new results find their calls)."""
        if not call_ids:
            return {}
        with self.reading() as db:
            rows = db.execute(
                "SELECT payload FROM events WHERE run_id = ? AND type = 'tool_call'", (run_id,)
            ).fetchall()
        calls = (json.loads(row[0]) for row in rows)
        wanted = set(call_ids)
        return {c["call_id"]: c for c in calls if c.get("call_id") in wanted}

    def releases(self, workspace: str = "") -> list[dict[str, Any]]:
        sql = "SELECT id, at, workspace, sha, target, outcome, reason, measured FROM releases"
        values: list[Any] = []
        if workspace:
            sql += " WHERE workspace = ?"
            values.append(workspace)
        with self.reading() as db:
            rows = db.execute(sql + " ORDER BY at DESC LIMIT 500", values).fetchall()
        return [{**dict(r), "measured": json.loads(r["measured"])} for r in rows]

    def runs_by_commit(self, shas: list[str]) -> dict[str, str]:
        """Which run made each of these commits (the provenance page links lines to runs)."""
        if not shas:
            return {}
        marks = ",".join("?" * len(shas))
        with self.reading() as db:
            rows = db.execute(
                f"SELECT commit_sha, id FROM runs WHERE commit_sha IN ({marks})",  # noqa: S608
                shas,
            ).fetchall()
        return {row[0]: row[1] for row in rows}
