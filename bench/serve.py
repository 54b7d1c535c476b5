"""The dashboard on a big ledger: page and API times over real HTTP with 10,000 runs.

A ledger is filled with RUNS runs of EVENTS events each, written by acb's own LedgerWriter from
acb's own event types (a task, model requests and responses with usage, tool calls with output
and a diff, the gates, the commit and the end), spread over 5 repositories and 4 models. The
dashboard is served by uvicorn on loopback in this process; each page is fetched REPEAT times
with urllib after one warm-up fetch, and the median and the slowest are reported.

A page that cannot be fetched (an HTTP error, no answer) shows its reason instead of a time, and
the command exits 1 without writing unless `--allow-missing` (bench/outcome.py).

Usage: python bench/serve.py [--runs 10000] [--repeat 20] [--write] [--allow-missing]
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.outcome import add_allow_missing, conclude, failed

HEADING = "## acb serve: page times on a ledger of 10,000 runs"
DIFF = "diff --git a/app.py b/app.py\n--- a/app.py\n+++ b/app.py\n@@ -1 +1,2 @@\n x = 1\n+y = 2\n"


def fill(ledger: Path, runs: int) -> int:
    """Write `runs` runs; the number of events written."""
    from autocodebase import events as ev
    from autocodebase.ledger.store import LedgerWriter, connect

    connection = connect(ledger)
    writer = LedgerWriter(connection)
    written = 0
    start = time.time() - runs * 60
    connection.execute("BEGIN")
    for number in range(runs):
        run_id = f"bench-{number:06d}"
        model = ("openai/gpt-a", "anthropic/claude-b", "ollama/qwen", "openai/gpt-c")[number % 4]
        steps: list[ev.Event] = [
            ev.RunStarted(
                task=f"task {number}: add a flag",
                model=model,
                workspace=f"/repos/project-{number % 5}",
                settings={"approval": "never"},
                sandbox="bubblewrap",
                acb_version="bench",
            ),
        ]
        for step in range(1, 4):
            steps += [
                ev.ModelRequest(
                    step=step,
                    new_messages=[{"role": "user", "content": "go on"}],
                    message_count=step * 2,
                    tools=["shell", "apply_patch"],
                ),
                ev.ModelResponse(
                    step=step,
                    content="Working on it.",
                    tool_calls=[],
                    usage={"input_tokens": 2000 * step, "output_tokens": 150},
                    cost_usd=0.004,
                    total_cost_usd=0.004 * step,
                    duration_s=1.2,
                    stop_reason="tool_calls",
                    model=model,
                ),
                ev.ToolCall(
                    step=step,
                    call_id=f"c{step}",
                    name="shell",
                    arguments={"command": "pytest -q"},
                    raw_arguments="{}",
                ),
                ev.ToolResult(
                    step=step,
                    call_id=f"c{step}",
                    name="shell",
                    is_error=False,
                    output="12 passed in 0.5s\n" * 20,
                    data={},
                    duration_s=0.8,
                ),
            ]
        steps += [
            ev.TestsChecked(
                command="pytest -q", passed=12, failed=[], preexisting=[], verdict="passed"
            ),
            ev.RunFinished(
                outcome="completed" if number % 7 else "failed",
                exit_code=0,
                final_message="Done.",
                steps=3,
                usage={"input_tokens": 12000, "output_tokens": 450},
                cost_usd=0.012,
                duration_s=30.0,
                diff=DIFF,
                verification={"status": "verified", "detail": "12 passed"},
            ),
        ]
        for seq, event in enumerate(steps):
            payload = {
                **ev.event_payload(event),
                "run_id": run_id,
                "seq": seq,
                "ts": start + number * 60 + seq,
            }
            writer(payload)
            written += 1
    connection.execute("COMMIT")
    connection.close()
    return written


def serve(ledger: Path) -> tuple[str, object]:
    import uvicorn

    from autocodebase.serve.app import Settings, create_app
    from autocodebase.serve.guard import loopback_hosts

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    app = create_app(Settings(ledger=ledger, allowed_hosts=loopback_hosts(port)))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start serving the dashboard (see its log above)")
        time.sleep(0.02)
    return f"http://127.0.0.1:{port}", server


Timing = tuple[float, float, int] | str
"""(median ms, slowest ms, bytes) of a page, or why it could not be fetched."""


def fetch(url: str) -> bytes:
    """The page's body; an error for anything but a 200 (a fast error page is no page time)."""
    with urllib.request.urlopen(url, timeout=60) as answer:
        body: bytes = answer.read()
        if answer.status != 200:
            raise RuntimeError(f"HTTP {answer.status}")
    return body


