"""One autopilot attempt as `acb resolve` does a task file: the branch in a worktree of its
own, then an `acb exec` run there (approvals never, test and review gates on, commit on), with
the task's acceptance command as the run's test command. `resolve_flow` does both steps; this
module only builds its `Plan` and reads the outcome back as an `AttemptResult`."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from autocodebase.autopilot.gates import AttemptResult
from autocodebase.autopilot.loop import Job
from autocodebase.errors import AcbError
from autocodebase.forge.refs import ForgeRef
from autocodebase.forge.tokens import Token


@dataclass
class ResolveRunner:
    """The `TaskRunner` the command hands the loop."""

    root: Path
    model: str | None
    as_json: bool = False
    max_steps: int | None = None
    forge: ForgeRef | None = None
    """The project an issue's task comes from: the run is told it resolves that issue (the
    body as untrusted text, `forge.issues.task_text`), and its record redacts the token."""
    token: Token | None = None

    def __call__(self, job: Job) -> AttemptResult:
        from autocodebase.cli.resolve_flow import Plan, run_issue
        from autocodebase.forge.base import Issue

        task = job.task
        text = task.text
        if job.previous_failure:
            text += (
                f"\n\nThis is attempt {job.attempt}. The one before did not pass: "
                f"{job.previous_failure}"
            )
        ref = None
        if self.forge is not None and task.number is not None:
            ref = replace(self.forge, number=task.number, kind="issue")
        issue = Issue(task.number or 0, task.title, text, task.origin)
        plan = Plan(
            issue, ref, self.root, job.base, job.base_commit, task.branch, job.worktree,
            None, None, self.token if ref else None,
        )  # fmt: skip
        flags: dict[str, Any] = {
            "model": self.model,
            "max_steps": self.max_steps,
            "max_cost": job.max_cost,
            "test_command": task.test,
            "approvals": "never",
            "test_gate": True,
            "review_gate": True,
            "commit": True,
            "use_git": True,
        }
        try:
            outcome = run_issue(plan, flags, self.as_json)
        except AcbError as exc:
            return AttemptResult(None, "error", error=str(exc))
        report = outcome.report
        verification = report.verification or {}
        return AttemptResult(
            run_id=outcome.run_id,
            outcome=report.outcome,
            commit=report.commit,
            verification=verification.get("status"),
            verification_detail=str(verification.get("detail") or ""),
            cost_usd=float(report.cost_usd or 0.0),
            report=report,
        )
