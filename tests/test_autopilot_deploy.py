"""`acb autopilot --deploy` without a proxy: the deploy gate's states, the rollback and the fix
task it queues (with the diagnosis, the release and the commit range), the fix worked first
and a fix that fails going to a person, releases held while a fix is open, `approve` for a
release, pause, and crashes at every step of a release carried on from what is live. The
deployer is a fake that judges a release by the files in its commit; the real one (acb
deploy and acb monitor on the example project) is in test_autopilot_scenario.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from autocodebase.autopilot.fixes import fix_id
from autocodebase.autopilot.gates import AttemptResult
from autocodebase.autopilot.loop import Autopilot, Job, approve, reject
from autocodebase.autopilot.release import Released, Watched
from autocodebase.autopilot.state import AutopilotState
from autocodebase.errors import UsageError
from autocodebase.vcs.worktree import add_worktree
from tests.conftest import commit_all, git
from tests.helpers import run_acb, write_files
from tests.test_autopilot import FakeRunner, _queue, _repo
from tests.test_autopilot import _pilot as pilot_for

ANOMALY = "error rate 47% from 12:00:03, 2 s after release {sha} went live: likely caused by it"


class Crash(BaseException):
    """The process dies here (nothing in autopilot catches it, as nothing catches SIGKILL)."""


@dataclass
class FakeDeployer:
    """Serves what it is told to; a release whose commit holds a file of `breaks` without the
    file that fixes it shows an anomaly when watched, one holding a file of `refused` is
    refused by acb deploy's own checks. `crash` names a step at which to die once."""

    root: Path
    breaks: dict[str, str] = field(default_factory=dict)
    refused: set[str] = field(default_factory=set)
    serving: str | None = None
    log: list[str] = field(default_factory=list)
    crash: str = ""

    def _has(self, sha: str, name: str) -> bool:
        return bool(git(self.root, "ls-tree", sha, name).strip())

    def _die(self, where: str) -> None:
        if self.crash == where:
            self.crash = ""
            raise Crash(where)

    def live(self) -> str | None:
        return self.serving

    def release(self, sha: str) -> Released:
        self.log.append(f"release {sha[:7]}")
        self._die("before-switch")
        if any(self._has(sha, name) for name in self.refused):
            return Released(False, "rolled-back: /healthz did not answer 200 within 5 s")
        self.serving = sha
        self._die("after-switch")
        return Released(True, "verified by acb deploy")

    def watch(self, sha: str) -> Watched:
        self.log.append(f"watch {sha[:7]}")
        self._die("watching")
        for broken, fix in self.breaks.items():
            if self._has(sha, broken) and not self._has(sha, fix):
                return Watched(False, ANOMALY.format(sha=sha[:12]))
        return Watched(True, "no anomaly: 60 client requests in 4 s, 0 errors (0%)")

    def roll_back(self, to: str | None) -> str:
        self.log.append(f"roll back to {to[:7] if to else None}")
        self._die("rolling-back")
        self.serving = to
        return f"{to[:12]} serves again" if to else "the deployment is stopped"


def _pilot(
    repo: Path, tmp_path: Path, runner: FakeRunner, deployer: FakeDeployer, **policy: object
) -> tuple[Autopilot, AutopilotState, list[str]]:
    """test_autopilot's pilot with a deployer, merging and deploying on its own by default."""
    chosen = {"merge": "auto", "deploy": "auto", **policy}
    return pilot_for(repo, tmp_path, runner, None, deployer, **chosen)


def _steps(state: AutopilotState, task: str) -> list[str]:
    return [t.to_state for t in state.history(task)]


