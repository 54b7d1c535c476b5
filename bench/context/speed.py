"""Cold and warm build time and peak memory of acb's context engine and Aider's RepoMap on the
same repositories and the same file lists, in the same run.

Cold: no cache (acb's index database deleted; Aider's `.aider.tags.cache.v4` deleted).
Warm: the same build again in a fresh process, cache present, nothing changed.
Each figure is the median of `--runs` fresh processes; both tools build the map for 1,024
tokens with no focus (what each gives the model at the start of a chat).

A tool whose build fails (a non-zero exit, no timing printed) gets `{"failed": reason}` for
that repository instead of figures; report.py shows it as failed.

Usage: python bench/context/speed.py --repo flask=DIR --repo sympy=DIR ... [--runs N] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
AIDER_CACHE = ".aider.tags.cache.v4"


class Failed(Exception):
    """A build that did not produce its timing line; the message says why."""


def measure(command: list[str]) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(HERE.parents[1] / "src")}
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    except OSError as error:
        raise Failed(f"{command[0]}: {error}") from error
    said = " ".join((done.stdout + done.stderr)[-400:].split())
    if done.returncode != 0:
        raise Failed(f"{Path(command[1]).name} exited {done.returncode}: {said}")
    try:
        result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError) as error:
        raise Failed(f"{Path(command[1]).name} printed no timing: {said}") from error
    return result


def aider_version(python: Path) -> str:
    """The aider-chat version in Aider's venv: the version measured, named in the report."""
    probe = "import importlib.metadata as m; print(m.version('aider-chat'))"
    done = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, check=False)
    return done.stdout.strip() or "?"


def run_repo(
    name: str, root: Path, aider_python: Path | None, runs: int, scratch: Path
) -> dict[str, object]:
    sys.path.insert(0, str(HERE.parents[1] / "src"))
    from autocodebase.context.index import source_files

    files = source_files(root)
    listing = scratch / f"{name}-files.json"
    listing.write_text(json.dumps(files))
    index = scratch / f"{name}.db"
    result: dict[str, object] = {"repo": name, "files": len(files)}
    acb = [sys.executable, str(HERE / "acb_build.py"), str(root), str(index)]
    aider = (
        [str(aider_python), str(HERE / "aider_worker.py"), "build", str(root), str(listing)]
        if aider_python
        else None
    )

    def clear_acb() -> None:
        for path in scratch.glob(f"{name}.db*"):
            path.unlink()

    def clear_aider() -> None:
        shutil.rmtree(root / AIDER_CACHE, ignore_errors=True)

    plan: list[tuple[str, list[str] | None, Callable[[], None]]] = [
        ("acb", acb, clear_acb),
        ("aider", aider, clear_aider),
    ]
    for tool, command, clear in plan:
        if command is None:
            continue
        cold, warm = [], []
        try:
            for _ in range(runs):
                clear()
                cold.append(measure(command))
                warm.append(measure(command))
        except Failed as error:  # a tool that fails once has no figure here, only its reason
            result[tool] = {"failed": str(error)}
            print(f"{name} {tool}: failed: {error}", file=sys.stderr, flush=True)
            continue
        finally:
            clear()
        result[tool] = {
            "cold_s": statistics.median(r["seconds"] for r in cold),
            "warm_s": statistics.median(r["seconds"] for r in warm),
            "peak_mb": max(r["peak_mb"] for r in cold),
            "worker_peak_mb": max(r.get("worker_peak_mb", 0.0) for r in cold),
            "runs": runs,
            **(
                {"version": aider_version(aider_python)} if tool == "aider" and aider_python else {}
            ),
        }
        print(f"{name} {tool}: {result[tool]}", file=sys.stderr, flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", action="append", required=True, help="NAME=DIR")
    parser.add_argument("--aider-python", type=Path, help="python of Aider's venv")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, required=True)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        for spec in args.repo:
            name, _, directory = spec.partition("=")
            results.append(
                run_repo(name, Path(directory), args.aider_python, args.runs, Path(scratch))
            )
    args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
