"""One instance from checkout to grade, run in a process of its own.

Each instance runs in a child process (`python -m autocodebase.evaluation.pipeline`), whichever
executor started it: a worker that dies (killed, out of memory) takes only its instance with it,
and the executor retries it; the local pool and Ray run exactly the same code, so their results
are the same.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

from autocodebase.errors import AcbError
from autocodebase.evaluation.checkouts import CheckoutFailed, checkout, source_for
from autocodebase.evaluation.environments import (
    OVERLAY,
    EnvironmentUnavailable,
    build_base,
    install_checkout,
    make_overlay,
    private_cache,
)
from autocodebase.evaluation.era import parse_packages_before
from autocodebase.evaluation.grading import grade
from autocodebase.evaluation.instances import Instance, instance_from_record
from autocodebase.evaluation.results import InstanceResult, load_result, save_result
from autocodebase.evaluation.solvers import REFERENCE_MODELS, agent_solution, reference_solution


@dataclass(frozen=True)
class Options:
    """Everything a worker needs, as plain data (it crosses a process or a Ray boundary)."""

    model: str
    out: str
    cache: str
    repos: str | None = None
    timeout_s: int = 1800
    max_cost: float | None = None
    keep: bool = False
    """Keep the checkouts after grading (for inspection)."""
    grading_network: bool = False
    """Let the graded tests use the network (the sandbox's network is off otherwise)."""
    packages_before: str | None = None
    """`--packages-before` as given (a date or `none`); None: each instance's default."""
    max_builds: int = 2
    """Environment builds at once on one machine (`locks.build_slot`)."""
    worker: tuple[str, ...] = ()
    """The command that evaluates one instance (reads it on stdin); empty: this Python's
    `-m autocodebase.evaluation.pipeline` (`.batch` for batch tasks). A cluster whose workers
    keep acb elsewhere sets it."""
    job: str = "pipeline"
    """Which worker module handles a record: `pipeline` (SWE-bench) or `batch` (acb batch)."""


def evaluate(instance: Instance, options: Options) -> InstanceResult:
    """Check out, build or reuse the environment, solve, grade; never raises."""
    started = time.monotonic()
    out = Path(options.out)
    work = out / "work" / instance.instance_id
    logs = out / "logs" / instance.instance_id
    logs.mkdir(parents=True, exist_ok=True)
    environment = ""

    def finish(status: str, **fields: object) -> InstanceResult:
        return InstanceResult(
            instance_id=instance.instance_id,
            status=status,  # type: ignore[arg-type]
            model=options.model,
            environment=environment,
            wall_s=round(time.monotonic() - started, 1),
            **fields,  # type: ignore[arg-type]
        )

    try:
        cache = private_cache(Path(options.cache))
        source = source_for(instance.repo, Path(options.repos) if options.repos else None, cache)
        tree = checkout(source, instance.base_commit, work / "agent")
        try:
            era = parse_packages_before(options.packages_before)
            env = build_base(instance, tree, cache, era, options.max_builds)
        except EnvironmentUnavailable as exc:
            environment = f"not built: {exc}"
            return finish("environment_error", error=str(exc))
        environment = env.describe()
        if options.model in REFERENCE_MODELS:
            solution = reference_solution(options.model, instance)
        else:
            make_overlay(env, tree)
            try:
                install_checkout(env, tree, cache, options.timeout_s)
            except EnvironmentUnavailable as exc:
                environment = f"{environment}, install failed"
                return finish("environment_error", error=str(exc))
            solution = agent_solution(
                instance.problem_statement,
                tree,
                options.model,
                options.timeout_s,
                options.max_cost,
                logs / "agent.jsonl",
                base_commit=instance.base_commit,
                overlay=tree / OVERLAY,
            )
        try:
            result = grade(
                instance,
                solution.patch,
                env,
                source,
                work,
                options.timeout_s,
                cache,
                network=options.grading_network,
            )
        except EnvironmentUnavailable as exc:
            environment = f"{environment}, not testable"
            if (work / "eval.log").is_file():
                shutil.copy(work / "eval.log", logs / "eval.log")
            return finish("environment_error", patch=solution.patch, error=str(exc))
        shutil.copy(result.log, logs / "eval.log")
        return finish(
            "resolved" if result.resolved else "unresolved",
            patch=solution.patch,
            exit_status=solution.exit_status,
            steps=solution.steps,
            tokens=solution.tokens,
            cost_usd=solution.cost_usd,
            run_id=solution.run_id,
            error=solution.error,
            tests_status=result.tests_status,
        )
    except (CheckoutFailed, AcbError) as exc:
        return finish("error", error=str(exc))
    except Exception as exc:  # a bug of ours: recorded with the instance, the batch goes on
        (logs / "traceback.txt").write_text(traceback.format_exc())
        return finish("error", error=f"internal error: {exc!r} (see logs/{instance.instance_id})")
    finally:
        if not options.keep:
            shutil.rmtree(work, ignore_errors=True)


def run_in_child(record: dict[str, object], options: Options) -> InstanceResult | None:
    """Evaluate one instance in a child process; None when the child died without a result."""
    instance_id = str(record.get("instance_id") or record.get("id"))
    payload = json.dumps({"instance": record, "options": asdict(options)})
    done = subprocess.run(
        list(options.worker) or [sys.executable, "-m", f"autocodebase.evaluation.{options.job}"],
        input=payload,
        text=True,
        capture_output=True,
    )
    if done.returncode != 0:
        log = Path(options.out) / "logs" / instance_id / "worker.txt"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(f"exit {done.returncode}\n{done.stdout}\n{done.stderr}")
        return None
    return load_result(Path(options.out), instance_id)


def read_payload() -> tuple[dict[str, object], Options]:
    """A worker's input on stdin: its record and the run's options."""
    payload = json.load(sys.stdin)
    options = Options(**{**payload["options"], "worker": tuple(payload["options"]["worker"])})
    return payload["instance"], options


def main() -> int:
    """The child's side: read the instance and options on stdin, write the result file."""
    record, options = read_payload()
    instance = instance_from_record(record, "worker input")
    save_result(Path(options.out), evaluate(instance, options))
    return 0


if __name__ == "__main__":
    sys.exit(main())
