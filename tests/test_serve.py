"""`acb serve` (issue 20): the dashboard served for real over HTTP, over a ledger written by
acb's own writer. The browser tests are in test_serve_browser.py."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from autocodebase.serve.app import Settings, create_app
from autocodebase.serve.guard import loopback_hosts
from autocodebase.serve.queries import Ledger
from tests.conftest import git
from tests.dashboard import Served, record_run, serving

TOKEN = "t0ken-for-the-dashboard-test-0123456789"


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.db"
    base = time.time() - 3600
    record_run(path, "run-a", model="openai/gpt-a", workspace="/repos/app", started_at=base)
    record_run(
        path,
        "run-b",
        model="anthropic/claude-b",
        workspace="/repos/lib",
        outcome="failed",
        started_at=base + 10,
    )
    record_run(path, "run-live", task="still going", started_at=base + 20, finished=False)
    return path


@pytest.fixture
def loopback(ledger: Path) -> Iterator[Served]:
    hosts: set[str] = set()  # filled once the port is known, as acb serve does for its port
    with serving(create_app(Settings(ledger=ledger, allowed_hosts=hosts))) as served:
        hosts.update(loopback_hosts(served.port))
        yield served


def test_the_runs_page_lists_filters_and_pages(loopback: Served, ledger: Path) -> None:
    status, _, body = loopback.get("/")
    assert status == 200
    assert all(f'href="/runs/{r}"' in body for r in ("run-a", "run-b", "run-live"))
    assert "$0.0020" in body and "1,200 in / 80 out tokens" in body
    _, _, failed = loopback.get("/?outcome=failed")
    assert "/runs/run-b" in failed and "/runs/run-a" not in failed
    _, _, running = loopback.get("/?outcome=running")
    assert "/runs/run-live" in running and "/runs/run-a" not in running
    _, _, by_model = loopback.get("/?model=openai%2Fgpt-a")
    assert "/runs/run-a" in by_model and "/runs/run-b" not in by_model
    _, _, by_repo = loopback.get("/?repository=%2Frepos%2Flib")
    assert "/runs/run-b" in by_repo and "/runs/run-a" not in by_repo
    today = time.strftime("%Y-%m-%d")
    _, _, none = loopback.get("/?until=2001-01-01")
    assert "/runs/" not in none and "No runs match" in none
    _, _, dated = loopback.get(f"/?since={today}&until={today}")
    assert "/runs/run-a" in dated or time.localtime().tm_hour == 0  # an hour ago may be yesterday


def test_pages_of_many_runs(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    for number in range(120):
        record_run(path, f"run-{number:03d}", started_at=1_700_000_000 + number)
    with serving(create_app(Settings(ledger=path))) as served:
        _, _, first = served.get("/")
        _, _, third = served.get("/?page=3")
        data = json.loads(served.get("/api/runs?per_page=100&page=2")[2])
    assert first.count('class="run"') == 50 and "run-119" in first and "page 1 of 3" in first
    assert third.count('class="run"') == 20 and "run-000" in third and "older" not in third
    assert data["total"] == 120 and data["pages"] == 2 and len(data["runs"]) == 20


@pytest.mark.parametrize(
    "query", ["outcome=exploded", "verification=maybe", "since=yesterday", "page=two"]
)
def test_a_bad_filter_is_a_clear_400(loopback: Served, query: str) -> None:
    status, _, body = loopback.get(f"/?{query}")
    assert status == 400 and "Traceback" not in body
    api_status, _, api_body = loopback.get(f"/api/runs?{query}")
    assert api_status == 400 and "error" in json.loads(api_body)


def test_a_run_page_shows_the_change_the_gates_and_the_commit(loopback: Served) -> None:
    status, _, body = loopback.get("/runs/run-a")
    assert status == 200
    assert '<span class="gi">+ANSWER = 42' in body  # the diff, highlighted
    assert "tests pass (10 passed)" in body
    assert "1 finding(s) below high, recorded" in body and "possible hardcoded value" in body
    assert "committed 0123456789ab on main: feat: the answer" in body
    assert "acb undo run-a" in body
    assert 'id="chart-usage"' in body and "verified" in body
    assert "data-live" not in body  # a finished run is not polled
    assert loopback.get("/runs/nope")[0] == 404


def test_a_running_run_is_followed_live(loopback: Served, ledger: Path) -> None:
    _, _, page = loopback.get("/runs/run-live")
    after = re.search(r'data-after="(-?\d+)"', page)
    assert 'data-live="/runs/run-live/timeline"' in page and after is not None
    status, headers, nothing_new = loopback.get(f"/runs/run-live/timeline?after={after[1]}")
    assert status == 200 and nothing_new.strip() == ""
    assert headers["x-acb-finished"] == "0"
    record_run_end(ledger)
    _, headers, new = loopback.get(f"/runs/run-live/timeline?after={after[1]}")
    assert "tests pass (10 passed)" in new and "apply_patch" not in new  # only what is new
    assert headers["x-acb-finished"] == "1"


def record_run_end(ledger: Path) -> None:
    """The live run's remaining events, as its process would write them."""
    from autocodebase.events import RunFinished, TestsChecked, event_payload
    from autocodebase.ledger.store import LedgerWriter, connect

    writer = LedgerWriter(connect(ledger))
    for seq, event in enumerate(
        [
            TestsChecked(command="pytest", passed=10, failed=[], preexisting=[], verdict="passed"),
            RunFinished(
                outcome="completed",
                exit_code=0,
                final_message="",
                steps=1,
                usage={},
                cost_usd=None,
                duration_s=1.0,
                diff=None,
            ),
        ],
        start=5,
    ):
        writer({**event_payload(event), "run_id": "run-live", "seq": seq, "ts": time.time()})


