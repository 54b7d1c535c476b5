"""`acb batch`: a team's own tasks, each an `acb exec` run in a checkout of its repository, on
the same executors as the evaluation (a local pool or Ray), one ledger run and one result line
per task.

A task is a JSON line: `{"id": "...", "repo": PATH-or-URL, "ref": "main", "prompt": "...",
"test_command": "..."}` (`id`, `ref` and `test_command` optional). Each task's checkout is kept
in `OUT/work/<id>` with the run's commit on the branch `acb-batch`, and its change is also
written to `OUT/patches/<id>.patch`; the repository itself is never touched.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from autocodebase.errors import AcbError, UsageError
from autocodebase.evaluation.checkouts import CheckoutFailed, checkout, git
from autocodebase.evaluation.instances import checked_name
from autocodebase.evaluation.pipeline import Options, read_payload
from autocodebase.evaluation.results import InstanceResult, save_result
from autocodebase.evaluation.solvers import agent_solution


def load_tasks(path: Path) -> list[dict[str, Any]]:
    """The tasks of a JSONL file, each given an id (its own, or `task-N`)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    tasks: list[dict[str, Any]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            task = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path}:{number}: not JSON: {exc.msg}") from exc
        if not isinstance(task, dict) or not task.get("repo") or not task.get("prompt"):
            raise UsageError(f"{path}:{number}: a task needs 'repo' and 'prompt'")
        task.setdefault("id", f"task-{number}")
        task["id"] = checked_name(str(task["id"]), "id", f"{path}:{number}")
        tasks.append(task)
    ids = [t["id"] for t in tasks]
    if len(set(ids)) != len(ids):
        raise UsageError(f"{path}: task ids must be unique")
    return tasks


def _source(repo: str, cache: Path) -> Path:
    """A local repository as it is; a URL cloned once (bare) into the cache."""
    local = Path(repo).expanduser()
    if local.is_dir():
        return local.resolve()
    mirror = cache / "repos" / hashlib.sha256(repo.encode()).hexdigest()[:16]
    if not (mirror / "HEAD").is_file():
        mirror.parent.mkdir(parents=True, exist_ok=True)
        git(mirror.parent, "clone", "--quiet", "--mirror", repo, str(mirror))
    return mirror


def run_task(task: dict[str, Any], options: Options) -> InstanceResult:
    """Check the task's repository out at its ref and run `acb exec` there; never raises."""
    started = time.monotonic()
    out = Path(options.out)
    task_id = str(task["id"])
    logs = out / "logs" / task_id
    logs.mkdir(parents=True, exist_ok=True)
    try:
        source = _source(str(task["repo"]), Path(options.cache))
        git_dir = source if (source / "objects").is_dir() else source / ".git"
        ref = str(task.get("ref") or "HEAD")
        commit = git(source, f"--git-dir={git_dir}", "rev-parse", "--verify", f"{ref}^{{commit}}")
        tree = checkout(source, commit.strip(), out / "work" / task_id)
        git(tree, "checkout", "--quiet", "-B", "acb-batch")
        test_command = task.get("test_command")
        if test_command:
            os.environ["ACB_TEST_COMMAND"] = str(test_command)  # this worker runs one task
        solution = agent_solution(
            str(task["prompt"]),
            tree,
            options.model,
            options.timeout_s,
            options.max_cost,
            logs / "agent.jsonl",
            base_commit=commit.strip(),
            overlay=None,
        )
    except (CheckoutFailed, AcbError) as exc:
        return InstanceResult(
            task_id, "error", options.model, error=str(exc), wall_s=_since(started)
        )
    patches = out / "patches"
    patches.mkdir(parents=True, exist_ok=True)
    (patches / f"{task_id}.patch").write_text(solution.patch)
    return InstanceResult(
        instance_id=task_id,
        status="completed" if solution.exit_status == "completed" else "failed",
        model=options.model,
        patch=solution.patch,
        environment=f"{task['repo']}@{task.get('ref') or 'HEAD'}",
        exit_status=solution.exit_status,
        steps=solution.steps,
        tokens=solution.tokens,
        cost_usd=solution.cost_usd,
        wall_s=_since(started),
        run_id=solution.run_id,
        error=solution.error,
    )


def _since(started: float) -> float:
    return round(time.monotonic() - started, 1)


def write_results(out: Path, results: list[InstanceResult]) -> None:
    """`results.jsonl`: one line per finished task, in task order."""
    lines = []
    for result in results:
        record = {
            "id": result.instance_id,
            "status": result.status,
            "outcome": result.exit_status,
            "run_id": result.run_id,
            "steps": result.steps,
            "tokens": result.tokens,
            "cost_usd": result.cost_usd,
            "wall_s": result.wall_s,
            "repo": result.environment,
            "patch": f"patches/{result.instance_id}.patch" if result.patch else None,
            "error": result.error,
        }
        lines.append(json.dumps(record) + "\n")
    partial = out / ".results.jsonl.partial"
    partial.write_text("".join(lines))
    partial.replace(out / "results.jsonl")


def main() -> int:
    record, options = read_payload()
    save_result(Path(options.out), run_task(dict(record), options))
    return 0


if __name__ == "__main__":
    sys.exit(main())