def test_a_regression_is_rolled_back_fixed_first_and_shipped(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _queue(repo, "1-ships", "2-regresses", "3-fails")
    runner = FakeRunner(repo, {"3-fails": ["unverified", "unverified"]})
    deployer = FakeDeployer(repo, breaks={"2-regresses.txt": "fix-2-regresses.txt"})
    pilot, state, _said = _pilot(repo, tmp_path, runner, deployer)
    summary = pilot.run_pass()

    assert [j.task.id for j in runner.jobs] == [
        "1-ships", "2-regresses", "fix-2-regresses", "3-fails", "3-fails",
    ]  # fmt: skip
    assert summary.failed == ["3-fails"]
    first = state.require("1-ships")
    assert first.state == "deployed" and "no anomaly" in first.reason
    assert _steps(state, "1-ships") == [
        "queued", "running", "merged", "releasing", "releasing", "watching", "deployed",
    ]  # fmt: skip
    bad = state.require("2-regresses")
    assert bad.state == "rolled-back" and bad.previous_sha == first.release_sha
    assert bad.reason.startswith("the monitor found: error rate 47%")
    assert "fix task fix-2-regresses queued" in bad.reason
    assert f"{first.release_sha[:12]} serves again" in bad.reason
    assert deployer.log[:6] == [
        f"release {first.release_sha[:7]}",
        f"watch {first.release_sha[:7]}",
        f"release {bad.release_sha[:7]}",
        f"watch {bad.release_sha[:7]}",
        f"roll back to {first.release_sha[:7]}",
        f"release {state.require('fix-2-regresses').release_sha[:7]}",
    ]
    fix = state.require("fix-2-regresses")
    assert fix.state == "deployed" and fix.fixes == "2-regresses"
    text = fix.text or ""
    assert "error rate 47%" in text, "what the monitor found"
    assert f"Release {bad.release_sha[:12]} (task 2-regresses: Task 2-regresses)" in text
    assert f"({first.release_sha[:12]}..{bad.release_sha[:12]})" in text, "the commit range"
    assert "Task 2-regresses" in text.split("The commits it added")[1], "its commits, listed"
    fix_job = next(j for j in runner.jobs if j.task.id == "fix-2-regresses")
    assert fix_job.task.text == text and fix_job.task.origin == "autopilot: fix for 2-regresses"
    assert deployer.serving == fix.release_sha
    assert state.require("3-fails").state == "needs-person"


def test_a_fix_that_fails_twice_needs_a_person_and_holds_other_releases(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _queue(repo, "1-regresses", "2-ships")
    runner = FakeRunner(repo, {"fix-1-regresses": ["unverified", "partly-verified"]})
    deployer = FakeDeployer(repo, breaks={"1-regresses.txt": "fix-1-regresses.txt"})
    pilot, state, _ = _pilot(repo, tmp_path, runner, deployer)
    summary = pilot.run_pass()
    assert summary.failed == ["fix-1-regresses"]
    fix = state.require("fix-1-regresses")
    assert (fix.state, fix.attempts) == ("needs-person", 2)
    assert state.require("1-regresses").state == "rolled-back"
    assert deployer.log[-1] == "roll back to None", "no earlier release: stop serving"
    assert deployer.serving is None
    held = state.require("2-ships")
    assert held.state == "awaiting-deploy", "the base still holds the regression"
    assert held.reason.startswith("held: fix-1-regresses is fixing the rolled-back release")
    # A person releases it anyway: approve hands it to the next pass, which releases it.
    assert "the next `acb autopilot` pass releases it" in approve(state, repo, "2-ships")
    pilot.run_pass()
    assert state.require("2-ships").state == "rolled-back", "2's release holds 1's regression"
    assert state.require("fix-2-ships").fixes == "2-ships"


def test_deploy_ask_waits_for_approval_and_a_release_carries_earlier_merges(
    tmp_path: Path,
) -> None:
    repo = _repo(tmp_path)
    _queue(repo, "a", "b")
    deployer = FakeDeployer(repo)
    pilot, state, _ = _pilot(repo, tmp_path, FakeRunner(repo), deployer, deploy="ask")
    pilot.run_pass()
    a, b = state.require("a"), state.require("b")
    assert (a.state, b.state) == ("awaiting-deploy", "awaiting-deploy")
    assert "`acb autopilot approve b` releases" in b.reason and deployer.log == []
    approve(state, repo, "b")
    pilot.run_pass()
    assert state.require("b").state == "deployed"
    a = state.require("a")
    assert a.state == "deployed" and f"live with b's release {b.release_sha[:12]}" in a.reason
    assert deployer.log == [f"release {b.release_sha[:7]}", f"watch {b.release_sha[:7]}"]
    with pytest.raises(UsageError, match="a is deployed; only a waiting task can be approved"):
        approve(state, repo, "a")
    with pytest.raises(UsageError, match="a is deployed; it cannot be rejected now"):
        reject(state, "a", "")
    _queue(repo, "c")
    pilot.run_pass()
    assert (
        reject(state, "c", "not now") == "rejected: not now; not released (its merge stays in main)"
    )


def test_merge_ask_then_deploy_auto_releases_after_the_merge_is_approved(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _queue(repo, "a")
    deployer = FakeDeployer(repo)
    pilot, state, _ = _pilot(repo, tmp_path, FakeRunner(repo), deployer, merge="ask")
    pilot.run_pass()
    assert state.require("a").state == "awaiting-approval"
    assert "the next `acb autopilot` pass releases it" in approve(state, repo, "a")
    assert state.require("a").state == "releasing"
    pilot.run_pass()
    assert state.require("a").state == "deployed"


def test_a_release_acb_deploy_refuses_is_a_regression_too(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _queue(repo, "1-ok", "2-unhealthy")
    deployer = FakeDeployer(repo, refused={"2-unhealthy.txt"})
    pilot, state, _ = _pilot(repo, tmp_path, FakeRunner(repo, {"fix-2-unhealthy": []}), deployer)
    pilot.run_pass()
    bad = state.require("2-unhealthy")
    assert bad.state == "rolled-back"
    assert bad.reason.startswith("acb deploy's own checks refused")
    assert "/healthz did not answer 200" in bad.reason and "was not serving any more" in bad.reason
    assert not any(line.startswith("roll back") for line in deployer.log)
    # The fix's release still holds 2-unhealthy.txt (the fake's fix does not remove it): a fix
    # whose release regresses goes to a person, never to a fix of a fix.
    fix = state.require("fix-2-unhealthy")
    assert fix.state == "needs-person" and "a fix whose release regresses" in fix.reason
    assert [r.id for r in state.all() if r.fixes] == ["fix-2-unhealthy"]


@pytest.mark.parametrize(
    ("crash", "releases", "rollbacks"),
    [
        ("before-switch", 2, 0),  # nothing went live: released again
        ("after-switch", 1, 0),  # live but never watched: watched, not released again
        ("watching", 1, 0),  # watched again from the start
    ],
)
def test_a_crash_mid_release_is_carried_on_from_what_is_live(
    tmp_path: Path, crash: str, releases: int, rollbacks: int
) -> None:
    repo = _repo(tmp_path)
    _queue(repo, "a")
    deployer = FakeDeployer(repo, crash=crash)
    pilot, state, _ = _pilot(repo, tmp_path, FakeRunner(repo), deployer)
    with pytest.raises(Crash):
        pilot.run_pass()
    assert state.require("a").state in ("releasing", "watching")
    again, state, _ = _pilot(repo, tmp_path, FakeRunner(repo), deployer)
    again.recover()
    again.run_pass()
    record = state.require("a")
    assert record.state == "deployed"
    assert sum(line.startswith("release") for line in deployer.log) == releases
    assert record.releases == releases


def test_a_crash_mid_rollback_finishes_it_once_and_queues_the_fix_once(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _queue(repo, "1-ok", "2-bad")
    deployer = FakeDeployer(repo, breaks={"2-bad.txt": "fix-2-bad.txt"}, crash="rolling-back")
    pilot, state, _ = _pilot(repo, tmp_path, FakeRunner(repo), deployer)
    with pytest.raises(Crash):
        pilot.run_pass()
    assert state.require("2-bad").state == "rolling-back"
    again, state, _ = _pilot(repo, tmp_path, FakeRunner(repo), deployer)
    again.run_pass()
    assert state.require("2-bad").state == "rolled-back"
    assert sum(line.startswith("roll back") for line in deployer.log) == 2  # died, then done
    assert [r.id for r in state.all() if r.fixes] == ["fix-2-bad"]
    assert state.require("fix-2-bad").state == "deployed"


def test_a_release_that_keeps_dying_needs_a_person(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _queue(repo, "a")
    deployer = FakeDeployer(repo, crash="before-switch")
    pilot, state, _ = _pilot(repo, tmp_path, FakeRunner(repo), deployer)
    for _ in range(2):
        with pytest.raises(Crash):
            pilot.run_pass()
        deployer.crash = "before-switch"
    summary = pilot.run_pass()
    record = state.require("a")
    assert record.state == "needs-person" and summary.failed == ["a"]
    assert record.reason == "released 2 times without an outcome (interrupted each time)"
    assert "the next `acb autopilot` pass releases it" in approve(state, repo, "a")
    deployer.crash = ""
    pilot.run_pass()
    assert state.require("a").state == "deployed"


def test_paused_nothing_is_released_but_a_live_release_is_still_watched(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _queue(repo, "x", "y")
    deployer = FakeDeployer(repo, crash="after-switch")
    pilot, state, said = _pilot(repo, tmp_path, FakeRunner(repo), deployer, deploy="ask")
    pilot.run_pass()
    approve(state, repo, "x")
    state.set_paused(True, "freeze")
    pilot.run_pass()
    assert state.require("x").state == "releasing" and deployer.log == []
    assert "x: not released while paused (freeze)" in said
    state.set_paused(False, "")
    with pytest.raises(Crash):
        pilot.run_pass()  # x goes live, and the process dies before watching it
    state.set_paused(True, "freeze")
    pilot.run_pass()
    assert state.require("x").state == "deployed", "watching only protects: done while paused"
    assert state.require("y").state == "awaiting-deploy", "x's release predates y's merge"


def test_a_release_someone_else_replaced_is_not_watched(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _queue(repo, "a")
    deployer = FakeDeployer(repo, crash="watching")
    pilot, state, _ = _pilot(repo, tmp_path, FakeRunner(repo), deployer)
    with pytest.raises(Crash):
        pilot.run_pass()
    deployer.serving = None  # `acb deploy --stop` by a person meanwhile
    summary = pilot.run_pass()
    record = state.require("a")
    assert record.state == "needs-person" and summary.failed == ["a"]
    assert "is no longer live (someone deployed or stopped it)" in record.reason


def test_fix_ids_are_task_ids_and_never_taken() -> None:
    assert fix_id("a", set()) == "fix-a"
    assert fix_id("a", {"fix-a", "fix-a-2"}) == "fix-a-3"
    long = "x" * 64
    assert len(fix_id(long, set())) == 60
    assert fix_id(long, {fix_id(long, set())}).endswith("-2")


def test_commit_subjects_reach_the_fix_text_without_control_characters(tmp_path: Path) -> None:
    from autocodebase.autopilot.fixes import commit_range

    repo = _repo(tmp_path)
    base = git(repo, "rev-parse", "HEAD").strip()
    write_files(repo, {"c.txt": "c\n"})
    git(repo, "add", "c.txt")
    git(repo, "commit", "-qm", "evil \x1b[31msubject\x07 $(rm -rf /)")
    head = git(repo, "rev-parse", "HEAD").strip()
    shown, lines = commit_range(repo, base, head)
    assert shown == f"{base[:12]}..{head[:12]}"
    assert len(lines) == 1 and "\x1b" not in lines[0] and "\x07" not in lines[0]
    assert lines[0].endswith("evil [31msubject $(rm -rf /)"), "text for a model, never run"


def test_deploy_options_that_cannot_work_are_one_line(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _queue(repo, "a")
    cases = [
        (("--deploy", "auto"), "no .acb/deploy.toml"),
        (("--deploy", "ask", "--merge", "never"), "--merge never merges nothing"),
    ]
    for args, says in cases:
        done = run_acb("autopilot", "--once", *args, cwd=repo)
        assert done.returncode == 2 and says in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
    write_files(repo, {".acb/deploy.toml": 'command = "x {port}"\ntarget = "compose"\n'})
    done = run_acb("autopilot", "--once", "--deploy", "auto", cwd=repo)
    assert done.returncode == 2 and "target is compose" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@dataclass
class TomlRunner(FakeRunner):
    """A run whose change to task `reconfigures` also rewrites .acb/deploy.toml (a hostile
    model's: a secret of acb's environment lent to the release it is about to get)."""

    reconfigures: str = ""

    def __call__(self, job: Job) -> AttemptResult:
        if job.task.id != self.reconfigures:
            return super().__call__(job)
        add_worktree(self.root, job.worktree, job.task.branch, job.base_commit)
        toml = 'command = "python -m app --port {port}"\nsecrets = ["ANTHROPIC_API_KEY"]\n'
        write_files(job.worktree, {".acb/deploy.toml": toml, f"{job.task.id}.txt": "x\n"})
        commit_all(job.worktree, job.task.title)
        commit = git(job.worktree, "rev-parse", "HEAD").strip()
        return AttemptResult(f"run-{job.task.id}", "completed", commit, "verified")


def test_a_release_that_changes_the_deploy_config_waits_for_a_person(tmp_path: Path) -> None:
    """The supervisor reads .acb/deploy.toml from the work tree at every start, and the merge
    fast-forwards the checkout: a task's change to it (a command, the `secrets` acb's
    environment lends the release, which has the network) took effect on the release of
    that very change, and a cron'd `--once` reads it at start anyway. The deploy gate holds
    such a release for a person, --deploy auto or not."""
    repo = _repo(tmp_path)
    write_files(repo, {".acb/deploy.toml": 'command = "python -m app --port {port}"\n'})
    commit_all(repo, "deploy config")
    _queue(repo, "1-ships", "2-reconfigures", "3-ships")
    runner = TomlRunner(repo, reconfigures="2-reconfigures")
    deployer = FakeDeployer(repo)
    pilot, state, _said = _pilot(repo, tmp_path, runner, deployer)
    pilot.run_pass()
    first = state.require("1-ships")
    assert first.state == "deployed"
    held = state.require("2-reconfigures")
    assert held.state == "awaiting-deploy"
    assert "changes .acb/deploy.toml" in held.reason and "approve 2-reconfigures" in held.reason
    later = state.require("3-ships")
    assert later.state == "awaiting-deploy", "its commit holds the same change"
    assert deployer.serving == first.release_sha
    assert not any(held.release_sha[:7] in step for step in deployer.log if "release" in step)
    approve(state, repo, "2-reconfigures")
    pilot.run_pass()
    assert state.require("2-reconfigures").state == "deployed"


@dataclass
class TwoCommitRunner(TomlRunner):
    """The change to deploy.toml in the first of two commits, so that the released commit's
    first parent already carries it."""

    def __call__(self, job: Job) -> AttemptResult:
        if job.task.id != self.reconfigures:
            return super().__call__(job)
        add_worktree(self.root, job.worktree, job.task.branch, job.base_commit)
        toml = 'command = "python -m app --port {port}"\nsecrets = ["ANTHROPIC_API_KEY"]\n'
        write_files(job.worktree, {".acb/deploy.toml": toml})
        commit_all(job.worktree, "configure")
        write_files(job.worktree, {f"{job.task.id}.txt": "x\n"})
        commit_all(job.worktree, job.task.title)
        commit = git(job.worktree, "rev-parse", "HEAD").strip()
        return AttemptResult(f"run-{job.task.id}", "completed", commit, "verified")


def test_a_config_change_in_an_earlier_commit_of_the_branch_is_held_with_nothing_live(
    tmp_path: Path,
) -> None:
    """With nothing live the release is compared with the config the loop started with, not
    with its first parent (which, two commits in, already holds the change)."""
    repo = _repo(tmp_path)
    write_files(repo, {".acb/deploy.toml": 'command = "python -m app --port {port}"\n'})
    commit_all(repo, "deploy config")
    _queue(repo, "1-reconfigures")
    deployer = FakeDeployer(repo)
    pilot, state, _said = _pilot(
        repo, tmp_path, TwoCommitRunner(repo, reconfigures="1-reconfigures"), deployer
    )
    pilot.run_pass()
    held = state.require("1-reconfigures")
    assert held.state == "awaiting-deploy", held.reason
    assert "the config autopilot started with" in held.reason
    assert deployer.serving is None
