"""What produces the candidate patch: acb itself driving a model, or one of two references that
check the harness rather than a model (`gold` submits the upstream fix and must resolve every
instance whose environment builds; `empty` submits nothing and must resolve none)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autocodebase.evaluation.checkouts import diff_from
from autocodebase.evaluation.environments import SYSTEM_PATH
from autocodebase.evaluation.instances import Instance

REFERENCE_MODELS = ("gold", "empty")


@dataclass(frozen=True)
class Solution:
    patch: str
    exit_status: str
    """The run's outcome (`completed`, `failed`, `max_time`, ...), or `reference`."""
    steps: int = 0
    tokens: dict[str, int] = field(default_factory=dict)
    cost_usd: float | None = None
    run_id: str | None = None
    error: str | None = None


def reference_solution(model: str, instance: Instance) -> Solution:
    return Solution(instance.patch if model == "gold" else "", "reference")


def agent_solution(
    prompt: str,
    worktree: Path,
    model: str,
    timeout_s: int,
    max_cost: float | None,
    log: Path,
    base_commit: str,
    overlay: Path | None,
) -> Solution:
    """`acb exec PROMPT` in `worktree` (with the `overlay` venv first on PATH, when given), as
    a user would run it; the patch is everything it changed since `base_commit`."""
    env = dict(os.environ)
    if overlay is not None:
        env["PATH"] = f"{overlay / 'bin'}{os.pathsep}{SYSTEM_PATH}"
        env["VIRTUAL_ENV"] = str(overlay)
    argv = [
        sys.executable,
        "-m",
        "autocodebase",
        "exec",
        prompt,
        "--model",
        model,
        "--json",
        "--max-minutes",
        f"{max(timeout_s / 60, 0.1):g}",
    ]
    if max_cost is not None:
        argv += ["--max-cost", str(max_cost)]
    with log.open("w") as output:
        try:
            subprocess.run(
                argv,
                cwd=worktree,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                timeout=timeout_s + 120,  # its own limit first; this one only if it hangs
            )
        except subprocess.TimeoutExpired:
            return Solution(diff_from(worktree, base_commit), "timeout", error="hung")
    finished = _run_finished(log)
    patch = diff_from(worktree, base_commit)
    usage = finished.get("usage") or {}
    return Solution(
        patch=patch,
        exit_status=str(finished.get("outcome", "no result")),
        steps=int(finished.get("steps") or 0),
        tokens={k: int(v) for k, v in usage.items() if isinstance(v, int)},
        cost_usd=finished.get("cost_usd"),
        run_id=finished.get("run_id"),
        error=finished.get("error"),
    )


def _run_finished(log: Path) -> dict[str, Any]:
    for line in reversed(log.read_text(errors="replace").splitlines()):
        if line.startswith("{") and '"run_finished"' in line:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            if event.get("type") == "run_finished":
                return dict(event)
    return {}
