"""Cold-start benchmark: `acb --help`, and `acb exec` up to its first model request.

Each sample is a fresh process. `--help` is timed wall-clock to exit; `exec` is timed from just
before the process is spawned to the moment the loopback mock server receives the first request
(time.monotonic is one clock for all processes on Linux). Medians of N runs are written to
docs/benchmarks.md together with the machine and date.
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
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.fakes.mock_server import MockModelServer, Reply

from bench.report import write_section

ACB = [sys.executable, "-m", "autocodebase"]


def time_help(runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.monotonic()
        subprocess.run([*ACB, "--help"], check=True, capture_output=True)
        samples.append(time.monotonic() - started)
    return samples


def time_first_request(
    runs: int, model: str, key_env: str, url_env: str, suffix: str
) -> list[float]:
    samples = []
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
                subprocess.run(
                    [*ACB, "exec", "say done", "-m", model, "-C", str(workspace)],
                    env=env,
                    check=True,
                    capture_output=True,
                )
                samples.append(server.requests[0].received_at - started)
    return samples


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", "--runs", type=int, default=10)
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    rows = {
        "`acb --help` (process start to exit)": time_help(args.runs),
        "`acb exec`, OpenAI Chat provider, to first request": time_first_request(
            args.runs, "openai/bench", "OPENAI_API_KEY", "OPENAI_BASE_URL", "/v1"
        ),
        "`acb exec`, Anthropic provider, to first request": time_first_request(
            args.runs, "anthropic/bench", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", ""
        ),
    }
    table = ["| measurement | median | min | max |", "|---|---|---|---|"]
    for name, samples in rows.items():
        table.append(
            f"| {name} | {statistics.median(samples) * 1000:.0f} ms | "
            f"{min(samples) * 1000:.0f} ms | {max(samples) * 1000:.0f} ms |"
        )
    section = "\n".join(
        [
            "## Cold start",
            "",
            f"Measured {time.strftime('%Y-%m-%d')} on {describe_machine()}.",
            f"Method: `python bench/startup.py -n {args.runs}`; each sample is a fresh process "
            "(OS file cache warm, no Python bytecode recompilation); `exec` is timed from spawn "
            "to the arrival of its first request at a loopback mock server, on a copy of "
            "examples/wordstats; that includes the git checkpoint, the sandbox probe and the "
            "start-of-run repo map (built in a child process while the SDK is imported).",
            "",
            *table,
            "",
        ]
    )
    print(section)
    if args.write:
        write_section("## Cold start", section)


if __name__ == "__main__":
    main()
