"""Test generation that learns from its outcomes, measured (issue 24 item 3): three rounds of
`acb tests --mutation` on two real modules of fetched repositories, with scripted candidates
(bench/testgen/candidates.py) that include the failure kinds the memory must learn from.

Per round: the strategy and lessons the round was given (read from its recorded request to the
loopback model server), the candidates' verdicts, acceptance rate, line+branch coverage of the
project and mutation score of the module before and after; and whether every kind of rejection
of round N reached the request of round N+1.

Usage: python bench/testgen/run.py --repos DIR [--cache DIR] [--write] [--allow-missing]
`--repos` holds mirrors or clones named owner+name or owner__name (pallets+itsdangerous,
pallets+markupsafe; see bench/README.md). Each module's repository is cloned into the cache at
the commit recorded below, given a venv (the project, pytest, coverage, hypothesis) and a ledger
of its own, so its rounds share a memory and nothing else does.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import itertools

from tests.fakes.mock_server import MockModelServer, Reply

from bench.outcome import add_allow_missing, conclude, one_line
from bench.testgen.candidates import MODULES

HEADING = "## acb tests: test generation that learns from its outcomes"
COMMITS = {
    "itsdangerous": ("pallets+itsdangerous", "672971d66a2ef9f85151e53283113f33d642dabd"),
    "markupsafe": ("pallets+markupsafe", "1251593f6b0e3b45f2cc8aba662622bc22d6a5e2"),
}
EXTRA_PACKAGES = {"itsdangerous": ["freezegun"], "markupsafe": []}
LESSONS_START = "Lessons from earlier generated tests"


def source(repos: Path, name: str) -> Path:
    folder = COMMITS[name][0]
    for candidate in (repos / folder, repos / folder.replace("+", "__")):
        for inner in (candidate / "repo", candidate):
            if (inner / "HEAD").is_file() or (inner / ".git").exists():
                return inner
    raise SystemExit(f"no {folder} under {repos}")


def prepare(name: str, repos: Path, cache: Path) -> Path:
    """A fresh clone at the recorded commit with a venv inside (excluded from git)."""
    work = cache / name
    shutil.rmtree(work, ignore_errors=True)
    subprocess.run(["git", "clone", "-q", str(source(repos, name)), str(work)], check=True)
    subprocess.run(["git", "-C", str(work), "checkout", "-q", COMMITS[name][1]], check=True)
    with (work / ".git" / "info" / "exclude").open("a") as exclude:
        exclude.write("\n/.venv/\n")
    python = shutil.which("python3.11") or sys.executable
    subprocess.run([python, "-m", "venv", str(work / ".venv")], check=True)
    packages = ["-e", ".", "pytest", "coverage", "hypothesis", *EXTRA_PACKAGES[name]]
    subprocess.run(
        [str(work / ".venv/bin/python"), "-m", "pip", "install", "-q", *packages],
        cwd=work,
        check=True,
        capture_output=True,
    )
    return work


def fenced(modules: list[str]) -> str:
    return "Here are tests.\n\n" + "\n".join(f"```python\n{m}```\n" for m in modules)


def acb_tests(work: Path, home: Path, target: str, modules: list[str]) -> dict[str, Any]:
    """One round: `acb tests TARGET --mutation --max-rounds 1` against a server playing the
    round's candidates; the output, the request it received and the time it took."""
    with MockModelServer([Reply(fenced(modules))]) as server:
        env = {
            **os.environ,
            "ACB_HOME": str(home),
            "OPENAI_API_KEY": "sk-bench-0123456789abcdef",
            "OPENAI_BASE_URL": server.url + "/v1",
            # The project's venv first: the sandboxed `python -m pytest` is the project's.
            "PATH": f"{work / '.venv/bin'}{os.pathsep}{os.environ['PATH']}",
        }
        started = time.monotonic()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "autocodebase",
                "tests",
                target,
                "--mutation",
                "--max-rounds",
                "1",
                "--no-commit",
                "-m",
                "openai/mock-model",
            ],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=3600,
        )
        wall = time.monotonic() - started
        prompts = [r.body["messages"][1]["content"] for r in server.requests]
    return {"done": done, "wall_s": wall, "prompt": prompts[0] if prompts else ""}


def line_after(prefix: str, text: str) -> str:
    return next((line for line in text.splitlines() if line.startswith(prefix)), "")


def events(home: Path, kind: str) -> list[dict[str, Any]]:
    """The ledger's events of `kind`, oldest first, each with its run id."""
    with sqlite3.connect(home / "ledger.db") as ledger:
        rows = ledger.execute(
            "SELECT run_id, payload FROM events WHERE type = ? ORDER BY ts, seq", (kind,)
        ).fetchall()
    return [{**json.loads(payload), "run_id": run_id} for run_id, payload in rows]


