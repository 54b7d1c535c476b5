"""Sandbox overhead: a sandboxed `true` and `python -c pass` against the same bare commands.

Two figures per command: bubblewrap alone (its argv run with subprocess, as acb builds it) and
acb's whole path (`run_command`: limits, cgroup, output capture, bubblewrap). Medians of N runs,
written to the "Sandbox overhead" section of docs/benchmarks.md. A column that fails (bubblewrap
unavailable, a non-zero exit, run_command falling back to no sandbox) shows its reason, never a
time, and the command exits 1 without writing unless `--allow-missing` (bench/outcome.py).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO))

from autocodebase.sandbox.bwrap import bwrap_command, bwrap_problem
from autocodebase.sandbox.environment import command_environment
from autocodebase.sandbox.policy import Limits, SandboxPolicy
from autocodebase.sandbox.run import run_command
from bench.outcome import add_allow_missing, conclude, failed, one_line

HEADING = "## Sandbox overhead"
COLUMNS = ("bare", "boxed", "full", "lean")
Figure = float | str
"""Median milliseconds, or why the column could not be measured."""


def interleaved_medians(actions: dict[str, Callable[[], object]], runs: int) -> dict[str, Figure]:
    """Median milliseconds of each action, run round-robin so that a slow spell of this noisy
    machine falls on every column alike rather than on one. An action that fails once is
    failed, with its reason, and run no more: the time of a command that did not run as
    asked measures nothing."""
    samples: dict[str, list[float]] = {name: [] for name in actions}
    failures: dict[str, str] = {}
    for _ in range(runs):
        for name, action in actions.items():
            if name in failures:
                continue
            started = time.perf_counter()
            try:
                action()
            except Exception as error:  # any failure of the action is the column's failure
                failures[name] = f"{type(error).__name__}: {error}"
                continue
            samples[name].append(time.perf_counter() - started)
    return {
        name: failures[name] if name in failures else statistics.median(samples[name]) * 1000
        for name in actions
    }


def sandboxed(policy: SandboxPolicy, command: str, workspace: Path, env: dict[str, str]) -> None:
    """acb's whole path, which must really have run the command in bubblewrap and succeeded:
    a fallback to an unsandboxed run would be timed as a fast sandbox."""
    result = run_command(policy, command, workspace, env)
    if result.exit_code != 0 or result.sandbox != "bubblewrap":
        raise RuntimeError(
            f"run_command ran it as {result.sandbox or 'nothing'}, exit {result.exit_code}: "
            f"{result.refused or one_line(result.output[-300:])}"
        )


def row(label: str, ms: dict[str, Figure]) -> str:
    """A table row: each column's time and its cost over bare bash, or why it failed (and no
    difference against a bare time that does not exist)."""
    bare = ms["bare"]

    def cell(key: str) -> str:
        value = ms[key]
        if isinstance(value, str):
            return failed(value)
        if isinstance(bare, str) or key == "bare":
            return f"{value:.1f} ms"
        return f"{value:.1f} ms (+{value - bare:.1f})"

    return f"| {label} | " + " | ".join(cell(k) for k in COLUMNS) + " |"


def missing(rows: dict[str, dict[str, Figure]]) -> dict[str, str]:
    """Every (command, column) asked for that has no time, and why."""
    return {
        f"{label}: {key}": value
        for label, ms in rows.items()
        for key, value in ms.items()
        if isinstance(value, str)
    }


def workspace_like_a_project(root: Path) -> Path:
    """A git repository acb has worked in before (`.git` and `.acb` exist), which is where
    commands run; a bare directory costs two placeholder mounts more (its own row)."""
    project = root / "project"
    project.mkdir()
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    (project / ".acb").mkdir()
    return project


def render(rows: dict[str, dict[str, Figure]], runs: int, load: float) -> str:
    return "\n".join(
        [
            HEADING,
            "",
            f"Measured {time.strftime('%Y-%m-%d')} with `python bench/sandbox.py -n {runs}` "
            "(medians; workspace-write, network off; load average "
            f"{load:.1f} when it ran). *bubblewrap* runs the argv acb builds (its "
            "own user namespace with no nested ones, homes and host data hidden behind tmpfs, "
            "toolchains lent back, kernel tunables read-only, bounded /tmp and /dev/shm); *acb "
            "run_command* is the whole path a model's command takes (argv built, started by "
            "acb's launcher inside the pids and memory cgroups, output captured, bubblewrap). "
            "The last column turns "
            "both limits off (no cgroup to join). Columns are sampled round-robin; the "
            "workspace is a git repository with `.git` and `.acb`, as after acb's first run. "
            "A column that fails (a non-zero exit, or run_command not using bubblewrap) shows "
            "why instead of a time.",
            "",
            "| command | bare bash | bubblewrap | acb run_command | run_command without limits |",
            "|---|---|---|---|---|",
            *(row(label, ms) for label, ms in rows.items()),
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", "--runs", type=int, default=50)
    parser.add_argument("--write", action="store_true")
    add_allow_missing(parser)
    args = parser.parse_args(argv)
    problem = bwrap_problem()
    env = command_environment()
    policy = SandboxPolicy()
    no_cgroup = SandboxPolicy(limits=Limits(max_processes=0, memory_mb=0))
    rows: dict[str, dict[str, Figure]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        project = workspace_like_a_project(Path(scratch))
        bare_dir = Path(scratch) / "bare"
        bare_dir.mkdir()
        for label, command, workspace in (
            ("`true`", "true", project),
            ("`python -c pass`", f"{sys.executable} -c pass", project),
            ("`true` in a directory without `.git`/`.acb`", "true", bare_dir),
        ):
            argv_ = ["bash", "-c", command]
            actions: dict[str, Callable[[], object]] = {
                "bare": partial(subprocess.run, argv_, cwd=workspace, env=env, check=True)
            }
            if problem is None:
                wrapped = bwrap_command(policy, workspace, workspace, argv_, env)
                actions |= {
                    "boxed": partial(subprocess.run, wrapped, env=env, check=True),
                    "full": partial(sandboxed, policy, command, workspace, env),
                    "lean": partial(sandboxed, no_cgroup, command, workspace, env),
                }
            ms = interleaved_medians(actions, args.runs)
            rows[label] = {k: ms.get(k, f"bubblewrap is unavailable: {problem}") for k in COLUMNS}
    section = render(rows, args.runs, os.getloadavg()[0])
    return conclude(section, HEADING, args.write, missing(rows), args.allow_missing, "figure")


if __name__ == "__main__":
    raise SystemExit(main())
