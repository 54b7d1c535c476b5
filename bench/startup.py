"""Cold-start benchmark: `acb --help`, and `acb exec` up to its first model request.

Each sample is a fresh process. `--help` is timed wall-clock to exit; `exec` is timed from just
before the process is spawned to the moment the loopback mock server receives the first request
(time.monotonic is one clock for all processes on Linux). Medians of N runs are written to
docs/benchmarks.md together with the machine and date. A run that fails is not a sample: it is
named under the table, a measurement with no working run is a failed row, and the command exits
1 without writing unless `--allow-missing` (bench/outcome.py).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.fakes.mock_server import MockModelServer, Reply

from bench.outcome import add_allow_missing, conclude, failed, one_line

ACB = [sys.executable, "-m", "autocodebase"]
HEADING = "## Cold start"
TIMEOUT_S = 120


@dataclass
class Row:
    """One measurement: the samples of the runs that worked, and why the others failed. A
    failed run adds no sample: its time measures nothing."""

    label: str
    samples: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def _said(done: subprocess.CompletedProcess[bytes]) -> str:
    return one_line((done.stdout + done.stderr).decode(errors="replace")[-600:], 300)


def time_help(runs: int) -> Row:
    row = Row("`acb --help` (process start to exit)")
    for _ in range(runs):
        started = time.monotonic()
        try:
            done = subprocess.run([*ACB, "--help"], capture_output=True, timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            row.failures.append(f"--help still running after {TIMEOUT_S} s")
            continue
        if done.returncode != 0:
            row.failures.append(f"--help exited {done.returncode}: {_said(done)}")
            continue
        row.samples.append(time.monotonic() - started)
    return row


def time_first_request(
    runs: int, label: str, model: str, key_env: str, url_env: str, suffix: str
) -> Row:
    row = Row(label)
    with tempfile.TemporaryDirectory() as scratch:
        workspace = Path(scratch) / "ws"
        shutil.copytree(REPO / "examples" / "wordstats", workspace)
        subprocess.run(["git", "init", "-q"], cwd=workspace, check=True)
        env = {
            **os.environ,
            "ACB_HOME": str(Path(scratch) / "home"),
            key_env: "bench-key-0123456789",
        }
        for _ in range(runs):
            with MockModelServer([Reply("done")]) as server:
                env[url_env] = server.url + suffix
                started = time.monotonic()
                argv = [*ACB, "exec", "say done", "-m", model, "-C", str(workspace)]
                try:
                    done = subprocess.run(argv, env=env, capture_output=True, timeout=TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    row.failures.append(f"exec still running after {TIMEOUT_S} s")
                    continue
                if not server.requests:
                    row.failures.append(
                        f"no request reached the mock (exit {done.returncode}): {_said(done)}"
                    )
                elif done.returncode != 0:
                    row.failures.append(f"exec exited {done.returncode}: {_said(done)}")
                else:
                    row.samples.append(server.requests[0].received_at - started)
    return row


def table(rows: list[Row]) -> list[str]:
    """The table, and under it every failure: a measurement without a working run is a
    failed row, never a time."""
    lines = ["| measurement | median | min | max |", "|---|---|---|---|"]
    notes = []
    for row in rows:
        if not row.samples:
            reason = row.failures[0] if row.failures else "no run"
            lines.append(f"| {row.label} | {failed(reason)} | – | – |")
            continue
        ms = [s * 1000 for s in row.samples]
        lines.append(
            f"| {row.label} | {statistics.median(ms):.0f} ms | {min(ms):.0f} ms "
            f"| {max(ms):.0f} ms |"
        )
        if row.failures:
            notes.append(
                f"- {row.label}: {len(row.failures)} of {len(row.failures) + len(ms)} runs "
                f"failed and are not in its figures: {one_line(row.failures[0], 300)}"
            )
    return lines + (["", *notes] if notes else [])


def missing(rows: list[Row]) -> dict[str, str]:
    """The measurements asked for that have no working run, and why."""
    return {r.label: (r.failures or ["no run"])[0] for r in rows if not r.samples}


def describe_machine() -> str:
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    system = f"Linux {platform.release()}, Python {platform.python_version()}"
    return f"{cpu}, {os.cpu_count()} cores, {system}"


def render(rows: list[Row], runs: int) -> str:
    return "\n".join(
        [
            HEADING,
            "",
            f"Measured {time.strftime('%Y-%m-%d')} on {describe_machine()}.",
            f"Method: `python bench/startup.py -n {runs}`; each sample is a fresh process "
            "(OS file cache warm, no Python bytecode recompilation); `exec` is timed from spawn "
            "to the arrival of its first request at a loopback mock server, on a copy of "
            "examples/wordstats; that includes the git checkpoint, the sandbox probe and the "
            "start-of-run repo map (built in a child process while the SDK is imported). A run "
            "that fails (non-zero exit, no request) is not a sample: it is named below the table.",
            "",
            *table(rows),
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", "--runs", type=int, default=10)
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    add_allow_missing(parser)
    args = parser.parse_args(argv)
    rows = [
        time_help(args.runs),
        time_first_request(
            args.runs,
            "`acb exec`, OpenAI Chat provider, to first request",
            "openai/bench",
            "OPENAI_API_KEY",
            "OPENAI_BASE_URL",
            "/v1",
        ),
        time_first_request(
            args.runs,
            "`acb exec`, Anthropic provider, to first request",
            "anthropic/bench",
            "ANTHROPIC_API_KEY",
            "ANTHROPIC_BASE_URL",
            "",
        ),
    ]
    return conclude(
        render(rows, args.runs), HEADING, args.write, missing(rows), args.allow_missing, "figure"
    )


if __name__ == "__main__":
    raise SystemExit(main())
