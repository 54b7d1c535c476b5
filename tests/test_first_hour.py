"""A new user's first hour (issue 18): what the real CLI says when the set-up is wrong."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.fakes.mock_server import MockModelServer, Reply
from tests.helpers import exec_with_mock, free_port, json_events, run_acb, write_user_config


@pytest.mark.usefixtures("isolated_home")
def test_a_dead_local_endpoint_fails_at_once_and_names_itself(wordstats_repo: Path) -> None:
    port = free_port()  # nothing listens there
    write_user_config(f'[providers.vllm]\nbase_url = "http://127.0.0.1:{port}/v1"\n')
    started = time.monotonic()
    done = run_acb("exec", "anything", "--model", "vllm/some-model", "--json", cwd=wordstats_repo)
    elapsed = time.monotonic() - started
    assert done.returncode != 0
    events = json_events(done.stdout)
    assert [e for e in events if e["type"] == "model_retry"] == [], "refused locally: no retries"
    finished = next(e for e in events if e["type"] == "run_finished")
    assert f"vllm at http://127.0.0.1:{port}/v1: connection refused" in finished["error"]
    assert elapsed < 30  # the default retries alone would take ~60 s


@pytest.mark.usefixtures("isolated_home")
@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("42", "providers.vllm.base_url must be an http(s) URL"),
        ('"not a url"', "providers.vllm.base_url must be an http(s) URL"),
        ('"http://"', "providers.vllm.base_url must be an http(s) URL with a host"),
        ('"http://:8000/v1"', "providers.vllm.base_url must be an http(s) URL with a host"),
    ],
)
def test_a_bad_provider_url_is_one_line_naming_file_and_key(
    wordstats_repo: Path, value: str, problem: str
) -> None:
    write_user_config(f"[providers.vllm]\nbase_url = {value}\n")
    done = run_acb("exec", "anything", "--model", "vllm/m", cwd=wordstats_repo)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "config.toml: " in lines[0] and problem in lines[0], lines


@pytest.mark.usefixtures("isolated_home")
def test_counts_read_as_english(wordstats_repo: Path) -> None:
    done, _ = exec_with_mock(wordstats_repo, [Reply("Nothing to change.")], "look", "--no-git")
    assert done.returncode == 0, done.stderr
    assert " 1 step · " in done.stderr + done.stdout
    listed = run_acb("runs", "list", cwd=wordstats_repo)
    assert "1 step " in listed.stdout and "1 steps" not in listed.stdout


@pytest.mark.usefixtures("isolated_home")
def test_no_model_chosen_explains_the_default_and_how_to_choose(wordstats_repo: Path) -> None:
    done = run_acb("exec", "anything", cwd=wordstats_repo)
    assert done.returncode == 2
    assert "no model chosen, and acb's default (openai/gpt-5.1) needs OPENAI_API_KEY" in done.stderr
    for way in ("export OPENAI_API_KEY=", "--model anthropic/", "ollama/", "config.toml"):
        assert way in done.stderr, way
    # A model the user named gets the short answer: they know what they chose.
    chosen = run_acb("exec", "anything", "--model", "openai/gpt-5.1", cwd=wordstats_repo)
    assert chosen.returncode == 2
    assert chosen.stderr.strip().splitlines() == [
        "acb: error: OPENAI_API_KEY is not set: export it to use openai/gpt-5.1, "
        "or pick another --model"
    ]
    write_user_config('model = "anthropic/claude-sonnet-4-5"\n')
    configured = run_acb("exec", "anything", cwd=wordstats_repo)
    assert "ANTHROPIC_API_KEY is not set" in configured.stderr
    assert "no model chosen" not in configured.stderr


@pytest.mark.usefixtures("isolated_home")
def test_doctor_says_what_is_wrong_and_how_to_fix_it(wordstats_repo: Path, tmp_path: Path) -> None:
    port = free_port()
    write_user_config(
        f'model = "vllm/m"\n[providers.vllm]\nbase_url = "http://127.0.0.1:{port}/v1"\n'
    )
    done = run_acb("doctor", "--json", cwd=wordstats_repo)
    assert done.returncode == 1, done.stderr  # the endpoint is down
    checks = {c["name"]: c for c in map(json.loads, done.stdout.splitlines())}
    assert {
        "user config",
        "model",
        "endpoint",
        "git",
        "rg",
        "bwrap",
        "repository",
        "ledger",
    } <= set(checks)
    assert checks["model"]["status"] == "ok" and "config.toml" in checks["model"]["detail"]
    endpoint = checks["endpoint"]
    assert endpoint["status"] == "fail" and f"127.0.0.1:{port}" in endpoint["detail"]
    assert "start the local server" in endpoint["fix"]
    assert checks["repository"]["status"] == "ok"
    with MockModelServer([]) as server:  # something listens now
        write_user_config(f'model = "vllm/m"\n[providers.vllm]\nbase_url = "{server.url}/v1"\n')
        again = run_acb("doctor", cwd=wordstats_repo)
    assert f"✓ endpoint       {server.url}/v1 answers" in again.stdout
    outside = tmp_path / "plain"
    outside.mkdir()
    elsewhere = run_acb("doctor", cwd=outside)
    assert "not in a git repository" in elsewhere.stdout and "→ git init" in elsewhere.stdout
    write_user_config("max_steps = 'many'\n")
    bad = run_acb("doctor", cwd=wordstats_repo)
    assert bad.returncode == 1 and "✗ config" in bad.stdout and "max_steps" in bad.stdout


def test_map_outside_a_repository_keeps_its_index_in_the_cache(tmp_path: Path) -> None:
    plain = tmp_path / "scripts"
    plain.mkdir()
    (plain / "tool.py").write_text("def main():\n    return 1\n")
    cache = tmp_path / "cache"  # XDG_CACHE_HOME of every test (conftest)
    done = run_acb("map", "--stats", cwd=plain)
    assert done.returncode == 0, done.stderr
    assert "def main" in done.stdout
    assert sorted(p.name for p in plain.iterdir()) == ["tool.py"], "nothing left behind"
    (index,) = cache.glob("acb/index/scripts-*/symbols.db")
    assert str(index) in done.stderr  # --stats says where it is


def test_map_in_a_repository_keeps_its_index_beside_the_sources(wordstats_repo: Path) -> None:
    done = run_acb("map", cwd=wordstats_repo / "wordstats")
    assert done.returncode == 0, done.stderr
    assert (wordstats_repo / "wordstats" / ".acb" / "index" / "symbols.db").exists()


SLOW_TEST_PATCH = """*** Begin Patch
*** Add File: tests/test_patience.py
+import time
+
+
+def test_patience():
+    time.sleep(1.5)
+    assert True
*** End Patch"""


@pytest.mark.usefixtures("isolated_home")
def test_a_long_phase_is_announced_while_it_runs(wordstats_repo: Path) -> None:
    replies = [
        Reply("", [("apply_patch", {"patch": SLOW_TEST_PATCH})]),
        Reply("Added a patient test."),
        Reply("test: add a patient test"),
    ]
    done, _ = exec_with_mock(wordstats_repo, replies, "add a patient test")
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    announced = next(i for i, line in enumerate(lines) if line.startswith("… testing the change:"))
    result = next(i for i, line in enumerate(lines) if line.startswith("◆ tests"))
    assert announced < result, "said while it ran, before the result"
    assert "at most" in lines[announced]
    committed = [line for line in lines if line.startswith("⎇ committed ")]
    assert len(committed) == 1 and committed[0].endswith(": test: add a patient test")


@pytest.mark.usefixtures("isolated_home")
def test_the_final_message_is_written_once_when_both_streams_share_a_file(
    wordstats_repo: Path, tmp_path: Path
) -> None:
    import os
    import subprocess
    import sys

    log = tmp_path / "log.txt"
    with MockModelServer([Reply("All done here.")]) as server, log.open("w") as sink:
        env = {
            **os.environ,
            "OPENAI_API_KEY": "sk-test-0123456789abcdef",
            "OPENAI_BASE_URL": server.url + "/v1",
        }
        subprocess.run(
            [sys.executable, "-m", "autocodebase", "exec", "look", "-m", "openai/m", "--no-git"],
            cwd=wordstats_repo,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            check=True,
            timeout=120,
        )
    assert log.read_text().count("All done here.") == 1
    # Apart, a script reading stdout still gets it.
    done, _ = exec_with_mock(wordstats_repo, [Reply("All done here.")], "look", "--no-git")
    assert done.stdout.strip() == "All done here."
