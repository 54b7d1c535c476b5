"""Cold and warm build time and peak memory of acb's context engine and Aider's RepoMap on the
same repositories and the same file lists, in the same run.

Cold: no cache (acb's index database deleted; Aider's `.aider.tags.cache.v4` deleted).
Warm: the same build again in a fresh process, cache present, nothing changed.
Each figure is the median of `--runs` fresh processes; both tools build the map for 1,024
tokens with no focus (what each gives the model at the start of a chat).

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
from pathlib import Path

HERE = Path(__file__).resolve().parent
AIDER_CACHE = ".aider.tags.cache.v4"


def measure(command: list[str]) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(HERE.parents[1] / "src")}
    done = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])


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
    for tool, command, clear in (
        ("acb", acb, lambda: [p.unlink() for p in scratch.glob(f"{name}.db*")]),
        ("aider", aider, lambda: shutil.rmtree(root / AIDER_CACHE, ignore_errors=True)),
    ):
        if command is None:
            continue
        cold, warm = [], []
        for _ in range(runs):
            clear()
            cold.append(measure(command))
            warm.append(measure(command))
        clear()
        result[tool] = {
            "cold_s": statistics.median(r["seconds"] for r in cold),
            "warm_s": statistics.median(r["seconds"] for r in warm),
            "peak_mb": max(r["peak_mb"] for r in cold),
            "worker_peak_mb": max(r.get("worker_peak_mb", 0.0) for r in cold),
            "runs": runs,
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
