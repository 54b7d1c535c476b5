"""The gates a task passes and the policy that sets them: what counts as done, whether CI
was proven, and what happens to a good branch (merge, ask a person, or leave it).

The policy is one object so that each gate (the merge, the release after it, and next a forge's
pull request in place of the local merge) is a field here and a step in `loop.py` or
`release.py`, not a flag threaded through.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from autocodebase.forge.pr_body import RunReport

MergePolicy = Literal["ask", "auto", "never"]
DeployPolicy = Literal["ask", "auto", "never"]
Status = Literal["verified", "partly-verified", "unverified"]
ACCEPTING: Final[dict[str, tuple[str, ...]]] = {
    "verified": ("verified",),
    "partly-verified": ("verified", "partly-verified"),
    "unverified": ("verified", "partly-verified", "unverified"),
}
"""`--accept LEVEL`: the verification statuses that LEVEL lets through."""


@dataclass(frozen=True)
class Policy:
    merge: MergePolicy = "ask"
    """auto: merge a good branch into the base; ask: wait for `acb autopilot approve`; never:
    leave the branch."""
    accept: Status = "verified"
    """The weakest verification a run may end with and still count as done. Anything below
    `verified` is the user's explicit choice (`--accept`), never a default."""
    deploy: DeployPolicy = "never"
    """After a merge: auto releases it at once, ask waits for `acb autopilot approve`, never
    leaves releasing to you. A release is watched and rolled back on an anomaly."""
    max_attempts: int = 2
    """Runs a task gets before it stops in `needs-person`."""
    max_tasks: int | None = None
    """Tasks started by one invocation."""
    max_cost: float | None = None
    """USD one invocation may spend, summed over its runs."""


@dataclass(frozen=True)
class AttemptResult:
    """What one run on a task came to, as the runner reports it."""

    run_id: str | None
    outcome: str
    """The run's outcome (`completed`, `failed`, `max_steps`, ...) or `error`."""
    commit: str | None = None
    verification: str | None = None
    """verified / partly-verified / unverified; None when the run recorded none."""
    verification_detail: str = ""
    cost_usd: float = 0.0
    error: str = ""
    """Why the run could not start or ended badly, in one line."""
    report: RunReport | None = None
    """The run's record as a pull request shows it (a forge task's request body)."""


@dataclass(frozen=True)
class CiCheck:
    """What proving the repository's CI workflow on the branch showed."""

    passed: bool
    summary: str


@dataclass(frozen=True)
class Verdict:
    passed: bool
    reason: str


def judge_run(result: AttemptResult, policy: Policy) -> Verdict:
    """Whether a run's result lets the task go on to CI and the merge gate."""
    if result.outcome != "completed":
        why = result.error or f"the run ended {result.outcome}"
        return Verdict(False, why)
    if result.commit is None:
        return Verdict(False, "the run committed nothing")
    status = result.verification or "unverified"
    detail = f" ({result.verification_detail})" if result.verification_detail else ""
    if status not in ACCEPTING[policy.accept]:
        return Verdict(False, f"{status}{detail}; --accept {policy.accept} needs better")
    return Verdict(True, f"{status}{detail}")


def judge_ci(check: CiCheck | None) -> Verdict:
    if check is None:
        return Verdict(True, "no CI workflow to prove")
    return Verdict(check.passed, check.summary)
