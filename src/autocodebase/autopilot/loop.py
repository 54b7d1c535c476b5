"""The autopilot loop: each queued task through its attempts, its gates and the merge decision.

One pass (`run_pass`) first carries on any release in flight (`release.py`), then takes the
tasks that are ready, fix tasks autopilot queued first and then the source's in its order,
until the queue is empty, a budget is spent or someone pauses it; `--once` is one pass, the
long-running form repeats passes. Every step is a state move in the ledger before anything
else happens, so a pass can stop anywhere (a crash, a signal) and the next one continues:
`recover` settles what a dead process left `running`, and a release in flight is carried on.

Runs are not started here: a `TaskRunner` is handed in (the command's, built on `acb
resolve`'s steps), and so is the CI prover, which keeps this module testable without a model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from autocodebase.autopilot.changes import ChangeGate
from autocodebase.autopilot.gates import (
    AttemptResult,
    CiCheck,
    Policy,
    Verdict,
    judge_ci,
    judge_run,
)
from autocodebase.autopilot.release import Deployer, ReleaseGate
from autocodebase.autopilot.state import (
    AWAITING,
    AWAITING_DEPLOY,
    BRANCH_READY,
    CHANGE_OPEN,
    MERGED,
    NEEDS_PERSON,
    QUEUED,
    REJECTED,
    RELEASING,
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
        deployer: Deployer | None = None,
        changes: ChangeGate | None = None,
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
        self.changes = changes
        """A forge's tasks: pull/merge requests in place of local merges (None: merge here)."""
        self._summary = PassSummary()
        """The pass under way (the release gate reports tasks that need a person into it)."""
        self.releases: ReleaseGate | None = None
        if deployer is not None:
            self.releases = ReleaseGate(root, state, deployer, say, self._release_stopped)
        elif policy.deploy != "never":
            raise ValueError("a deploy policy needs a deployer")

    def _release_stopped(self, task_id: str, why: str) -> None:
        self._summary.failed.append(task_id)
        self.say(f"{task_id}: needs a person: {why}")

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
        summary = self._summary = PassSummary()
        tasks = self.source.tasks()  # a bad task file stops here, before anything changes
        for task_id in self.state.sync(tasks):
            self.say(f"{task_id}: queued")
        if self.releases is not None:
            self.releases.resume(self.state.paused())
        if self.changes is not None and self.state.paused() is None:
            self.changes.follow_all(self.policy.merge)  # approvals given since the last pass
        tried: set[str] = set()
        while task := self._next(tasks, tried):
            why_not = self._why_stop(summary)
            if why_not:
                summary.stopped = why_not
                break
            tried.add(task.id)
            summary.started.append(task.id)
            self._work(task, summary)
        return summary

    def _next(self, tasks: list[Task], tried: set[str]) -> Task | None:
        """The next queued task: fix tasks autopilot queued (a rolled-back release is the
        most urgent work there is), then the source's in its order."""
        for task in self.state.queued_fixes():
            if task.id not in tried:
                return task
        for task in tasks:
            record = self.state.get(task.id)
            if record is None or record.state != QUEUED or record.fixes is not None:
                continue  # (a task file named like a fix autopilot queued is not that fix)
            if task.id not in tried:
                return task
        return None

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
                "deploy": self.policy.deploy,
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
        if self.changes is not None:
            stopped = self.changes.deliver(task, result, verdict, fields, self.policy.merge)
            if stopped is not None:
                self._needs_person(task.id, stopped, summary, **fields)
            return
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
            if self.releases is not None and merged.commit is not None:
                self.releases.after_merge(task.id, merged.commit, self.policy.deploy)
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
    now) into the base it was made from. Allowed while it waits or needs a person. A task
    worked with a deploy policy goes on to the deploy gate; one waiting for its release is
    handed to the next pass to release (the loop, which holds the lock, does every deploy)."""
    record = state.require(task_id)
    if record.forge is not None:
        raise UsageError(_forge_approval(record))
    if record.state == AWAITING_DEPLOY:
        why = "release approved by a person; the next `acb autopilot` pass releases it"
        if not state.move(task_id, [AWAITING_DEPLOY], RELEASING, why, releases=0):
            raise UsageError(f"{task_id} changed state while it was being approved")
        return why
    if record.state == NEEDS_PERSON and record.release_sha is not None:
        # Merged already; what stopped was its release: the person's yes releases it again.
        why = "release approved again by a person; the next `acb autopilot` pass releases it"
        if not state.move(task_id, [NEEDS_PERSON], RELEASING, why, releases=0):
            raise UsageError(f"{task_id} changed state while it was being approved")
        return why
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
    release = merged.commit
    if record.deploy == "ask" and release is not None:
        why += f"; `acb autopilot approve {task_id}` again releases it"
        state.move(task_id, [MERGED], AWAITING_DEPLOY, why, release_sha=release)
    elif record.deploy == "auto" and release is not None:
        why += "; the next `acb autopilot` pass releases it (--deploy auto)"
        state.move(task_id, [MERGED], RELEASING, why, release_sha=release, releases=0)
    return why


def _forge_approval(record: TaskRecord) -> str:
    """Why `approve` does not apply to an issue's task: its pull request's approval does."""
    forge = "GitLab" if record.forge == "gitlab" else "GitHub"
    if record.change_url:
        return (
            f"{record.id} is a {forge} issue's task: approve its request on the forge "
            f"({record.change_url}); the next `acb autopilot --source {record.forge}` pass "
            "merges it"
        )
    return (
        f"{record.id} is a {forge} issue's task ({record.state}), with no request opened: "
        f"its approval happens on the forge; `acb autopilot reject {record.id}` stops it"
    )


def reject(state: AutopilotState, task_id: str, why: str) -> str:
    """A person's no: the task stops; its branch stays for reference. A task already merged
    (its release waits, or stopped) is not released; its merge stays in the base."""
    record = state.require(task_id)
    allowed = (QUEUED, AWAITING, NEEDS_PERSON, BRANCH_READY, AWAITING_DEPLOY, CHANGE_OPEN)
    if record.state not in allowed:
        raise UsageError(f"{task_id} is {record.state}; it cannot be rejected now")
    reason = f"rejected: {why}" if why else "rejected"
    if record.change_url:
        reason += f"; its request stays open on the forge ({record.change_url}): close it there"
    if record.release_sha is not None:
        reason += f"; not released (its merge stays in {record.base or 'the base'})"
    if not state.move(task_id, allowed, REJECTED, reason):
        raise UsageError(f"{task_id} changed state while it was being rejected")
    return reason
