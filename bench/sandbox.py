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


def interleaved_medians(actions: dict[str, object], runs: int) -> dict[str, float]:
    """Median milliseconds of each action, run round-robin so that a slow spell of this noisy
    machine falls on every column alike rather than on one."""
    samples: dict[str, list[float]] = {name: [] for name in actions}
    for _ in range(runs):
        for name, action in actions.items():
            started = time.perf_counter()
            action()  # type: ignore[operator]
            samples[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) * 1000 for name, values in samples.items()}


def workspace_like_a_project(root: Path) -> Path:
    """A git repository acb has worked in before (`.git` and `.acb` exist), which is where
    commands run; a bare directory costs two placeholder mounts more (its own row)."""
    project = root / "project"
    project.mkdir()
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    (project / ".acb").mkdir()
    return project


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
    no_cgroup = SandboxPolicy(limits=Limits(max_processes=0, memory_mb=0))
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        project = workspace_like_a_project(Path(scratch))
        bare_dir = Path(scratch) / "bare"
        bare_dir.mkdir()
        for label, command, workspace in (
            ("`true`", "true", project),
            ("`python -c pass`", f"{sys.executable} -c pass", project),
            ("`true` in a directory without `.git`/`.acb`", "true", bare_dir),
        ):
            argv = ["bash", "-c", command]
            wrapped = bwrap_command(policy, workspace, workspace, argv, env)
            ms = interleaved_medians(
                {
                    "bare": lambda a=argv, w=workspace: subprocess.run(
                        a, cwd=w, env=env, check=True
                    ),
                    "boxed": lambda a=wrapped: subprocess.run(a, env=env, check=True),
                    "full": lambda c=command, w=workspace: run_command(policy, c, w, env),
                    "lean": lambda c=command, w=workspace: run_command(no_cgroup, c, w, env),
                },
                args.runs,
            )
            bare = ms["bare"]
            rows.append(
                f"| {label} | {bare:.1f} ms | "
                + " | ".join(
                    f"{ms[k]:.1f} ms (+{ms[k] - bare:.1f})" for k in ("boxed", "full", "lean")
                )
                + " |"
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
            "run_command* is the whole path a model's command takes (argv built, started by "
            "acb's launcher inside the pids and memory cgroups, output captured, bubblewrap). "
            "The last column turns "
            "both limits off (no cgroup to join). Columns are sampled round-robin; the "
            "workspace is a git repository with `.git` and `.acb`, as after acb's first run.",
            "",
            "| command | bare bash | bubblewrap | acb run_command | run_command without limits |",
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