def test_the_api_gives_runs_a_run_with_its_events_and_releases(loopback: Served) -> None:
    runs = json.loads(loopback.get("/api/runs?model=anthropic%2Fclaude-b")[2])
    assert [r["id"] for r in runs["runs"]] == ["run-b"] and runs["total"] == 1
    run = json.loads(loopback.get("/api/runs/run-a")[2])
    assert run["outcome"] == "completed" and run["settings"]["sandbox"] == "workspace-write"
    assert [e["type"] for e in run["events"]][:2] == ["run_started", "model_request"]
    assert json.loads(loopback.get("/api/releases")[2]) == {"releases": []}
    assert loopback.get("/api/runs/nope")[0] == 404


def test_every_answer_carries_the_security_headers(loopback: Served) -> None:
    for path in ("/", "/runs/run-a", "/api/runs", "/static/app.js", "/runs/nope"):
        _, headers, _ = loopback.get(path)
        lowered = {k.lower(): v for k, v in headers.items()}
        assert "default-src 'self'" in lowered["content-security-policy"], path
        assert lowered["x-content-type-options"] == "nosniff"
        assert lowered["x-frame-options"] == "DENY"
        assert lowered["referrer-policy"] == "no-referrer"


def test_on_loopback_a_foreign_host_header_is_refused(loopback: Served) -> None:
    """DNS rebinding: a page at evil.example resolving to 127.0.0.1 reads nothing."""
    assert loopback.get("/api/runs", {"Host": "evil.example:80"})[0] == 403
    assert loopback.get("/api/runs", {"Host": f"localhost:{loopback.port}"})[0] == 200


def test_off_loopback_the_token_is_required_on_every_request(ledger: Path) -> None:
    with serving(create_app(Settings(ledger=ledger, token=TOKEN))) as served:
        for path in ("/", "/runs/run-a", "/api/runs", "/api/releases", "/static/app.js"):
            status, _, body = served.get(path)
            assert status == 401 and "run-a" not in body, path
        assert served.get("/api/runs", {"Authorization": "Bearer wrong"})[0] == 401
        assert served.get("/api/runs", {"Authorization": f"Bearer {TOKEN}"})[0] == 200
        status, headers, _ = served.get(f"/runs/run-a?token={TOKEN}&x=1")
        assert status == 303 and headers["location"] == "/runs/run-a?x=1"
        cookie = headers["set-cookie"].split(";")[0]
        assert "HttpOnly" in headers["set-cookie"] and "SameSite=Strict" in headers["set-cookie"]
        assert served.get("/runs/run-a", {"Cookie": cookie})[0] == 200
        assert served.get("/runs/run-a", {"Cookie": "acb_token=nope"})[0] == 401
        # The redirect stays on this server whatever the path looks like.
        _, headers, _ = served.get(f"//evil.example/?token={TOKEN}")
        assert headers["location"].startswith("/") and not headers["location"].startswith("//")


