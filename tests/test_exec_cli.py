"""`acb exec` end to end, as a user runs it: a real process, real HTTP, real edits, real tests."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CASSETTE
from tests.fakes.mock_server import Fault, MockModelServer, Reply
from tests.helpers import (
    COMMIT_MESSAGE,
    SCRIPT,
    exec_with_mock,
    run_acb,
    write_user_config,
)


def ledger(home: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(home / "ledger.db")
    connection.row_factory = sqlite3.Row
    return connection


def assert_feature_landed(repo: Path, done: subprocess.CompletedProcess[str], home: Path) -> None:
    assert done.returncode == 0, done.stderr
    assert "def longest_word" in (repo / "wordstats/core.py").read_text()
    assert (repo / "tests/test_longest.py").exists()
    assert "7 passed" in done.stderr + done.stdout  # the real test run, in progress or JSON
    row = ledger(home).execute("SELECT * FROM runs").fetchone()
    assert row["outcome"] == "completed" and row["steps"] == 3
    assert "+def longest_word" in row["diff"]
    assert row["input_tokens"] > 0


CASES = {
    "openai-chat-stream": ("openai/mock-model", "OPENAI", "/v1", []),
    "openai-chat-json": ("openai/mock-model", "OPENAI", "/v1", ["--no-stream"]),
    "anthropic-stream": ("anthropic/mock-model", "ANTHROPIC", "", []),
    "anthropic-json": ("anthropic/mock-model", "ANTHROPIC", "", ["--no-stream"]),
}


@pytest.mark.parametrize(
    "case",
    # One provider path stays in the quick suite; the others run with the slow ones.
    [c if c == "openai-chat-stream" else pytest.param(c, marks=pytest.mark.slow) for c in CASES],
)
def test_exec_against_loopback_servers(
    case: str, wordstats_repo: Path, isolated_home: Path
) -> None:
    model, prefix, suffix, flags = CASES[case]
    with MockModelServer(list(SCRIPT)) as server:
        env = {
            f"{prefix}_API_KEY": "sk-test-key-0123456789abcdef",
            f"{prefix}_BASE_URL": server.url + suffix,
        }
        done = run_acb(
            "exec", "add longest_word", "--model", model, *flags, cwd=wordstats_repo, env=env
        )
    assert server.protocol_errors == []
    assert done.stdout.strip() == "Added longest_word with a test; 4 tests pass."
    assert_feature_landed(wordstats_repo, done, isolated_home)


@pytest.mark.slow
def test_exec_with_a_configured_responses_provider(
    wordstats_repo: Path, isolated_home: Path
) -> None:
    with MockModelServer(list(SCRIPT)) as server:
        write_user_config(
            f'[providers.local]\nbase_url = "{server.url}/v1"\napi_key_env = "LOCAL_KEY"\n'
            'wire_api = "responses"\n'
        )
        done = run_acb(
            "exec",
            "add longest_word",
            "-m",
            "local/mock-model",
            cwd=wordstats_repo,
            env={"LOCAL_KEY": "local-key-123456789"},
        )
    assert {r.path for r in server.requests} == {"/v1/responses"}
    assert_feature_landed(wordstats_repo, done, isolated_home)


@pytest.mark.slow
def test_faults_are_retried_and_recorded(wordstats_repo: Path, isolated_home: Path) -> None:
    write_user_config("retry_base_delay_s = 0.01\n")
    script = [
        Fault(status=429, retry_after="0"),
        Fault(status=500),
        SCRIPT[0],
        Fault(cut_stream=True, then=SCRIPT[1]),
        SCRIPT[1],
        SCRIPT[2],
        COMMIT_MESSAGE,
    ]
    with MockModelServer(script) as server:
        env = {
            "OPENAI_API_KEY": "sk-test-key-0123456789abcdef",
            "OPENAI_BASE_URL": server.url + "/v1",
        }
        done = run_acb(
            "exec", "add longest_word", "-m", "openai/x", "--json", cwd=wordstats_repo, env=env
        )
    events = [json.loads(line) for line in done.stdout.splitlines()]
    retries = [e for e in events if e["type"] == "model_retry"]
    assert [("429" in r["error"], "500" in r["error"]) for r in retries[:2]] == [
        (True, False),
        (False, True),
    ]
    assert "stream ended" in retries[2]["error"]
    assert_feature_landed(wordstats_repo, done, isolated_home)


def test_persistent_failure_exits_nonzero_with_one_line(
    wordstats_repo: Path, isolated_home: Path
) -> None:
    write_user_config("retry_base_delay_s = 0.01\nretry_attempts = 2\n")
    with MockModelServer([Fault(status=503), Fault(status=503)]) as server:
        env = {
            "OPENAI_API_KEY": "sk-test-key-0123456789abcdef",
            "OPENAI_BASE_URL": server.url + "/v1",
        }
        done = run_acb("exec", "anything", "-m", "openai/x", cwd=wordstats_repo, env=env)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "HTTP 503" in done.stderr
    assert ledger(isolated_home).execute("SELECT outcome FROM runs").fetchone()[0] == "failed"


@pytest.mark.slow
def test_json_stream_schema(wordstats_repo: Path) -> None:
    done = run_acb(
        "exec", "add top_words", "--json", "--model", f"replay:{CASSETTE}", cwd=wordstats_repo
    )
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert events[0]["type"] == "run_started" and events[-1]["type"] == "run_finished"
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert len({e["run_id"] for e in events}) == 1
    assert events[-1]["outcome"] == "completed" and events[-1]["exit_code"] == 0
    assert "assistant_delta" not in {e["type"] for e in events}
    assert done.stderr == ""


@pytest.mark.slow
def test_demo_cassette_runs_the_real_tests(wordstats_repo: Path, isolated_home: Path) -> None:
    done = run_acb("exec", "add top_words", "--model", f"replay:{CASSETTE}", cwd=wordstats_repo)
    assert done.returncode == 0, done.stderr
    assert "top_words" in (wordstats_repo / "wordstats/__init__.py").read_text()
    check = subprocess.run(
        [sys.executable, "-m", "pytest", "-q"], cwd=wordstats_repo, capture_output=True, text=True
    )
    assert "10 passed" in check.stdout


def test_replay_divergence_is_reported(wordstats_repo: Path) -> None:
    # The recorded session expects read_file on wordstats/core.py to succeed; remove the file.
    (wordstats_repo / "wordstats/core.py").unlink()
    done = run_acb("exec", "add top_words", "--model", f"replay:{CASSETTE}", cwd=wordstats_repo)
    assert done.returncode == 1
    assert "replay diverged at model call 2" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_task_from_stdin(wordstats_repo: Path) -> None:
    done = run_acb(
        "exec", "-", "--model", f"replay:{CASSETTE}", cwd=wordstats_repo, stdin="add top_words\n"
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    "args,message",
    [
        (["exec", "x", "--model", "nope/model"], "unknown model provider 'nope'"),
        (["exec", "x", "--model", "openai/gpt-5.1"], "OPENAI_API_KEY is not set"),
        (["exec", "x", "--model", "gpt-5.1"], "PROVIDER/NAME"),
        (["exec", "x", "-C", "/definitely/not/here"], "no such directory"),
        (["exec", "x", "--max-steps", "0"], "--max-steps"),
        (["exec", "x", "--frobnicate"], "No such option"),
        (["exec", "x", "--model", "replay:/no/such.jsonl"], "cassette not found"),
        (["runs", "show", "zzz-nothing"], "no run matches"),
        (["exec", ""], "the task is empty"),
    ],
)
def test_bad_input_gets_one_line_and_exit_2(args: list[str], message: str, tmp_path: Path) -> None:
    done = run_acb(*args, cwd=tmp_path, stdin="")
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("acb: error:") and message in lines[0]


@pytest.mark.slow
def test_hostile_project_config_cannot_redirect_keys(wordstats_repo: Path) -> None:
    config = wordstats_repo / ".acb" / "config.toml"
    config.parent.mkdir()
    config.write_text('[providers.openai]\nbase_url = "http://evil.example/v1"\n')
    done = run_acb("exec", "x", "--model", f"replay:{CASSETTE}", cwd=wordstats_repo)
    assert f"acb: warning: {config}: ignored 'providers'" in done.stderr
    assert "evil.example" not in done.stderr  # ignored, not tried


def test_help_is_fast_path_without_sdks(tmp_path: Path) -> None:
    code = (
        "import sys; from autocodebase.cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('openai', 'anthropic', 'pydantic', 'httpx2') if m in sys.modules]\n"
        "print('HEAVY', heavy)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path
    )
    assert "HEAVY []" in done.stdout
    assert "exec" in done.stdout and "runs" in done.stdout


def test_headless_untrusted_refuses_writes_and_records_the_decision(wordstats_repo: Path) -> None:
    script = [
        Reply("", [("shell", {"command": "touch created-by-model"})]),
        Reply("", [("shell", {"command": "ls wordstats"})]),
        Reply("The write was refused; listing worked."),
    ]
    done, _ = exec_with_mock(wordstats_repo, script, "try", "--approvals", "untrusted", "--json")
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    approvals = [e for e in events if e["type"] == "approval"]
    assert [(a["command"], a["decision"]) for a in approvals] == [
        ("touch created-by-model", "deny")
    ]
    results = [e for e in events if e["type"] == "tool_result"]
    assert results[0]["is_error"] and "acb approvals add" in results[0]["output"]
    assert not results[1]["is_error"] and "core.py" in results[1]["output"]
    assert not (wordstats_repo / "created-by-model").exists()
    started = events[0]
    assert (
        started["sandbox"].startswith("workspace-write")
        and "approvals untrusted" in started["sandbox"]
    )
