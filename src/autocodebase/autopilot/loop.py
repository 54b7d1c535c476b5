"""The autopilot loop: each queued task through its attempts, its gates and the merge decision.

One pass (`run_pass`) takes the tasks that are ready, in the source's order, until the queue
is empty, a budget is spent or someone pauses it; `--once` is one pass, the long-running form
repeats passes. Every step is a state move in the ledger before anything else happens, so a
pass can stop anywhere (a crash, a signal) and the next one continues: `recover` settles what
a dead process left `running`.

Runs are not started here: a `TaskRunner` is handed in (the command's, built on `acb
resolve`'s steps), and so is the CI prover, which keeps this module testable without a model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from autocodebase.autopilot.gates import (
    AttemptResult,
    CiCheck,
    Policy,
    Verdict,
    judge_ci,
    judge_run,
)
from autocodebase.autopilot.state import (
    AWAITING,
    BRANCH_READY,
    MERGED,
    NEEDS_PERSON,
    QUEUED,
    REJECTED,
    RUNNING,
    AutopilotState,
    TaskRecord,
)
from autocodebase.autopilot.tasks import Source, Task
from autocodebase.errors import UsageError
from autocodebase.vcs.git import git_text
from autocodebase.vcs.merge import MergeResult, merge_commit
from autocodebase.vcs.worktree import branch_exists, discard_worktree


@dataclass(frozen=True)
class Job:
    """One attempt at a task, as the runner gets it."""

    task: Task
    attempt: int
    base: str
    base_commit: str
    worktree: Path
    previous_failure: str
    """Why the attempt before this one failed ("" on the first): the run is told."""
    max_cost: float | None
    """What is left of the invocation's budget (USD), for the run's own limit."""


class TaskRunner(Protocol):
    def __call__(self, job: Job) -> AttemptResult:
        """Create `job.task.branch` in `job.worktree` from `job.base_commit`, run the task
        there with the gates on, and say what came of it. Never raises for a failed run."""
        ...


CiProver = Callable[[Path], CiCheck | None]


@dataclass
class PassSummary:
    """What one pass did, for the exit code and the last lines on stderr."""

    started: list[str] = field(default_factory=list)
    spent: float = 0.0
    failed: list[str] = field(default_factory=list)
    """Tasks that stopped in `needs-person` during this pass."""
    stopped: str = ""
    """Why the pass stopped before the queue was empty (paused, a budget)."""


class Autopilot:
    def __init__(
        self,
        root: Path,
        base: str,
        state: AutopilotState,
        source: Source,
        policy: Policy,
        runner: TaskRunner,
        prove_ci: CiProver,
        worktrees: Path,
        say: Callable[[str], None],
    ):
        self.root = root
        self.base = base
        self.state = state
        self.source = source
        self.policy = policy
        self.runner = runner
        self.prove_ci = prove_ci
        self.worktrees = worktrees
        self.say = say

    def recover(self) -> None:
        """Settle tasks a process that is gone left `running` (call with the lock held):
        retried when attempts remain, else handed to a person. The interrupted attempt
        counts, so a task that kills its process every time cannot loop forever."""
        for record in self.state.all():
            if record.state != RUNNING:
                continue
            where = f"attempt {record.attempts} was interrupted (no live process)"
            if record.attempts >= self.policy.max_attempts:
                self.state.move(record.id, [RUNNING], NEEDS_PERSON, f"{where}; no attempts left")
                self.say(f"{record.id}: {where}; needs a person")
            else:
                self.state.move(record.id, [RUNNING], QUEUED, f"{where}; it will be retried")
                self.say(f"{record.id}: {where}; retrying")

    def run_pass(self) -> PassSummary:
        """Work the queue once, in the source's order."""
        summary = PassSummary()
        tasks = self.source.tasks()  # a bad task file stops here, before anything changes
        for task_id in self.state.sync(tasks):
            self.say(f"{task_id}: queued")
        for task in tasks:
            record = self.state.get(task.id)
            if record is None or record.state != QUEUED:
                continue
            why_not = self._why_stop(summary)
            if why_not:
                summary.stopped = why_not
                break
            summary.started.append(task.id)
            self._work(task, summary)
        return summary

    def _why_stop(self, summary: PassSummary, next_task: bool = True) -> str:
        """Why not to start another task (`next_task`) or another attempt at this one."""
        paused = self.state.paused()
        if paused is not None:
            return f"paused ({paused}); `acb autopilot resume` to go on"
        limit = self.policy.max_tasks
        if next_task and limit is not None and len(summary.started) >= limit:
            return f"--max-tasks {self.policy.max_tasks} reached"
        if self.policy.max_cost is not None and summary.spent >= self.policy.max_cost:
            return f"--max-cost {self.policy.max_cost:g} USD reached"
        return ""

    def _work(self, task: Task, summary: PassSummary) -> None:
        """Attempts until one passes the gates or none are left, then the merge gate."""
        worktree = self.worktrees / task.branch.replace("/", "-")
        while True:
            record = self.state.require(task.id)
            if record.attempts == 0 and branch_exists(self.root, task.branch):
                why = f"branch {task.branch} exists and autopilot did not make it"
                self._needs_person(task.id, why, summary)
                return
            base_commit = git_text(self.root, "rev-parse", "--verify", f"{self.base}^{{commit}}")
            attempt = record.attempts + 1
            moved = self.state.move(
                task.id,
                [QUEUED],
                RUNNING,
                f"attempt {attempt} of {self.policy.max_attempts} from {self.base}",
                attempts=attempt,
                base=self.base,
                worktree=str(worktree),
            )
            if not moved:
                return  # someone else (reject) decided first
            self.say(f"{task.id}: attempt {attempt} on {task.branch}")
            discard_worktree(self.root, worktree, task.branch)  # a failed attempt's leftovers
            budget = None
            if self.policy.max_cost is not None:
                budget = max(self.policy.max_cost - summary.spent, 0.0)
            previous = record.reason if record.attempts else ""
            job = Job(task, attempt, self.base, base_commit, worktree, previous, budget)
            try:
                result = self.runner(job)
            except (KeyboardInterrupt, SystemExit):
                # A person or the system stopped us: not the task's fault, so not counted.
                why = f"attempt {attempt} stopped by a signal; not counted"
                self.state.move(task.id, [RUNNING], QUEUED, why, attempts=attempt - 1)
                raise
            summary.spent += result.cost_usd
            self.state.add_cost(task.id, result.cost_usd)
            verdict = self._gates(result, worktree)
            fields = {
                "run_id": result.run_id,
                "commit_sha": result.commit,
                "verification": result.verification,
            }
            if verdict.passed:
                self._merge_gate(task, result, verdict, fields, summary)
                return
            if attempt >= self.policy.max_attempts:
                why = f"failed {attempt} of {attempt} attempts; last: {verdict.reason}"
                self._needs_person(task.id, why, summary, **fields)
                return
            failed = f"attempt {attempt} failed: {verdict.reason}"
            self.state.move(task.id, [RUNNING], QUEUED, failed, **fields)
            self.say(f"{task.id}: {failed}")
            stop = self._why_stop(summary, next_task=False)
            if stop:
                summary.stopped = stop
                return

    def _gates(self, result: AttemptResult, worktree: Path) -> Verdict:
        verdict = judge_run(result, self.policy)
        if not verdict.passed:
            return verdict
        ci = judge_ci(self.prove_ci(worktree))
        if not ci.passed:
            return ci
        return Verdict(True, f"{verdict.reason}; {ci.reason}")

    def _merge_gate(
        self,
        task: Task,
        result: AttemptResult,
        verdict: Verdict,
        fields: dict[str, str | None],
        summary: PassSummary,
    ) -> None:
        if self.policy.merge == "never":
            why = f"{verdict.reason}; branch {task.branch} left for you (--merge never)"
            self.state.move(task.id, [RUNNING], BRANCH_READY, why, **fields)
            self.say(f"{task.id}: {why}")
            return
        if self.policy.merge == "ask":
            why = f"{verdict.reason}; `acb autopilot approve {task.id}` merges it"
            self.state.move(task.id, [RUNNING], AWAITING, why, **fields)
            self.say(f"{task.id}: awaiting approval: {why}")
            return
        assert result.commit is not None  # judge_run passes no run without a commit
        merged = merge_into(self.root, self.base, task, result.commit, result.run_id)
        if merged.merged:
            why = f"{verdict.reason}; merged into {self.base} ({merged.how})"
            self.state.move(task.id, [RUNNING], MERGED, why, **fields)
            self.say(f"{task.id}: {why}")
        else:
            self._needs_person(task.id, f"passed, not merged: {merged.how}", summary, **fields)

    def _needs_person(
        self, task_id: str, why: str, summary: PassSummary, **fields: str | None
    ) -> None:
        self.state.move(task_id, [QUEUED, RUNNING], NEEDS_PERSON, why, **fields)
        summary.failed.append(task_id)
        self.say(f"{task_id}: needs a person: {why}")


