"""The ledger as a record: written as events happen, secrets redacted, readable by `acb runs`."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from autocodebase.agent.runner import RunRequest, execute
from autocodebase.cli.main import main
from autocodebase.config import load_settings
from autocodebase.models.cassette import ScriptedModel
from tests.fakes.mock_server import Fault, Reply
from tests.helpers import kill_exec_after, reply, run_acb

SECRET = "sk-proj-SECRETSECRETSECRET0123456789"


def run_scripted(repo: Path, script: list, task: str = "do it") -> str:
    settings = load_settings(repo)
    run_id, _ = execute(RunRequest(task, repo, settings, ScriptedModel(script, "scripted/t")))
    return run_id


def test_secrets_never_reach_the_ledger(
    wordstats_repo: Path, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    (wordstats_repo / "secrets.env").write_text(f"KEY={SECRET}\nGH=ghp_{'b' * 36}\n")
    run_scripted(
        wordstats_repo,
        [
            reply(
                "", ("shell", {"command": "cat secrets.env; echo env:${OPENAI_API_KEY:-stripped}"})
            ),
            reply(f"I saw {SECRET}"),
        ],
        task=f"use key {SECRET}",
    )
    raw = b"".join(
        p.read_bytes() for p in isolated_home.iterdir() if p.name.startswith("ledger.db")
    )
    assert raw, "the ledger was written"
    assert SECRET.encode() not in raw and b"ghp_bbbb" not in raw
    connection = sqlite3.connect(isolated_home / "ledger.db")
    payloads = " ".join(row[0] for row in connection.execute("SELECT payload FROM events"))
    assert "[REDACTED:OPENAI_API_KEY]" in payloads
    assert "env:stripped" in payloads  # the key was not even passed to the command


def test_runs_list_and_show(wordstats_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_id = run_scripted(
        wordstats_repo,
        [
            reply(
                "",
                (
                    "apply_patch",
                    {"patch": "*** Begin Patch\n*** Add File: NOTES.md\n+hello\n*** End Patch"},
                ),
            ),
            reply("Wrote NOTES.md."),
        ],
    )
    with pytest.raises(SystemExit) as exit_info:
        main(["runs", "list"])
    assert exit_info.value.code == 0
    listing = capsys.readouterr().out
    assert run_id in listing and "completed" in listing

    with pytest.raises(SystemExit):
        main(["runs", "show", run_id[:12]])
    story = capsys.readouterr().out
    for expected in (
        "task      do it",
        "[tool call] apply_patch NOTES.md",
        "[file] added NOTES.md",
        "Wrote NOTES.md.",
        "+hello",
        "[system]",
    ):
        assert expected in story

    with pytest.raises(SystemExit):
        main(["runs", "show", "last", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert data["run"]["id"] == run_id and data["run"]["outcome"] == "completed"
    assert data["events"][0]["type"] == "run_started"
    assert data["run"]["settings"]["max_steps"] == 50


def test_a_killed_run_leaves_a_readable_record(wordstats_repo: Path, isolated_home: Path) -> None:
    kill_exec_after(wordstats_repo, [Fault(delay_s=30, then=Reply("too late"))], requests=1)
    connection = sqlite3.connect(isolated_home / "ledger.db")
    kinds = [row[0] for row in connection.execute("SELECT type FROM events ORDER BY seq")]
    # The start checkpoint is taken while the first request is out (awaited before any tool
    # runs), so a kill during the request may come before or after it is recorded.
    assert kinds in (
        ["run_started", "checkpoint", "model_request"],
        ["run_started", "model_request", "checkpoint"],
        ["run_started", "model_request"],
    )
    assert connection.execute("SELECT outcome FROM runs").fetchone()[0] is None
    shown = run_acb("runs", "show", "last", cwd=wordstats_repo).stdout
    assert "unfinished" in shown and "slow task" in shown
