"""`acb batch TASKS.jsonl`: many `acb exec` runs at once, each in a checkout of its own, on a
local pool or a Ray cluster; results in OUT/results.jsonl, resumable.

Exit codes: 0 when every task's run completed, 1 when any failed or could not start, 2 for
bad usage.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import click

from autocodebase.cli.options import executor_options
from autocodebase.errors import UsageError


@click.command("batch")
@click.argument("tasks", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--model", "-m", required=True, help="PROVIDER/NAME, as for acb exec.")
@executor_options
@click.option(
    "--out",
    default="acb-batch",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where results.jsonl, patches, logs and each task's checkout go; re-running resumes.",
)
@click.option("--timeout-s", default=1800, show_default=True, type=click.IntRange(10))
@click.option("--max-cost", type=click.FloatRange(0), help="USD per task (acb's --max-cost).")
@click.option(
    "--cache",
    type=click.Path(file_okay=False, path_type=Path),
    help="Clones of task repositories given by URL (default: $ACB_EVAL_CACHE or "
    "/var/tmp/acb-eval-UID).",
)
def batch_command(
    tasks: Path,
    model: str,
    workers: int,
    executor: str,
    ray_address: str | None,
    out: Path,
    timeout_s: int,
    max_cost: float | None,
    cache: Path | None,
) -> None:
    """Run each task of TASKS (JSON lines: repo, ref, prompt, test_command) with `acb exec`."""
    from autocodebase.evaluation.batch import load_tasks, write_results
    from autocodebase.evaluation.environments import default_cache, private_cache
    from autocodebase.evaluation.executors import run_on
    from autocodebase.evaluation.pipeline import Options
    from autocodebase.evaluation.results import InstanceResult, load_results, save_result

    chosen = load_tasks(tasks)
    if not chosen:
        raise UsageError(f"{tasks} holds no tasks")
    out = out.resolve()
    for task in chosen:  # relative repository paths are the tasks file's
        repo = Path(str(task["repo"])).expanduser()
        if not repo.is_absolute() and (tasks.parent / repo).is_dir():
            task["repo"] = str((tasks.parent / repo).resolve())
    finished = load_results(out)
    todo = [t for t in chosen if t["id"] not in finished]
    options = Options(
        model=model,
        out=str(out),
        cache=str(private_cache((cache or default_cache()).resolve())),
        timeout_s=timeout_s,
        max_cost=max_cost,
        keep=True,
        job="batch",
    )
    skipped = len(chosen) - len(todo)
    click.echo(
        f"acb batch: {len(todo)} task(s) with {model} on {executor} ({workers} worker(s))"
        f"{f', {skipped} already done' if skipped else ''}; results in {out}",
        err=True,
    )
    order = {t["id"]: n for n, t in enumerate(chosen)}
    lock = threading.Lock()

    def ordered() -> list[InstanceResult]:
        return sorted(
            (r for r in finished.values() if r.instance_id in order),
            key=lambda r: order[r.instance_id],
        )

    def on_result(result: InstanceResult) -> None:
        with lock:
            save_result(out, result)
            finished[result.instance_id] = result
            write_results(out, ordered())
            mark = "✓" if result.status == "completed" else "✗"
            why = f": {result.error}" if result.error else ""
            click.echo(
                f"  {mark} {result.instance_id} {result.exit_status or result.status} "
                f"({result.wall_s:.0f} s, run {result.run_id or '-'}){why}",
                err=True,
            )

    try:
        run_on(executor, todo, options, workers, on_result, ray_address)
    except KeyboardInterrupt:
        click.echo(f"interrupted: finished tasks are kept in {out}; re-run to resume", err=True)
        sys.exit(130)
    done = ordered()
    write_results(out, done)
    completed = sum(r.status == "completed" for r in done)
    click.echo(f"completed {completed}/{len(done)}; {out / 'results.jsonl'}")
    sys.exit(0 if completed == len(done) else 1)
