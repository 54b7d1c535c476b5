"""`acb serve` in a real browser (Chromium from Debian's packages, driven by Playwright) over a
ledger filled by real runs of acb with scripted models: the runs page lists them, a run's page
shows its diff and gate verdicts, a running run updates by itself, the charts draw, and the
token is enforced when the dashboard listens beyond loopback.

ACB_UPDATE_SCREENSHOTS=1 writes the screenshots the README shows (docs/images/)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from autocodebase.sandbox.bwrap import bwrap_problem
from autocodebase.serve.app import Settings, create_app
from autocodebase.serve.guard import loopback_hosts
from tests.conftest import CASSETTE
from tests.dashboard import serving
from tests.fakes.mock_server import Fault, MockModelServer, Reply
from tests.helpers import run_acb, start_exec

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bwrap_problem() is not None, reason="bubblewrap unusable here"),
]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
IMAGES = Path(__file__).resolve().parents[1] / "docs" / "images"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("ACB_REQUIRE_BROWSER"):
            pytest.fail("Chromium is not installed (scripts/system-deps.sh --browser)")
        pytest.skip("Chromium is not installed (scripts/system-deps.sh --browser)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM)
        yield launched
        launched.close()


def new_page(browser: Any) -> tuple[Any, list[str]]:
    """A page, and the script errors it reports (a dashboard page should have none)."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return page, errors


def screenshot(page: Any, name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    page.screenshot(path=str(target), full_page=False)
    if os.environ.get("ACB_UPDATE_SCREENSHOTS"):
        IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copy(target, IMAGES / name)
    return target


def drawn_pixels(page: Any, selector: str) -> int:
    """How many pixels of the chart's canvas are not blank."""
    script = """sel => {
        const canvas = document.querySelector(sel + " canvas");
        if (!canvas || !canvas.width) return 0;
        const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
        let inked = 0;
        for (let i = 3; i < data.length; i += 4) if (data[i] > 0) inked++;
        return inked;
    }"""
    return int(page.evaluate(script, selector))


def record_traffic(workspace: Path, ledger: Path) -> None:
    """A deployment's proxy record and its release, as acb deploy leaves them."""
    from autocodebase.ledger.store import connect, record_release

    series = workspace / ".acb" / "deploy" / "default" / "series.jsonl"
    series.parent.mkdir(parents=True, exist_ok=True)
    now = int(time.time())
    rows = [
        json.dumps([now - 600 + i, 5 + i % 7, int(i % 50 == 0), 10.0 + i % 9]) for i in range(540)
    ]
    series.write_text("\n".join(rows) + "\n")
    release = {"sha": "9f8e7d6c5b4a39281706", "outcome": "live", "measured": {"after_errors": 0}}
    record_release(connect(ledger), workspace, release, "local")


def test_runs_a_run_its_diff_verdicts_and_the_charts(
    browser: Any, wordstats_repo: Path, isolated_home: Path, tmp_path: Path
) -> None:
    done = run_acb("exec", "add top_words", "--model", f"replay:{CASSETTE}", cwd=wordstats_repo)
    assert done.returncode == 0, done.stderr
    ledger = isolated_home / "ledger.db"
    record_traffic(wordstats_repo, ledger)
    hosts: set[str] = set()
    with serving(create_app(Settings(ledger=ledger, allowed_hosts=hosts))) as served:
        hosts.update(loopback_hosts(served.port))
        page, errors = new_page(browser)
        page.goto(served.url + "/")
        rows = page.locator("tr.run")
        assert rows.count() == 1
        assert "add top_words" in rows.first.inner_text()
        assert "completed" in rows.first.inner_text() and "verified" in rows.first.inner_text()
        screenshot(page, "dashboard-runs.png", tmp_path)

        rows.first.locator("a").first.click()
        page.wait_for_url(re.compile(r"/runs/"))
        assert page.locator(".diff-block .gi").count() > 5  # added lines, highlighted
        assert "def top_words" in page.locator(".diff-block").first.inner_text()
        gates = page.locator(".entry.gate").all_inner_texts()
        assert any("tests pass" in text for text in gates), gates
        assert page.locator("text=acb undo").count() == 1
        shot = screenshot(page, "dashboard-run.png", tmp_path)
        assert shot.stat().st_size > 20_000  # a page was drawn, not a blank

        page.click("text=deployments")
        page.wait_for_selector("[data-chart][data-drawn='1']")
        assert drawn_pixels(page, "[data-chart]") > 2000  # lines and axes, not an empty canvas
        assert "9f8e7d6c5b4a" in page.locator("table.releases").inner_text()
        screenshot(page, "dashboard-deployments.png", tmp_path)
        assert errors == []


def test_a_running_run_updates_by_itself(
    browser: Any, wordstats_repo: Path, isolated_home: Path
) -> None:
    ledger = isolated_home / "ledger.db"
    replies: list[Reply | Fault] = [
        Reply("", [("shell", {"command": "echo first step"})]),
        Fault(delay_s=6, then=Reply("All done, and the page saw it.")),
    ]
    with MockModelServer(replies) as server:
        process = start_exec(wordstats_repo, server)
        try:
            deadline = time.monotonic() + 60
            while len(server.requests) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(server.requests) >= 2, "acb never reached its second step"
            hosts: set[str] = set()
            with serving(create_app(Settings(ledger=ledger, allowed_hosts=hosts))) as served:
                hosts.update(loopback_hosts(served.port))
                page, errors = new_page(browser)
                page.goto(served.url + "/?outcome=running")
                page.locator("tr.run a").first.click()
                assert page.locator("#run-status").inner_text() == "running"
                assert page.locator("#live-note").count() == 1
                assert "echo first step" in page.locator("#timeline").inner_text()
                # No reload by us: the page follows the run and shows how it ended.
                page.locator("#run-status.completed").wait_for(timeout=60_000)
                assert "All done, and the page saw it." in page.locator("#timeline").inner_text()
                assert errors == []
            assert process.wait(timeout=60) == 0
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait()


def test_beyond_loopback_the_browser_needs_the_token(
    browser: Any, wordstats_repo: Path, isolated_home: Path, tmp_path: Path
) -> None:
    done = run_acb("exec", "add top_words", "--model", f"replay:{CASSETTE}", cwd=wordstats_repo)
    assert done.returncode == 0, done.stderr
    with subprocess.Popen(
        [sys.executable, "-m", "autocodebase", "serve", "--host", "0.0.0.0", "--port", "0"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        text=True,
    ) as server:
        try:
            assert server.stdout is not None
            found = re.search(r":(\d+)/\?token=(\S+)", server.stdout.readline())
            assert found is not None
            base = f"http://127.0.0.1:{found[1]}"
            page, _ = new_page(browser)
            answer = page.goto(base + "/")
            assert answer is not None and answer.status == 401
            assert "token is required" in page.content()
            page.goto(f"{base}/?token={found[2]}")
            assert page.url == base + "/"  # the token left the address bar for a cookie
            assert page.locator("tr.run").count() == 1
            answer = page.goto(base + "/deployments")
            assert answer is not None and answer.status == 200
        finally:
            server.terminate()
            server.wait(timeout=30)