def test_no_secret_reaches_a_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ledger holds what acb redacted; the dashboard also hides its own process's secrets
    and its token, should they have reached the ledger some other way."""
    secret = "sk-live-abcdefghijklmnopqrstuvwxyz0123456789"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    path = tmp_path / "ledger.db"
    record_run(path, "run-s", task=f"use {secret}", output=f"key={secret} token={TOKEN}")
    with serving(create_app(Settings(ledger=path, token=TOKEN))) as served:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        pages = [served.get(p, auth)[2] for p in ("/runs/run-s", "/api/runs/run-s", "/")]
    assert all(secret not in page and TOKEN not in page for page in pages)
    assert "REDACTED" in pages[0] and "REDACTED" in pages[1]


def test_what_the_model_wrote_is_shown_as_text_never_run(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    hostile = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    record_run(path, "run-x", task=hostile, output=hostile)
    with serving(create_app(Settings(ledger=path))) as served:
        pages = [served.get(p)[2] for p in ("/", "/runs/run-x")]
    for page in pages:
        assert "<script>alert" not in page and "<img src=x" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_the_ledger_is_read_only_to_the_dashboard(ledger: Path) -> None:
    with Ledger(ledger).reading() as db, pytest.raises(sqlite3.OperationalError, match="readonly"):
        db.execute("DELETE FROM runs")


def test_deployments_show_releases_and_the_recorded_traffic(tmp_path: Path) -> None:
    from autocodebase.ledger.store import connect, record_release

    workspace = tmp_path / "app"
    series = workspace / ".acb" / "deploy" / "default" / "series.jsonl"
    series.parent.mkdir(parents=True)
    now = int(time.time())
    series.write_text(
        "".join(json.dumps([now - 120 + i, 3, i % 2, 12.5]) + "\n" for i in range(90))
        + "not a row\n"
    )
    path = tmp_path / "ledger.db"
    release = {"sha": "abcdef1234567890", "outcome": "live", "measured": {"after_errors": 0}}
    record_release(connect(path), workspace, release, "local")
    with serving(create_app(Settings(ledger=path))) as served:
        _, _, page = served.get("/deployments")
        releases = json.loads(served.get("/api/releases")[2])["releases"]
    assert "abcdef123456" in page and "after_errors=0" in page
    block = re.search(r'id="chart-traffic-1">(.*?)</script>', page, re.S)
    assert block is not None
    chart = json.loads(block[1])
    assert sum(chart["series"]["requests"]) == 270 and sum(chart["series"]["errors"]) == 45
    assert chart["markers"][0]["sha"] == "abcdef123456"
    assert releases[0]["workspace"] == str(workspace)


def test_a_files_provenance_links_lines_to_runs(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "app.py").write_text("x = 1\n")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=Ada", "-c", "user.email=ada@example.com", "commit", "-qm", "x")
    author = git(repo, "log", "-1", "--format=%an").strip()
    path = tmp_path / "ledger.db"
    record_run(path, "run-p", workspace=str(repo))
    with serving(create_app(Settings(ledger=path))) as served:
        status, _, page = served.get(f"/file?repository={repo}&path=app.py")
        outside = served.get(f"/file?repository={repo}&path=../../etc/passwd")
        unknown = served.get("/file?repository=/etc&path=passwd")
    assert status == 200 and f'<td class="who">{author}</td>' in page and "x = 1" in page
    assert outside[0] == 404 and "root:" not in outside[2]
    assert unknown[0] == 404 and "root:" not in unknown[2]


def test_evaluations_show_what_acb_eval_wrote(tmp_path: Path) -> None:
    folder = tmp_path / "eval-out"
    folder.mkdir()
    report = {
        "model": "gold",
        "total": 2,
        "resolved": ["a__b-1"],
        "unresolved": ["a__b-2"],
        "error": [],
        "environment_error": [],
        "environment": {},
        "instances": {
            "a__b-1": {
                "status": "resolved",
                "environment": "venv x",
                "steps": 0,
                "cost_usd": None,
                "wall_s": 3.0,
                "run_id": None,
            },
            "a__b-2": {
                "status": "unresolved",
                "environment": "venv x",
                "steps": 0,
                "cost_usd": None,
                "wall_s": 4.0,
                "run_id": None,
            },
        },
    }
    (folder / "report.json").write_text(json.dumps(report))
    path = tmp_path / "ledger.db"
    with serving(create_app(Settings(ledger=path, evaluations=[folder, tmp_path / "none"]))) as s:
        _, _, page = s.get("/evaluations")
    assert "<strong>1</strong> resolved of 2" in page and "a__b-2" in page
    assert "No report.json there yet" in page


def test_the_command_refuses_a_busy_port_in_one_line(tmp_path: Path) -> None:
    import socket

    from tests.helpers import run_acb

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        done = run_acb(
            "serve", "--port", str(port), cwd=tmp_path, env={"ACB_HOME": str(tmp_path / "home")}
        )
    assert done.returncode != 0
    assert done.stderr.startswith(f"acb: error: cannot listen on 127.0.0.1:{port}")
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_the_command_off_loopback_prints_a_token_and_enforces_it(tmp_path: Path) -> None:
    env = {"ACB_HOME": str(tmp_path / "home"), "PYTHONUNBUFFERED": "1"}
    import os

    process = subprocess.Popen(
        [sys.executable, "-m", "autocodebase", "serve", "--host", "0.0.0.0", "--port", "0"],
        cwd=tmp_path,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        found = re.search(r"http://0\.0\.0\.0:(\d+)/\?token=(\S+)", line)
        assert found is not None, line
        served = Served(f"http://127.0.0.1:{found[1]}", int(found[1]))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                status = served.get("/api/runs")[0]
                break
            except OSError:
                time.sleep(0.1)
        assert status == 401
        assert served.get("/api/runs", {"Authorization": f"Bearer {found[2]}"})[0] == 200
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


# -- what an attacker tried (a helper's review, 2026-11-30), kept as regressions ------------


def test_provenance_reads_what_is_committed_never_through_a_swapped_symlink(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "repo"
    (repo / "d").mkdir(parents=True)
    git(repo, "init", "-q")
    (repo / "d" / "hostname").write_text("committed\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "x")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "hostname").write_text("OUTSIDE-SECRET\n")
    (repo / "d" / "hostname").unlink()
    (repo / "d").rmdir()
    (repo / "d").symlink_to(outside)  # what a command in the workspace can do at any moment
    path = tmp_path / "ledger.db"
    record_run(path, "run-p", workspace=str(repo))
    with serving(create_app(Settings(ledger=path))) as served:
        status, _, page = served.get(f"/file?repository={repo}&path=d/hostname")
        nul = served.get(f"/file?repository={repo}&path=d/hostname%00")
    assert status == 200 and "committed" in page and "OUTSIDE" not in page
    assert nul[0] == 404


def test_a_planted_traffic_record_cannot_stretch_or_block_the_page(tmp_path: Path) -> None:
    import os
    import threading

    from autocodebase.ledger.store import connect, record_release

    future, fifo = tmp_path / "future", tmp_path / "fifo"
    now = int(time.time())
    for workspace in (future, fifo):
        (workspace / ".acb" / "deploy" / "prod").mkdir(parents=True)
    (future / ".acb" / "deploy" / "prod" / "series.jsonl").write_text(
        f"[{now - 30}, 1, 0, 1.0]\n[{now + 60 * 10_000_000}, 1, 0, 1.0]\n[{10**30}, 1, 0, 1.0]\n"
    )
    os.mkfifo(fifo / ".acb" / "deploy" / "prod" / "series.jsonl")
    path = tmp_path / "ledger.db"
    for workspace in (future, fifo):
        record_release(connect(path), workspace, {"sha": "a" * 40, "outcome": "live"}, "local")
    answers: list[tuple[int, dict[str, str], str]] = []
    with serving(create_app(Settings(ledger=path))) as served:
        asking = threading.Thread(target=lambda: answers.append(served.get("/deployments")))
        asking.start()
        asking.join(timeout=20)
        assert not asking.is_alive(), "a FIFO in the workspace blocked the dashboard"
    status, _, page = answers[0]
    assert status == 200
    blocks = re.findall(r'id="chart-traffic-\d+">(.*?)</script>', page, re.S)
    assert len(blocks) == 1 and len(json.loads(blocks[0])["series"]["x"]) <= 2
    assert len(page) < 100_000


def test_secrets_are_hidden_everywhere_a_page_shows_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from autocodebase.ledger.store import connect, record_release

    secret = "sk-live-zyxwvutsrqponmlkjihgfedcba9876543210"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    path = tmp_path / "ledger.db"
    record_run(path, "run-k", model=f"openai/{secret}", workspace=f"/repos/{secret}")
    release = {
        "sha": "b" * 40,
        "outcome": "rolled-back",
        "reason": f"token {secret}",
        "measured": {secret: 1},
    }
    record_release(connect(path), tmp_path, release, "local")
    with serving(create_app(Settings(ledger=path))) as served:
        pages = [served.get(p)[2] for p in ("/", "/deployments", "/api/releases", "/runs/run-k")]
    for page in pages:
        assert secret not in page


def test_a_long_run_shows_its_ends_and_says_what_it_left_out(tmp_path: Path) -> None:
    from autocodebase.events import ToolCall, event_payload
    from autocodebase.ledger.store import LedgerWriter, connect
    from autocodebase.serve.queries import SHOWN_EVENTS

    path = tmp_path / "ledger.db"
    record_run(path, "run-long")
    writer = LedgerWriter(connect(path))
    extra = 2 * SHOWN_EVENTS + 500
    writer.connection.execute("BEGIN")
    for seq in range(100, 100 + extra):
        call = ToolCall(step=1, call_id=f"x{seq}", name="shell", arguments={}, raw_arguments="")
        writer({**event_payload(call), "run_id": "run-long", "seq": seq, "ts": time.time()})
    writer.connection.execute("COMMIT")
    with serving(create_app(Settings(ledger=path))) as served:
        status, _, page = served.get("/runs/run-long")
    assert status == 200 and "events between them are not" in page


def test_bad_numbers_and_reports_are_answers_not_errors(tmp_path: Path) -> None:
    import os

    folder, fifo_folder, big = tmp_path / "eval", tmp_path / "fifo", tmp_path / "big"
    for made in (folder, fifo_folder, big):
        made.mkdir()
    (folder / "report.json").write_text(
        json.dumps({"model": "m", "resolved": [], "instances": {"a__b-1": {"status": "error"}}})
    )
    os.mkfifo(fifo_folder / "report.json")
    with (big / "report.json").open("wb") as handle:
        handle.truncate(40 * 1024 * 1024)
    path = tmp_path / "ledger.db"
    record_run(path, "run-n")
    settings = Settings(ledger=path, evaluations=[folder, fifo_folder, big])
    with serving(create_app(settings)) as served:
        assert served.get(f"/?page={10**20}")[0] == 400
        assert served.get(f"/api/runs?page={10**27}")[0] == 400
        status, _, page = served.get("/evaluations")
    assert status == 200 and "a__b-1" in page and page.count("No report.json there yet") == 2


def test_the_guard_closes_what_is_not_http_and_keeps_redirects_home() -> None:
    import asyncio

    from autocodebase.serve.guard import Guard

    reached: list[str] = []

    async def app(scope: dict[str, object], _receive: object, _send: object) -> None:
        reached.append(str(scope["type"]))

    sent: list[dict[str, object]] = []

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    async def receive() -> dict[str, object]:
        return {}

    guard = Guard(app, TOKEN, None)
    asyncio.run(guard({"type": "websocket", "headers": []}, receive, send))
    assert reached == [] and sent[0]["type"] == "websocket.close"
    sent.clear()
    scope = {
        "type": "http",
        "headers": [],
        "raw_path": b"/\\evil.example",
        "query_string": f"token={TOKEN}".encode(),
    }
    asyncio.run(guard(scope, receive, send))
    headers = dict(sent[0]["headers"])  # type: ignore[arg-type]
    assert headers[b"location"] == b"/evil.example"


def test_a_short_chosen_token_is_refused(tmp_path: Path) -> None:
    from tests.helpers import run_acb

    done = run_acb(
        "serve",
        "--host",
        "0.0.0.0",
        "--port",
        "0",
        cwd=tmp_path,
        env={"ACB_SERVE_TOKEN": "short", "ACB_HOME": str(tmp_path / "h")},
    )
    assert done.returncode == 2 and "too short" in done.stderr and "Traceback" not in done.stderr
