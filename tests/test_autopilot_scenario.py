"""Issue 22's scenario, the whole loop for real on the example project: `acb autopilot --merge
auto --deploy auto` works three queued tasks with the scripted model behind the loopback mock
server, releases what merges with `acb deploy`'s local blue/green machinery (sandboxed
builds, the proxy, health checks, verification), and watches each release under client
traffic with the monitor. One task ships; one passes its tests but fails under traffic, is
caught, rolled back and fixed by the fix task autopilot queues, which ships; one fails
verification and waits for a person. The story is in tests/autopilot_scenario.py."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.autopilot_scenario import PER_RELEASE, REPLIES, TASKS, Traffic, deploy_toml
from tests.conftest import commit_all, git
from tests.fakes.mock_server import MockModelServer
from tests.helpers import free_port, run_acb, write_files

pytestmark = pytest.mark.slow


@pytest.fixture
def project(wordstats_repo: Path) -> Iterator[tuple[Path, int]]:
    repo = wordstats_repo
    git(repo, "branch", "-M", "main")
    port = free_port()
    write_files(repo, {".acb/deploy.toml": deploy_toml(port)})
    commit_all(repo, "deploy config")
    git(repo, "switch", "-qc", "dev")  # the person works elsewhere; autopilot merges into main
    write_files(repo, TASKS)
    yield repo, port
    run_acb("deploy", "--stop", cwd=repo)


@pytest.mark.timeout(1500)  # ~1 min alone; 18 sandboxed runs' worth and 4 releases under load
def test_a_regression_is_deployed_caught_rolled_back_and_fixed(
    project: tuple[Path, int], isolated_home: Path
) -> None:
    repo, port = project
    traffic = Traffic(isolated_home / "ledger.db", port)
    traffic.start()
    try:
        with MockModelServer(list(REPLIES)) as model:
            env = {
                "OPENAI_API_KEY": "sk-test-0123456789abcdef",
                "OPENAI_BASE_URL": model.url + "/v1",
            }
            done = run_acb(
                "autopilot", "--once", "--merge", "auto", "--deploy", "auto", "--base", "main",
                "--watch", "900", "--watch-requests", str(PER_RELEASE),
                "-m", "openai/mock-model", cwd=repo, env=env, timeout=1500,
            )  # fmt: skip
    finally:
        traffic.done.set()
        traffic.join(timeout=120)
    assert done.returncode == 1, done.stderr  # 3-shortest needs a person
    assert model.script == [] and not model.protocol_errors

    status = json.loads(run_acb("autopilot", "status", "--json", cwd=repo).stdout)
    tasks = {task["id"]: task for task in status["tasks"]}
    assert {name: task["state"] for name, task in tasks.items()} == {
        "1-longest": "deployed",
        "2-cache": "rolled-back",
        "fix-2-cache": "deployed",
        "3-shortest": "needs-person",
    }, done.stderr
    first, bad, fix = tasks["1-longest"], tasks["2-cache"], tasks["fix-2-cache"]

    # Each release was watched under traffic once, in the order the loop worked them.
    assert traffic.order == [
        ("1-longest", first["release_sha"]),
        ("2-cache", bad["release_sha"]),
        ("fix-2-cache", fix["release_sha"]),
    ]
    assert set(traffic.answers[first["release_sha"]]) == {200}
    assert 500 in traffic.answers[bad["release_sha"]], "the regression, seen by clients"
    assert set(traffic.answers[fix["release_sha"]]) == {200}, "fixed, same traffic"

    # Caught by the monitor, rolled back to what was live, the fix queued with the diagnosis.
    assert bad["reason"].startswith("the monitor found: error rate")
    assert f"{first['release_sha'][:12]} serves again" in bad["reason"]
    assert bad["previous_sha"] == first["release_sha"]
    history = run_acb("autopilot", "status", "2-cache", cwd=repo).stdout
    for step in ("merged -> releasing", "releasing -> watching", "watching -> rolling-back"):
        assert step in history, history
    assert "rolling-back -> rolled-back" in history and "fix task fix-2-cache queued" in history
    text = fix["text"]
    assert "error rate" in text and f"Release {bad['release_sha'][:12]}" in text
    assert f"{first['release_sha'][:12]}..{bad['release_sha'][:12]}" in text
    assert "perf(service): cache word counts" in text, "the range's commits, listed"
    fix_request = next(
        r for r in model.requests if any(text in str(m.get("content")) for m in r.body["messages"])
    )
    assert fix_request is model.requests[8], "the fix was the next run, told the diagnosis"

    # What serves now is the fix; main holds both the cache and its fix; nothing else moved.
    deployed = json.loads(run_acb("deploy", "--status", "--json", cwd=repo).stdout)
    assert deployed["state"]["active"]["sha"] == fix["release_sha"]
    outcomes = [(h["sha"], h["outcome"]) for h in deployed["history"]]
    assert outcomes == [
        (first["release_sha"], "live"),
        (bad["release_sha"], "live"),
        (first["release_sha"], "live"),  # the rollback
        (fix["release_sha"], "live"),
    ]
    assert git(repo, "rev-parse", "main").strip() == fix["release_sha"]
    assert "del _CACHE[next(iter(_CACHE))]" in git(repo, "show", "main:wordstats/service.py")
    assert git(repo, "ls-tree", "main", "wordstats/shortest.py").strip() == ""
    assert git(repo, "branch", "--show-current").strip() == "dev"
    shortest = tasks["3-shortest"]
    assert shortest["attempts"] == 2 and "unverified" in shortest["reason"]

    # Every decision is in the ledger: the transitions, and each release as acb deploy made it.
    ledger = sqlite3.connect(isolated_home / "ledger.db")
    released = ledger.execute("SELECT sha, outcome FROM releases ORDER BY at").fetchall()
    assert released == outcomes
    moves = ledger.execute(
        "SELECT to_state FROM autopilot_transitions WHERE task_id='fix-2-cache' ORDER BY seq"
    ).fetchall()
    assert [m[0] for m in moves] == [
        "queued", "running", "merged", "releasing", "releasing", "watching", "deployed",
    ]  # fmt: skip
    ledger.close()