def measure_module(name: str, repos: Path, cache: Path) -> list[dict[str, Any]]:
    spec = MODULES[name]
    target = str(spec["target"])
    work = prepare(name, repos, cache)
    home = cache / f"home-{name}"
    shutil.rmtree(home, ignore_errors=True)
    rounds: list[dict[str, Any]] = []
    for number, modules in enumerate(spec["rounds"], start=1):
        ran = acb_tests(work, home, target, list(modules))
        done = ran["done"]
        (work / "tests" / ".acb-bench-runs").unlink(missing_ok=True)
        if done.returncode != 0:
            why = one_line((done.stdout + done.stderr)[-600:], 400)
            rounds.append({"module": name, "round": number, "failed": why})
            break
        subprocess.run(["git", "-C", str(work), "add", "-A"], check=True)
        subprocess.run(
            [
                "git",
                "-C",
                str(work),
                "-c",
                "user.name=bench",
                "-c",
                "user.email=bench@acb",
                "commit",
                "-qm",
                f"round {number}",
                "--allow-empty",
            ],
            check=True,
        )
        run_id = events(home, "run_started")[-1]["run_id"]
        verdicts = [e for e in events(home, "test_candidate") if e["run_id"] == run_id]
        given = [e for e in events(home, "test_lessons") if e["run_id"] == run_id]
        prompt = str(ran["prompt"])
        rounds.append(
            {
                "module": name,
                "round": number,
                "strategy": given[0]["strategy"] if given else "?",
                "lessons": given[0]["lessons"] if given else [],
                "verdicts": [(v["category"], v["verdict"]) for v in verdicts],
                "coverage": line_after("coverage (lines+branches):", done.stdout),
                "mutation": line_after("mutation score", done.stdout),
                "wall_s": round(float(ran["wall_s"]), 1),
                "prompt_has_lessons": LESSONS_START in prompt,
                "prompt": prompt,
            }
        )
    for earlier, later in itertools.pairwise(rounds):
        if "failed" in earlier or "failed" in later:
            continue
        kinds = sorted({c for c, v in earlier["verdicts"] if v == "rejected"})
        carried = [k for k in kinds if f"{k} ×" in later["prompt"]]
        later["carried"] = (carried, kinds)
    return rounds


def section(results: list[dict[str, Any]], load: str) -> str:
    lines = [
        HEADING,
        "",
        f"Measured {date.today()} on {platform.machine()}, {os.cpu_count()} cores "
        f"(`python bench/testgen/run.py`; load average at the start: {load}). Two real modules "
        "of fetched repositories (itsdangerous "
        f"{COMMITS['itsdangerous'][1][:10]}, markupsafe {COMMITS['markupsafe'][1][:10]}), "
        "three rounds of `acb tests MODULE --mutation --max-rounds 1` each, one ledger per "
        "module. The candidates are scripted (bench/testgen/candidates.py, written by us: no "
        "model is reachable here), so acceptance measures acb's judging; what the rounds show "
        "is what each was told, read from its recorded request.",
        "",
        "| module | round | strategy given | candidates | kept | acceptance | verdicts | "
        "coverage (project) | mutation score (module) | lessons of the round before in the "
        "request | wall |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in results:
        if "failed" in row:
            lines.append(f"| {row['module']} | {row['round']} | failed: {row['failed']} |")
            continue
        verdicts = row["verdicts"]
        kept = sum(1 for _, v in verdicts if v == "kept")
        rate = f"{kept / len(verdicts):.0%}" if verdicts else "–"
        counted: dict[str, int] = {}
        for category, _ in verdicts:
            counted[category] = counted.get(category, 0) + 1
        shown = ", ".join(f"{n} {c}" for c, n in counted.items())
        coverage = row["coverage"].split(":", 1)[-1].split("(")[0].strip()
        mutation = row["mutation"].split(":", 1)[-1].strip()
        if "carried" in row:
            carried, kinds = row["carried"]
            told = f"{len(carried)} of {len(kinds)} kinds ({', '.join(carried) or 'none'})"
        else:
            told = "– (first round)"
        lines.append(
            f"| {row['module']} | {row['round']} | {row['strategy']} | {len(verdicts)} | {kept} "
            f"| {rate} | {shown} | {coverage} | {mutation} | {told} | {row['wall_s']} s |"
        )
    last = next((r for r in reversed(results) if r.get("prompt_has_lessons")), None)
    if last is not None:
        start = last["prompt"].index(LESSONS_START)
        excerpt = last["prompt"][start:].split("\n\nWrite tests")[0]
        lines += [
            "",
            f"What round {last['round']} of {last['module']} was told (from its recorded request):",
            "",
            "```text",
            excerpt.strip(),
            "```",
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=Path, required=True)
    parser.add_argument(
        "--cache", type=Path, default=Path(f"/var/tmp/acb-bench-testgen-{os.getuid()}")
    )
    parser.add_argument("--modules", default=",".join(MODULES))
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    add_allow_missing(parser)
    args = parser.parse_args(argv)
    load = f"{os.getloadavg()[0]:.2f}"
    results: list[dict[str, Any]] = []
    for name in args.modules.split(","):
        results += measure_module(name, args.repos, args.cache)
    missing = {f"{r['module']} round {r['round']}": r["failed"] for r in results if "failed" in r}
    return conclude(
        section(results, load), HEADING, args.write, missing, args.allow_missing, "round"
    )


if __name__ == "__main__":
    sys.exit(main())
