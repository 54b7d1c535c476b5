"""acb on real SWE-bench Lite bugs, default settings, end to end: `make bench-real`.

For each instance: a checkout at `base_commit` with the test patch committed, the project's venv
(`bench/real/envs.py`), `acb exec --json` against a scripted model playing the upstream fix
(`bench/real/harness.py`), then SWE-bench's grading on the committed tree. Reports resolved,
wall time, acb's own time by phase, what the test gate ran and the verification status, and
why an instance falls short of issue 16's bar (resolved, within 5 minutes, verified or partly
verified), from the events.

A run acb did not finish (no `run_finished`: it crashed or was killed) is a failed row with its
reason, with no time and none in the aggregates; an instance the harness could not set up or
grade, or could not run at all (no repository, no environment), is named and counted nowhere.
Any of them makes the command exit 1 without writing, unless `--allow-missing`
(bench/outcome.py).

Usage: python bench/real/run.py --repos DIR [--instance ID ...] [--json FILE] [--write]
       [--allow-missing]
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO))

from bench.edits.lite import find_repo
from bench.outcome import add_allow_missing, conclude, failed, one_line
from bench.real.envs import ensure_venv, env_for, install_checkout
from bench.real.harness import (
    TIME_LIMIT_S,
    Result,
    control,
    empty_claim,
    grade,
    judge,
    prepare,
    run_acb,
    script,
)

DATA = REPO.parent / "shared" / "data" / "swe-bench-lite-test.json"
CACHE = Path.home() / ".cache" / "acb-bench"
DEFAULT_INSTANCES = (
    "sympy__sympy-22005",
    "sympy__sympy-24152",
    "sympy__sympy-21614",
    "pallets__flask-4992",
    "pallets__flask-5063",
    "pytest-dev__pytest-11143",
    "pytest-dev__pytest-7432",
    "psf__requests-3362",
    "pylint-dev__pylint-7993",
    "pylint-dev__pylint-7114",
)
"""Two or more per project (requests has one: its other Lite instances test against
httpbin.org), from the versions `envs.ENVS` installs offline."""


def run_one(
    instance: dict[str, Any], git_dir: Path, envs: Path, scratch: Path, events: Path | None = None
) -> Result:
    spec = env_for(instance)
    assert spec is not None
    env_bin = ensure_venv(spec, envs / spec.name)
    workspace = scratch / "work"
    prepared = prepare(git_dir, instance, workspace)
    install_checkout(spec, env_bin, workspace)
    replies = script(instance, workspace)
    # Killed at twice the bar so an over-long run is still measured and reported, not lost.
    run = run_acb(workspace, replies, env_bin, scratch, timeout_s=2 * TIME_LIMIT_S)
    if events is not None:
        events.mkdir(parents=True, exist_ok=True)
        lines = [json.dumps(e) for e in run.events]
        (events / f"{instance['instance_id']}.jsonl").write_text("\n".join(lines) + "\n")
    graded = grade(instance, workspace, env_bin)
    controlled = None if graded.resolved else control(instance, workspace, env_bin, prepared)
    return judge(run, graded, instance["instance_id"], instance["repo"], controlled)


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _s(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def _gate_tests(p: dict[str, float]) -> str:
    if "gate_unfinished" in p:
        return f"{p['gate_unfinished']:.1f} (stopped)"
    return _s(p.get("gate_tests"))


def _overhead(result: Result) -> float:
    """acb's own time: the wall time less the model's answers and the tests it ran."""
    p = result.phases
    tests = p.get("gate_tests", 0.0) + p.get("gate_unfinished", 0.0) + p.get("tool:run_tests", 0.0)
    return result.wall_s - p.get("model", 0.0) - tests


def finished(result: Result) -> bool:
    """Whether acb ended the run (a `run_finished` event, even interrupted): a run that did not
    (acb crashed, or was killed) has no times, only its reason."""
    return result.outcome != "none"


def unmeasured(
    results: list[Result], skipped: list[str], failures: dict[str, str]
) -> dict[str, str]:
    """Instances asked for that have no measurement, and why."""
    out = dict(failures)
    out |= {
        r.instance: f"acb did not finish the run: {r.reason}" for r in results if not finished(r)
    }
    for line in skipped:
        name, _, why = line.partition(" (")
        out[name] = why.rstrip(")")
    return out


def render(
    results: list[Result], skipped: list[str], failures: dict[str, str] | None = None
) -> str:
    """The section. A run acb did not finish is a failed row with its reason (no times, none in
    the aggregates, still not resolved); an instance the harness could not set up or grade is
    named under the table and counted nowhere."""
    failures = failures or {}
    resolved = sum(r.resolved for r in results)
    bar = sum(not r.reason for r in results)
    limited = [r.instance for r in results if r.environment_limited]
    timed = [r for r in results if finished(r)]
    lines = [
        "## Real repositories (SWE-bench Lite, default settings)",
        "",
        f"`make bench-real` (`bench/real/run.py`), {datetime.now(UTC):%Y-%m-%d}, "
        f"{_cpu()}, {_cores()} cores, Linux, Python {platform.python_version()} for acb, "
        f"acb at {_acb_commit()}.",
        "",
        "Method: each instance is cloned at `base_commit` with its test patch committed; the "
        "project gets a venv on the Python SWE-bench's spec names (pyenv), with its pinned "
        "packages from this machine's index, and the checkout installed editable; `acb exec "
        "--json` runs with default settings (fresh acb home and config, no `[test]` "
        "configuration) against the loopback mock playing the upstream fix: search, read, "
        "apply the gold patch in Codex format, `run_tests` on the test patch's files, done, a "
        "commit message. Graded as SWE-bench does, outside acb: every FAIL_TO_PASS and "
        "PASS_TO_PASS test passes on the committed tree. The bar (issue 16): resolved, within "
        f"{TIME_LIMIT_S // 60} minutes, verification `verified` or `partly-verified`.",
        "",
        f"**{resolved} of {len(results)} resolved; {bar} of {len(results)} meet the bar.**"
        + (
            f" {len(limited)} of the misses ({', '.join(limited)}) fail only tests that the "
            "upstream fix alone, applied by git outside acb, fails here too: this machine "
            "cannot pass them."
            if limited
            else ""
        ),
        "",
        "An instance that is not resolved is graded a second time as a control: the upstream "
        "fix applied by git on the prepared commit, no acb.",
        "",
        "| instance | resolved | wall s | acb own s | startup | checkpoint | to 1st request "
        "| tools (no tests) | gate: tests | gate: other | review | commit | tests the gate ran "
        "| verification |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        if not finished(r):
            lines.append(f"| {r.instance} | no | {failed(r.reason)} |" + " – |" * 11)
            continue
        p = r.phases
        tools = sum(v for k, v in p.items() if k.startswith("tool:") and k != "tool:run_tests")
        ran = "; ".join(
            f"{c['verdict']}: {len(c['selected']) or 'whole suite'}"
            f"{' files' if c['selected'] else ''}, {c['passed']} passed, {c['duration_s']:.1f} s"
            for c in r.gate
        )
        lines.append(
            f"| {r.instance} | {'yes' if r.resolved else 'no'} | {r.wall_s:.1f} "
            f"| {_overhead(r):.1f} | {_s(p.get('startup'))} | {_s(p.get('checkpoint'))} "
            f"| {_s(p.get('to_first_request'))} | {tools:.1f} | {_gate_tests(p)} "
            f"| {_s(p.get('gate_other'))} | {_s(p.get('review'))} | {_s(p.get('commit'))} "
            f"| {ran or 'none'} | {r.verification} |"
        )
    if timed:
        walls = [r.wall_s for r in timed]
        unfinished = len(results) - len(timed)
        lines += [
            "",
            f"Wall time{f' (the {len(timed)} runs acb finished)' if unfinished else ''}: "
            f"median {statistics.median(walls):.1f} s, max {max(walls):.1f} s, "
            f"total {sum(walls):.0f} s; acb's own time (wall less the model's answers and "
            f"the tests it ran): median {statistics.median(_overhead(r) for r in timed):.1f}"
            f" s. `run_tests` by the model took "
            f"{sum(r.phases.get('tool:run_tests', 0.0) for r in timed):.0f} s in all, the "
            f"gate's test runs {sum(r.phases.get('gate_tests', 0.0) for r in timed):.0f} s.",
            "",
            "Verification details:",
            "",
            *[f"- {r.instance}: {r.verification} ({r.verification_detail})" for r in timed],
        ]
    short = [r for r in results if r.reason]
    if short:
        lines += ["", "Short of the bar, with the reason from the events:", ""]
        lines += [f"- {r.instance}: {r.reason}" for r in short]
    if failures:
        lines += ["", "Could not be measured (the harness failed; not counted anywhere above):", ""]
        lines += [f"- {name}: {one_line(why, 600)}" for name, why in failures.items()]
    if skipped:
        lines += ["", "Not run: " + "; ".join(skipped) + "."]
    return "\n".join(lines) + "\n"


def _acb_commit() -> str:
    """The commit acb ran from, and whether its source had uncommitted edits then."""
    import subprocess

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
        return done.stdout.strip()

    dirty = git("status", "--porcelain", "--", "src")
    return git("rev-parse", "--short", "HEAD") + (
        " with uncommitted edits in src/" if dirty else ""
    )


def _cores() -> int:
    import os

    return os.cpu_count() or 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repos",
        type=Path,
        required=True,
        help="bare mirrors or clones named owner+name or owner__name",
    )
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--instance", action="append", help="instance id (repeatable)")
    parser.add_argument(
        "--envs",
        type=Path,
        default=CACHE / "real-envs",
        help="where the per-project venvs are kept",
    )
    parser.add_argument("--json", type=Path, help="write every result here")
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    parser.add_argument("--events", type=Path, help="keep each run's --json events here")
    parser.add_argument(
        "--results",
        type=Path,
        action="append",
        help="results of an earlier --json run: kept, not run again",
    )
    parser.add_argument("--keep", action="store_true", help="keep each scratch checkout")
    add_allow_missing(parser)
    args = parser.parse_args(argv)
    wanted = args.instance or list(DEFAULT_INSTANCES)
    instances = {i["instance_id"]: i for i in json.loads(args.data.read_text())}
    results: list[Result] = []
    for earlier in args.results or []:
        for record in json.loads(earlier.read_text()):
            result = Result(**record)
            # Held to today's bar: a check added since that run applies to it too.
            claim = empty_claim(
                result.verification, result.gate, {"detail": record.get("verification_detail", "")}
            )
            if claim and claim not in result.reason:
                result.reason = "; ".join(filter(None, [result.reason, claim]))
            results.append(result)
    done = {r.instance for r in results}
    skipped: list[str] = []
    failures: dict[str, str] = {}
    for name in [w for w in wanted if w not in done]:
        if name not in instances:
            skipped.append(f"{name} (not in {args.data})")
            continue
        instance = instances[name]
        git_dir = find_repo(args.repos, instance["repo"])
        if git_dir is None:
            skipped.append(f"{name} (repository not in {args.repos})")
            continue
        if env_for(instance) is None:
            skipped.append(f"{name} (no offline environment for version {instance['version']})")
            continue
        scratch = Path(tempfile.mkdtemp(prefix=f"acb-real-{name}-"))
        started = time.monotonic()
        try:
            result = run_one(instance, git_dir, args.envs, scratch, args.events)
        except Exception as error:  # one instance's setup or grading failing is that instance's
            failures[name] = f"{type(error).__name__}: {_error_text(error)}"
            print(f"{name}: could not be measured: {failures[name]}", flush=True)
            continue
        finally:
            if not args.keep:
                shutil.rmtree(scratch, ignore_errors=True)
        results.append(result)
        if args.json:  # written as it goes: a long run that is stopped keeps what it measured
            args.json.write_text(json.dumps([r.record() for r in results], indent=1) + "\n")
        print(
            f"{name}: resolved={result.resolved} wall={result.wall_s:.1f}s "
            f"verification={result.verification} ({time.monotonic() - started:.0f} s with "
            f"setup and grading){' — ' + result.reason if result.reason else ''}"
            f"{' [kept ' + str(scratch) + ']' if args.keep else ''}",
            flush=True,
        )
    order = {name: index for index, name in enumerate(wanted)}
    results.sort(key=lambda r: order.get(r.instance, len(order)))
    section = render(results, skipped, failures)
    missing = unmeasured(results, skipped, failures)
    return conclude(
        section, "## Real repositories", args.write, missing, args.allow_missing, "instance"
    )


def _error_text(error: Exception) -> str:
    """An exception's message, with a failed command's own last words when it has them."""
    said = getattr(error, "stderr", None) or getattr(error, "output", None) or ""
    if isinstance(said, bytes):
        said = said.decode(errors="replace")
    return one_line(f"{error} {said[-400:]}", 600)


if __name__ == "__main__":
    raise SystemExit(main())
