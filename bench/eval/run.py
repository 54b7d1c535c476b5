"""The evaluation harness checked with its reference model: `acb eval swe-bench --model gold`
over SWE-bench Lite instances from several projects, with 1 and 2 workers, locally and on Ray.

`gold` submits each instance's upstream fix, so every instance whose environment builds should
come out resolved; what does not is a fact about the environment (the network its tests need,
packages the index lacks) or a fault of the harness, and the table says which instance.

Usage: python bench/eval/run.py --repos DIR [--ids FILE] [--configs local:2,local:1,ray:2]
       [--cache DIR] [--write] [--allow-missing]
The first configuration builds the environments (its wall time includes that); the others reuse
them. `--repos` holds mirrors named owner+name or owner__name (see bench/README.md).

A configuration that writes no report (Ray missing, a crash) is a failed row with its reason,
the others are still run, and the command exits 1 without writing unless `--allow-missing`
(bench/outcome.py).
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

from bench.outcome import add_allow_missing, conclude, failed, one_line

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
    try:
        report = json.loads((target / "report.json").read_text())
    except (OSError, ValueError) as error:  # no report: this configuration measured nothing
        said = one_line((done.stdout + done.stderr)[-800:], 600)
        why = f"acb eval exited {done.returncode} and wrote no report ({error}): {said}"
        return {"config": config, "failed": why}
    return {"config": config, "wall_s": round(wall, 1), "exit": done.returncode, "report": report}


def section(results: list[dict[str, object]], load: str) -> str:
    """The table, one row per configuration; a configuration that produced no report is a
    failed row with its reason, and the reasons per instance come from the first that did."""
    reports = [r for r in results if "failed" not in r]
    first = reports[0]["report"] if reports else {}
    assert isinstance(first, dict)
    total = first.get("total", "–")
    lines = [
        HEADING,
        "",
        f"Measured {date.today()} on {platform.machine()}, {os.cpu_count()} cores "
        f"(`python bench/eval/run.py`; load average at the start: {load}). "
        f"{total} SWE-bench Lite instances (bench/eval/lite-32.txt), `--model gold`.",
        "",
        "| configuration | resolved | unresolved | environment errors | other errors | wall |",
        "|---|---|---|---|---|---|",
    ]
    for result in results:
        if "failed" in result:
            lines.append(
                f"| {result['config']} | {failed(str(result['failed']))} | – | – | – | – |"
            )
            continue
        report = result["report"]
        assert isinstance(report, dict)
        lines.append(
            f"| {result['config']} | {len(report['resolved'])} | {len(report['unresolved'])} "
            f"| {len(report['environment_error'])} "
            f"| {len(report['error']) - len(report['environment_error'])} "
            f"| {result['wall_s']} s |"
        )
    if not reports:
        return "\n".join([*lines, "", "No configuration produced a report."]) + "\n"
    lines += ["", "Not resolved with the gold patch, and why (from the first configuration):", ""]
    for instance_id, record in sorted(first["instances"].items()):
        if record["status"] != "resolved":
            reason = record.get("error") or "tests failed: see logs/<id>/eval.log"
            lines.append(f"- {instance_id}: {record['status']}; {str(reason)[:200]}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
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
    add_allow_missing(parser)
    args = parser.parse_args(argv)
    ids = [line.strip() for line in args.ids.read_text().splitlines() if line.strip()]
    load = f"{os.getloadavg()[0]:.2f}"
    results = [
        run(c, ids, args.repos, args.cache, args.out, args.dataset) for c in args.configs.split(",")
    ]
    missing = {str(r["config"]): str(r["failed"]) for r in results if "failed" in r}
    text = section(results, load)
    return conclude(text, HEADING, args.write, missing, args.allow_missing, "configuration")


if __name__ == "__main__":
    sys.exit(main())
