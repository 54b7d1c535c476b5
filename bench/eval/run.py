"""The evaluation harness checked with its reference model: `acb eval swe-bench --model gold`
over SWE-bench Lite instances from several projects, with 1 and 2 workers, locally and on Ray.

`gold` submits each instance's upstream fix, so every instance whose environment builds should
come out resolved; what does not is a fact about the environment (the network its tests need,
packages the index lacks) or a fault of the harness, and the table says which instance.

Usage: python bench/eval/run.py --repos DIR [--ids FILE] [--configs local:2,local:1,ray:2]
       [--cache DIR] [--write]
The first configuration builds the environments (its wall time includes that); the others reuse
them. `--repos` holds mirrors named owner+name or owner__name (see bench/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bench.report import write_section

DATASET = REPO.parent / "shared" / "data" / "swe-bench-lite-test.json"
HEADING = "## acb eval: the harness checked with gold"


def run(
    config: str, ids: list[str], repos: Path, cache: Path, out: Path, dataset: Path
) -> dict[str, object]:
    executor, workers = config.split(":")
    target = out / config.replace(":", "-")
    # A fresh folder: acb eval resumes from what a folder holds, and a resumed run's wall time
    # would measure nothing.
    shutil.rmtree(target, ignore_errors=True)
    started = time.monotonic()
    command = [sys.executable, "-m", "autocodebase", "eval", "swe-bench"]
    command += ["--dataset", str(dataset), "--instances", ",".join(ids), "--model", "gold"]
    command += ["--repos", str(repos), "--cache", str(cache), "--out", str(target)]
    command += ["--executor", executor, "--workers", workers]
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.monotonic() - started
    if not (target / "report.json").exists():
        raise SystemExit(f"acb eval ({config}) wrote no report: {done.stderr.strip()[-800:]}")
    report = json.loads((target / "report.json").read_text())
    return {"config": config, "wall_s": round(wall, 1), "exit": done.returncode, "report": report}


def section(results: list[dict[str, object]], load: str) -> str:
    first = results[0]["report"]
    assert isinstance(first, dict)
    lines = [
        HEADING,
        "",
        f"Measured {date.today()} on {platform.machine()}, {os.cpu_count()} cores "
        f"(`python bench/eval/run.py`; load average at the start: {load}). "
        f"{first['total']} SWE-bench Lite instances (bench/eval/lite-32.txt), `--model gold`.",
        "",
        "| configuration | resolved | unresolved | environment errors | other errors | wall |",
        "|---|---|---|---|---|---|",
    ]
    for result in results:
        report = result["report"]
        assert isinstance(report, dict)
        lines.append(
            f"| {result['config']} | {len(report['resolved'])} | {len(report['unresolved'])} "
            f"| {len(report['environment_error'])} "
            f"| {len(report['error']) - len(report['environment_error'])} "
            f"| {result['wall_s']} s |"
        )
    lines += ["", "Not resolved with the gold patch, and why (from the first configuration):", ""]
    for instance_id, record in sorted(first["instances"].items()):
        if record["status"] != "resolved":
            reason = record.get("error") or "tests failed: see logs/<id>/eval.log"
            lines.append(f"- {instance_id}: {record['status']}; {str(reason)[:200]}")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=Path, required=True)
    parser.add_argument("--dataset", type=Path, default=DATASET)
    parser.add_argument("--ids", type=Path, default=Path(__file__).with_name("lite-32.txt"))
    parser.add_argument("--configs", default="local:2,local:1,ray:2")
    parser.add_argument(
        "--cache", type=Path, default=Path(f"/var/tmp/acb-bench-eval-{os.getuid()}")
    )
    parser.add_argument(
        "--out", type=Path, default=Path(f"/var/tmp/acb-bench-eval-out-{os.getuid()}")
    )
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    ids = [line.strip() for line in args.ids.read_text().splitlines() if line.strip()]
    load = f"{os.getloadavg()[0]:.2f}"
    results = [
        run(c, ids, args.repos, args.cache, args.out, args.dataset) for c in args.configs.split(",")
    ]
    text = section(results, load)
    print(text)
    if args.write:
        write_section(HEADING, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
