"""Sandbox overhead: a sandboxed `true` and `python -c pass` against the same bare commands.

Two figures per command: bubblewrap alone (its argv run with subprocess, as acb builds it) and
acb's whole path (`run_command`: limits, cgroup, output capture, bubblewrap). Medians of N runs,
written to the "Sandbox overhead" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO))

from autocodebase.sandbox.bwrap import bwrap_command, bwrap_problem
from autocodebase.sandbox.environment import command_environment
from autocodebase.sandbox.policy import Limits, SandboxPolicy
from autocodebase.sandbox.run import run_command
from bench.report import write_section


def median_ms(action: object, runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()  # type: ignore[operator]
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", "--runs", type=int, default=50)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    problem = bwrap_problem()
    if problem:
        sys.exit(f"cannot measure: {problem}")
    env = command_environment()
    policy = SandboxPolicy()
    no_cgroup = SandboxPolicy(limits=Limits(max_processes=0))
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        workspace = Path(scratch)
        for label, command in (
            ("`true`", "true"),
            ("`python -c pass`", f"{sys.executable} -c pass"),
        ):
            argv = ["bash", "-c", command]
            wrapped = bwrap_command(policy, workspace, workspace, argv, env)
            bare = median_ms(
                lambda a=argv: subprocess.run(a, cwd=workspace, env=env, check=True), args.runs
            )
            boxed = median_ms(lambda a=wrapped: subprocess.run(a, env=env, check=True), args.runs)
            full = median_ms(lambda c=command: run_command(policy, c, workspace, env), args.runs)
            lean = median_ms(lambda c=command: run_command(no_cgroup, c, workspace, env), args.runs)
            rows.append(
                f"| {label} | {bare:.1f} ms | {boxed:.1f} ms (+{boxed - bare:.1f}) | "
                f"{full:.1f} ms (+{full - bare:.1f}) | {lean:.1f} ms (+{lean - bare:.1f}) |"
            )
    section = "\n".join(
        [
            "## Sandbox overhead",
            "",
            f"Measured {time.strftime('%Y-%m-%d')} with `python bench/sandbox.py -n {args.runs}` "
            "(medians; workspace-write, network off; load average "
            f"{os.getloadavg()[0]:.1f} when it ran). *bubblewrap* runs the argv acb builds (its "
            "own user namespace with no nested ones, homes and host data hidden behind tmpfs, "
            "toolchains lent back, kernel tunables read-only, bounded /tmp and /dev/shm); *acb "
            "run_command* is the whole path a model's command takes (the pids and memory "
            "cgroups, output capture, bubblewrap). The last column sets "
            "`sandbox.max_processes = 0` (the memory cgroup stays).",
            "",
            "| command | bare bash | bubblewrap | acb run_command | without process limit |",
            "|---|---|---|---|---|",
            *rows,
            "",
        ]
    )
    print(section)
    if args.write:
        write_section("## Sandbox overhead", section)


if __name__ == "__main__":
    main()