def merge_into(
    root: Path, base: str, task: Task | TaskRecord, commit: str, run: str | None
) -> MergeResult:
    """Merge `commit` (a task's) into `base`, the merge commit naming the task and its run."""
    trailer = f"acb autopilot task {task.id}, run {run or '-'}."
    message = f"Merge {task.branch}: {task.title}\n\n{trailer}"
    return merge_commit(root, base, commit, message)


def approve(state: AutopilotState, root: Path, task_id: str) -> str:
    """A person's yes: merge the task's branch (its tip: the person vouches for what is on it
    now) into the base it was made from. Allowed while it waits or needs a person."""
    record = state.require(task_id)
    if record.state not in (AWAITING, NEEDS_PERSON):
        raise UsageError(f"{task_id} is {record.state}; only a waiting task can be approved")
    if not branch_exists(root, record.branch):
        raise UsageError(f"{task_id}: its branch {record.branch} no longer exists")
    if record.base is None:
        raise UsageError(f"{task_id} was never run, so there is nothing to merge")
    tip = git_text(root, "rev-parse", f"refs/heads/{record.branch}")
    base_tip = git_text(root, "rev-parse", f"refs/heads/{record.base}")
    if tip == base_tip or tip == "":
        raise UsageError(f"{task_id}: {record.branch} has no commit to merge")
    merged = merge_into(root, record.base, record, tip, record.run_id)
    if not merged.merged:
        raise UsageError(f"{task_id} not merged: {merged.how}")
    moved_on = "" if tip == record.commit_sha else f" (the branch tip {tip[:12]}, not the run's)"
    why = f"approved; merged into {record.base} ({merged.how}){moved_on}"
    if not state.move(task_id, [AWAITING, NEEDS_PERSON], MERGED, why, commit_sha=tip):
        raise UsageError(f"{task_id} changed state while it was being approved")
    return why


def reject(state: AutopilotState, task_id: str, why: str) -> str:
    """A person's no: the task stops; its branch stays for reference."""
    record = state.require(task_id)
    if record.state in (RUNNING, MERGED, REJECTED):
        raise UsageError(f"{task_id} is {record.state}; it cannot be rejected now")
    reason = f"rejected: {why}" if why else "rejected"
    if not state.move(task_id, [QUEUED, AWAITING, NEEDS_PERSON, BRANCH_READY], REJECTED, reason):
        raise UsageError(f"{task_id} changed state while it was being rejected")
    return reason
