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


@dataclass
class Breakdown:
    """Where one run's time to its first request went: import time by origin (self times from
    `-X importtime`, which slows imports itself), and the rest of the wall time."""

    wall_ms: float
    imports_ms: dict[str, float]


def _origin(module: str) -> str:
    top = module.split(".")[0]
    if top == "autocodebase":
        return "acb's own modules"
    if top in sys.stdlib_module_names or top.startswith("_"):
        return "the standard library"
    return "third-party"


def profile_first_request(model: str, key_env: str, url_env: str, suffix: str) -> Breakdown:
    """One exec under `-X importtime`, stopped the moment its first request arrives (what it
    imports after that is not on the critical path)."""
    import re

    with tempfile.TemporaryDirectory() as scratch:
        workspace = Path(scratch) / "ws"
        shutil.copytree(REPO / "examples" / "wordstats", workspace)
        subprocess.run(["git", "init", "-q"], cwd=workspace, check=True)
        env = {**os.environ, "ACB_HOME": str(Path(scratch) / "home"), key_env: "bench-key-01234"}
        log = Path(scratch) / "imports.txt"
        # A warm index first, as in the timed runs (only the first of those is cold).
        for attempt in ("warm-up", "profiled"):
            with MockModelServer([Reply("done")]) as server, log.open("w") as sink:
                env[url_env] = server.url + suffix
                argv = [sys.executable, "-X", "importtime", *ACB[1:], "exec", "say done"]
                started = time.monotonic()
                process = subprocess.Popen(
                    [*argv, "-m", model, "-C", str(workspace)],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=sink,
                )
                while not server.requests and process.poll() is None:
                    time.sleep(0.002)
                arrived = server.requests[0].received_at if server.requests else None
                if attempt == "profiled":
                    process.kill()
                process.wait(timeout=TIMEOUT_S)
        if arrived is None:
            raise RuntimeError("the profiled run sent no request")
        spent: dict[str, float] = {}
        for line in log.read_text(errors="replace").splitlines():
            found = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", line)
            if found:
                origin = _origin(found.group(2))
                spent[origin] = spent.get(origin, 0.0) + int(found.group(1)) / 1000
        return Breakdown((arrived - started) * 1000, spent)


def breakdown_lines(label: str, found: Breakdown) -> list[str]:
    imports = sum(found.imports_ms.values())
    parts = ", ".join(f"{name} {ms:.0f} ms" for name, ms in sorted(found.imports_ms.items()))
    return [
        f"- {label}: {found.wall_ms:.0f} ms to the first request under `-X importtime`; "
        f"imports {imports:.0f} ms ({parts}); the other {found.wall_ms - imports:.0f} ms are "
        "Python's start, the sandbox probe, the ledger and any wait for the repo map (built by a "
        "child process started before the imports; the git checkpoint is taken in a thread "
        "while the request is out)."
    ]


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


def render(rows: list[Row], runs: int, profiles: list[str] | None = None) -> str:
    where = ["Where the time goes (one more run each, stopped at its first request):"]
    where += profiles or []
    return "\n".join(
        [
            HEADING,
            "",
            f"Measured {time.strftime('%Y-%m-%d')} on {describe_machine()}.",
            f"Method: `python bench/startup.py -n {runs}`; each sample is a fresh process "
            "(OS file cache warm, no Python bytecode recompilation); `exec` is timed from spawn "
            "to the arrival of its first request at a loopback mock server, on a copy of "
            "examples/wordstats; that includes the sandbox probe and the start-of-run repo map "
            "(built in a child process while acb is imported); the git checkpoint is taken "
            "alongside and awaited before any tool runs. A run "
            "that fails (non-zero exit, no request) is not a sample: it is named below the table.",
            "",
            *table(rows),
            "",
            *([*where, ""] if profiles else []),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", "--runs", type=int, default=10)
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    add_allow_missing(parser)
    args = parser.parse_args(argv)
    # Bytecode for every module, whatever PYTHONDONTWRITEBYTECODE says: a fresh checkout's first
    # runs would otherwise be timing the compiler.
    import compileall

    compileall.compile_dir(REPO / "src" / "autocodebase", quiet=1)
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
    profiles: list[str] = []
    for label, model, key_env, url_env, suffix in (
        ("OpenAI Chat", "openai/bench", "OPENAI_API_KEY", "OPENAI_BASE_URL", "/v1"),
        ("Anthropic", "anthropic/bench", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", ""),
    ):
        try:
            profiles += breakdown_lines(
                label, profile_first_request(model, key_env, url_env, suffix)
            )
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            profiles.append(f"- {label}: {failed(one_line(str(exc), 200))}")
    return conclude(
        render(rows, args.runs, profiles),
        HEADING,
        args.write,
        missing(rows),
        args.allow_missing,
        "figure",
    )


if __name__ == "__main__":
    raise SystemExit(main())