def timed(url: str, repeat: int) -> Timing:
    """(median ms, slowest ms, bytes) of `repeat` fetches after one warm-up, or why not."""
    try:
        size = len(fetch(url))
        times = []
        for _ in range(repeat):
            began = time.perf_counter()
            fetch(url)
            times.append((time.perf_counter() - began) * 1000)
    except (OSError, RuntimeError) as error:  # urllib's HTTPError and URLError are OSErrors
        return f"{type(error).__name__}: {error}"
    return statistics.median(times), max(times), size


def row(label: str, timing: Timing) -> str:
    if isinstance(timing, str):
        return f"| {label} | {failed(timing)} | – | – |"
    median, slowest, size = timing
    return f"| {label} | {median:.1f} ms | {slowest:.1f} ms | {size / 1024:.0f} KB |"


def render(
    rows: dict[str, Timing], runs: int, events: int, size_mb: float, fill_s: float, repeat: int
) -> str:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return "\n".join(
        [
            HEADING,
            "",
            f"Measured {date.today()} on {platform.machine()}, {os.cpu_count()} cores, load "
            f"average {load} (`python bench/serve.py`). A ledger of {runs:,} runs and "
            f"{events:,} events ({size_mb:.0f} MB, filled in {fill_s:.0f} s by acb's own "
            "ledger writer), served by uvicorn on loopback; each page fetched "
            f"{repeat} times over HTTP after one warm-up. A page that fails to load shows why, "
            "never a time.",
            "",
            "| page | median | slowest | size |",
            "|---|---|---|---|",
            *(row(label, timing) for label, timing in rows.items()),
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--write", action="store_true")
    add_allow_missing(parser)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        ledger = Path(folder) / "ledger.db"
        began = time.perf_counter()
        events = fill(ledger, args.runs)
        fill_s = time.perf_counter() - began
        base, _server = serve(ledger)
        rows: dict[str, Timing] = {}
        for label, path in pages(args.runs):
            rows[label] = timed(base + path, args.repeat)
            print(row(label, rows[label]))
        size_mb = ledger.stat().st_size / 1e6
    section = render(rows, args.runs, events, size_mb, fill_s, args.repeat)
    missing = {label: timing for label, timing in rows.items() if isinstance(timing, str)}
    return conclude(section, HEADING, args.write, missing, args.allow_missing, "page")


def pages(runs: int) -> list[tuple[str, str]]:
    """The pages timed; the run shown is bench-004242, or the last run of a smaller ledger."""
    run_id = f"bench-{min(4242, runs - 1):06d}"
    return [
        ("runs, first page (50 of all)", "/"),
        ("runs, page 100", "/?page=100"),
        ("runs filtered by model and status", "/?model=anthropic%2Fclaude-b&outcome=failed"),
        (
            "runs filtered by repository and dates",
            "/?repository=%2Frepos%2Fproject-3"
            f"&since={date.fromtimestamp(time.time() - 3 * 86400)}&until={date.today()}",
        ),
        ("a run's page (15 events)", f"/runs/{run_id}"),
        ("a live run's new entries", f"/runs/{run_id}/timeline?after=10"),
        ("API: /api/runs (50)", "/api/runs"),
        ("API: /api/runs/{id} with its events", f"/api/runs/{run_id}"),
    ]


if __name__ == "__main__":
    raise SystemExit(main())
