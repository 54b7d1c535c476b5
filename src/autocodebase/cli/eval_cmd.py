"""`acb eval swe-bench`: acb (or a reference model) over SWE-bench-format instances, graded by
the official harness's own functions, on a local pool or a Ray cluster, resumable.

Exit codes: 0 when every selected instance was graded (resolved or not), 1 when some could not
be (environment or other errors), 2 for bad usage.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import click

from autocodebase.cli.options import executor_options
from autocodebase.errors import UsageError


@click.group("eval")
def eval_command() -> None:
    """Evaluate on public suites (SWE-bench), graded the official way."""


@eval_command.command("swe-bench")
@click.option(
    "--dataset",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="SWE-bench JSON or JSONL file.",
)
@click.option("--instances", "ids", metavar="ID,ID,...", help="Only these instances.")
@click.option("--slice", "slice_spec", metavar="A:B", help="Only instances A to B-1.")
@click.option(
    "--model",
    "-m",
    required=True,
    help="PROVIDER/NAME for acb, or a reference: gold (the upstream fix), empty (no change).",
)
@executor_options
@click.option(
    "--out",
    default="acb-eval",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where preds.jsonl, report.json, report.md and logs go; re-running resumes.",
)
@click.option(
    "--timeout-s",
    default=1800,
    show_default=True,
    type=click.IntRange(10),
    help="Per instance: the agent's run, then the tests.",
)
@click.option("--max-cost", type=click.FloatRange(0), help="USD per instance (acb's --max-cost).")
@click.option(
    "--repos",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Local clones or mirrors named owner__name or owner+name, used instead of cloning.",
)
@click.option(
    "--cache",
    type=click.Path(file_okay=False, path_type=Path),
    help="Environments and clones (default: $ACB_EVAL_CACHE or /var/tmp/acb-eval-UID).",
)
@click.option("--keep", is_flag=True, help="Keep each instance's checkouts under OUT/work.")
@click.option(
    "--grading-network",
    is_flag=True,
    help="Let the graded tests use the network (off by default; some projects' tests call "
    "web services, and their results then depend on those).",
)
@click.option(
    "--packages-before",
    metavar="DATE|none",
    help="Environments get the packages uploaded before DATE (YYYY-MM-DD); none: today's. "
    "Default: 2024-08-01 for SWE-bench's specs (their era), an instance's own "
    "environment's packages_before otherwise.",
)
@click.option(
    "--max-builds",
    default=2,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Environment builds at once on each machine (a build downloads, compiles and "
    "installs; instances whose environment is built do not wait).",
)
def swe_bench(
    dataset: Path,
    ids: str | None,
    slice_spec: str | None,
    model: str,
    workers: int,
    executor: str,
    ray_address: str | None,
    out: Path,
    timeout_s: int,
    max_cost: float | None,
    repos: Path | None,
    cache: Path | None,
    keep: bool,
    grading_network: bool,
    packages_before: str | None,
    max_builds: int,
) -> None:
    """Run MODEL on each instance and grade it: FAIL_TO_PASS and PASS_TO_PASS, as the
    leaderboard does. Environments are venvs built here from SWE-bench's specs (no Docker)."""
    from autocodebase.evaluation.environments import default_cache
    from autocodebase.evaluation.era import parse_packages_before
    from autocodebase.evaluation.executors import run_on
    from autocodebase.evaluation.instances import load_instances, select
    from autocodebase.evaluation.pipeline import Options
    from autocodebase.evaluation.results import (
        InstanceResult,
        load_results,
        save_result,
        write_reports,
    )

    _require_swebench()
    parse_packages_before(packages_before)  # a bad date fails here, not in every worker
    chosen = select(
        load_instances(dataset),
        [i.strip() for i in ids.split(",") if i.strip()] if ids else (),
        slice_spec,
    )
    if not chosen:
        raise UsageError("no instances selected")
    out = out.resolve()
    finished = load_results(out)
    others = sorted({r.model for r in finished.values()} - {model})
    if others:
        raise UsageError(
            f"{out} holds results of another model ({others[0]}): choose another --out"
        )
    todo = [i for i in chosen if i.instance_id not in finished]
    options = Options(
        model=model,
        out=str(out),
        cache=str((cache or default_cache()).resolve()),
        repos=str(repos.resolve()) if repos else None,
        timeout_s=timeout_s,
        max_cost=max_cost,
        keep=keep,
        grading_network=grading_network,
        packages_before=packages_before,
        max_builds=max_builds,
    )
    skipped = len(chosen) - len(todo)
    click.echo(
        f"acb eval: {len(todo)} instance(s) to run with {model} on {executor} "
        f"({workers} worker(s)){f', {skipped} already done' if skipped else ''}; results in {out}",
        err=True,
    )
    lock = threading.Lock()
    wanted = {i.instance_id for i in chosen}

    def on_result(result: InstanceResult) -> None:
        with lock:
            save_result(out, result)  # a died worker's error result is saved here too
            finished[result.instance_id] = result
            done = [r for r in finished.values() if r.instance_id in wanted]
            write_reports(out, done, model)
            mark = {"resolved": "✓", "unresolved": "✗"}.get(result.status, "!")
            why = f": {result.error}" if result.status not in ("resolved", "unresolved") else ""
            click.echo(
                f"  {mark} {result.instance_id} {result.status} "
                f"({result.wall_s:.0f} s; {len(done)}/{len(chosen)}){why}",
                err=True,
            )

    records = [i.raw for i in todo]
    try:
        run_on(executor, records, options, workers, on_result, ray_address)
    except KeyboardInterrupt:
        click.echo(f"interrupted: finished instances are kept in {out}; re-run to resume", err=True)
        sys.exit(130)
    done = [r for r in finished.values() if r.instance_id in wanted]
    report = write_reports(out, done, model)
    click.echo(
        f"resolved {len(report['resolved'])}/{len(done)}; unresolved "
        f"{len(report['unresolved'])}; errors {len(report['error'])} "
        f"({len(report['environment_error'])} environment); {out / 'report.md'}"
    )
    sys.exit(1 if report["error"] else 0)


def _require_swebench() -> None:
    try:
        import swebench  # noqa: F401
    except ImportError as exc:
        raise UsageError(
            "acb eval needs the official SWE-bench package: pip install 'autocodebase[eval]'"
        ) from exc
