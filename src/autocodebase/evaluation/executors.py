"""Where instances run: a pool of local workers, or tasks on a Ray cluster.

Both hand each instance to `pipeline.run_in_child`, so results do not depend on the executor. A
worker that dies without a result is retried (`ATTEMPTS` in all); Ray also retries a task whose
worker process died (`max_retries`). On each machine, file locks in the environment cache let
one worker build a given environment and at most `--max-builds` build at once
(`locks.build_slot`); at most `workers` instances (and so sandboxes) run at once.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict
from typing import Any

from autocodebase.errors import UsageError
from autocodebase.evaluation.pipeline import Options, run_in_child
from autocodebase.evaluation.results import InstanceResult

ATTEMPTS = 2
OnResult = Callable[[InstanceResult], None]


def _died(record: dict[str, Any], options: Options) -> InstanceResult:
    return InstanceResult(
        instance_id=str(record.get("instance_id") or record.get("id")),
        status="error",
        model=options.model,
        error=f"the worker died {ATTEMPTS} times without a result (logs/<id>/worker.txt)",
    )


def attempt(record: dict[str, Any], options: Options) -> InstanceResult:
    for _ in range(ATTEMPTS):
        result = run_in_child(record, options)
        if result is not None:
            return result
    return _died(record, options)


def run_local(
    records: Iterable[dict[str, Any]], options: Options, workers: int, on_result: OnResult
) -> None:
    with ThreadPoolExecutor(max_workers=max(workers, 1)) as pool:
        futures = [pool.submit(attempt, record, options) for record in records]
        for future in as_completed(futures):
            on_result(future.result())


def run_ray(
    records: Iterable[dict[str, Any]],
    options: Options,
    workers: int,
    on_result: OnResult,
    address: str | None,
) -> None:
    """Each instance a Ray task of one CPU. Without `address`, a local Ray instance is started
    (and stopped at the end); with one (`ray://host:10001` or `auto`), the cluster's workers
    need acb installed and the dataset's repositories reachable (`--repos` on a shared path, or
    the network)."""
    try:
        import ray
    except ImportError as exc:
        raise UsageError("--executor ray needs Ray: pip install 'autocodebase[eval]'") from exc
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    started_here = not ray.is_initialized()
    if started_here:
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=max(workers, 1), include_dashboard=False, log_to_driver=False)
    try:
        task = ray.remote(num_cpus=1, max_retries=ATTEMPTS)(attempt_as_dict)
        pending = [task.remote(record, asdict(options)) for record in records]
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for ref in ready:
                on_result(InstanceResult(**ray.get(ref)))
    finally:
        if started_here:
            ray.shutdown()


def attempt_as_dict(record: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """A Ray task's body: plain data in and out, so no acb class needs pickling by reference."""
    return asdict(attempt(record, Options(**{**options, "worker": tuple(options["worker"])})))


def run_on(
    executor: str,
    records: Iterable[dict[str, Any]],
    options: Options,
    workers: int,
    on_result: OnResult,
    ray_address: str | None = None,
) -> None:
    """`run_local` or `run_ray`, as `--executor` says (acb eval and acb batch alike)."""
    if executor == "ray":
        run_ray(records, options, workers, on_result, ray_address)
    else:
        run_local(records, options, workers, on_result)
