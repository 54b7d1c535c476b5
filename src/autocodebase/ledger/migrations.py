"""Numbered, tiny schema migrations; `PRAGMA user_version` records how far a database has come."""

from __future__ import annotations

import sqlite3

MIGRATIONS: list[str] = [
    # 1: runs and their events
    """
    CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        started_at REAL NOT NULL,
        finished_at REAL,
        task TEXT NOT NULL,
        model TEXT NOT NULL,
        workspace TEXT NOT NULL,
        settings TEXT NOT NULL,
        sandbox TEXT NOT NULL,
        acb_version TEXT NOT NULL,
        outcome TEXT,
        exit_code INTEGER,
        steps INTEGER,
        input_tokens INTEGER,
        output_tokens INTEGER,
        cost_usd REAL,
        final_message TEXT,
        error TEXT,
        diff TEXT
    );
    CREATE TABLE events (
        run_id TEXT NOT NULL REFERENCES runs(id),
        seq INTEGER NOT NULL,
        ts REAL NOT NULL,
        type TEXT NOT NULL,
        payload TEXT NOT NULL,
        PRIMARY KEY (run_id, seq)
    );
    CREATE INDEX runs_started ON runs(started_at);
    """,
    # 2: where a run's changes can be undone from, and what it committed
    """
    ALTER TABLE runs ADD COLUMN checkpoint_ref TEXT;
    ALTER TABLE runs ADD COLUMN end_checkpoint_ref TEXT;
    ALTER TABLE runs ADD COLUMN commit_sha TEXT;
    ALTER TABLE runs ADD COLUMN branch TEXT;
    """,
    # 3: deployments (acb deploy), so the audit trail runs from the prompt to production
    """
    CREATE TABLE releases (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        workspace TEXT NOT NULL,
        sha TEXT NOT NULL,
        target TEXT NOT NULL,
        outcome TEXT NOT NULL,
        reason TEXT NOT NULL,
        measured TEXT NOT NULL
    );
    CREATE INDEX releases_workspace ON releases(workspace, at);
    """,
    # 4: what the tests proved of a run's change (verified / partly-verified / unverified)
    """
    ALTER TABLE runs ADD COLUMN verification TEXT;
    ALTER TABLE runs ADD COLUMN verification_detail TEXT;
    """,
    # 5: the dashboard's filters and provenance links, fast on a ledger of many runs
    """
    CREATE INDEX runs_workspace ON runs(workspace, started_at);
    CREATE INDEX runs_model ON runs(model, started_at);
    CREATE INDEX runs_commit ON runs(commit_sha);
    """,
    # 6: `acb tests --forget`: test generation's record starts afresh after this, nothing deleted
    """
    CREATE TABLE testgen_resets (
        at REAL NOT NULL,
        workspace TEXT NOT NULL,
        target TEXT
    );
    """,
    # 7: `acb autopilot`: each task's state and every decision taken on it, so a loop that
    # stopped (a crash, a pause, `--once`) continues where it was
    """
    CREATE TABLE autopilot_tasks (
        workspace TEXT NOT NULL,
        id TEXT NOT NULL,
        title TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        base TEXT,
        branch TEXT NOT NULL,
        worktree TEXT,
        run_id TEXT,
        commit_sha TEXT,
        verification TEXT,
        cost_usd REAL NOT NULL DEFAULT 0,
        reason TEXT NOT NULL DEFAULT '',
        updated_at REAL NOT NULL,
        PRIMARY KEY (workspace, id)
    );
    CREATE TABLE autopilot_transitions (
        seq INTEGER PRIMARY KEY,
        workspace TEXT NOT NULL,
        task_id TEXT NOT NULL,
        at REAL NOT NULL,
        from_state TEXT,
        to_state TEXT NOT NULL,
        run_id TEXT,
        reason TEXT NOT NULL
    );
    CREATE INDEX autopilot_transitions_task ON autopilot_transitions(workspace, task_id, seq);
    CREATE TABLE autopilot_control (
        workspace TEXT PRIMARY KEY,
        paused INTEGER NOT NULL,
        at REAL NOT NULL,
        reason TEXT NOT NULL DEFAULT ''
    );
    """,
    # 8: autopilot releases what it merged and watches it: the deploy policy a task was worked
    # under, the commit released and the one live before it (the rollback target and the
    # start of the commit range a diagnosis names), how many times it was released, and the
    # fix tasks autopilot itself queues (their text lives here, not in a task file)
    """
    ALTER TABLE autopilot_tasks ADD COLUMN deploy TEXT;
    ALTER TABLE autopilot_tasks ADD COLUMN release_sha TEXT;
    ALTER TABLE autopilot_tasks ADD COLUMN previous_sha TEXT;
    ALTER TABLE autopilot_tasks ADD COLUMN releases INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE autopilot_tasks ADD COLUMN fixes TEXT;
    ALTER TABLE autopilot_tasks ADD COLUMN text TEXT;
    ALTER TABLE autopilot_tasks ADD COLUMN test TEXT;
    """,
    # 9: autopilot works forge issues (`--source github|gitlab`): which forge a task came from,
    # and the pull/merge request it opened in place of a local merge
    """
    ALTER TABLE autopilot_tasks ADD COLUMN forge TEXT;
    ALTER TABLE autopilot_tasks ADD COLUMN change_number INTEGER;
    ALTER TABLE autopilot_tasks ADD COLUMN change_url TEXT;
    """,
]


def migrate(connection: sqlite3.Connection) -> None:
    """Bring the schema up to date; each step is its own transaction."""
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        with connection:
            connection.executescript(f"BEGIN; {script}; PRAGMA user_version = {number};")
