"""`acb autopilot` without a model: the task formats, the merge that spares a dirty checkout,
and the loop's gates, states, budgets, pause and crash recovery, with a runner that commits
on the task's branch what a run would have (the whole flow with the real run machinery is
in test_autopilot_e2e.py)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from autocodebase.autopilot.gates import AttemptResult, CiCheck, Policy
from autocodebase.autopilot.loop import Autopilot, Job, approve, reject
from autocodebase.autopilot.release import Deployer
from autocodebase.autopilot.state import AutopilotState
from autocodebase.autopilot.tasks import LocalTasks, TaskFileError
from autocodebase.ledger.store import connect
from autocodebase.vcs.merge import merge_commit
from autocodebase.vcs.worktree import add_worktree
from tests.conftest import commit_all, git
from tests.helpers import run_acb, write_files

# -- task files ---------------------------------------------------------------------------


def test_markdown_and_toml_tasks_in_order(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            ".acb/tasks/02-second.md": "# Second\n\nDo the second thing.\n",
            ".acb/tasks/01-first.md": "---\ntest: python -m pytest -q tests/a.py\n---\n"
            "# First task\n\nLine one.\nLine two.\n",
            ".acb/tasks.toml": '[[task]]\nid = "third"\ntitle = "Third"\ntext = "Body"\n'
            'test = "make check"\n',
        },
    )
    tasks = LocalTasks(tmp_path).tasks()
    assert [t.id for t in tasks] == ["01-first", "02-second", "third"]
    first = tasks[0]
    assert (first.title, first.text, first.test) == (
        "First task",
        "Line one.\nLine two.",
        "python -m pytest -q tests/a.py",
    )
    assert first.branch == "acb/task-01-first" and first.origin == ".acb/tasks/01-first.md"
    assert tasks[1].test is None and tasks[2].test == "make check"


@pytest.mark.parametrize(
    ("files", "says"),
    [
        (
            {".acb/tasks/a.md": "---\ntset: x\n---\n# T\n"},
            "a.md:2: unknown key 'tset' (known: test)",
        ),
        (
            {".acb/tasks/a.md": "---\ntest: x\n# T\n"},
            "front matter opened by '---' is never closed",
        ),
        ({".acb/tasks/a.md": "\n\n"}, "a.md: the task is empty"),
        ({".acb/tasks/a b.md": "# T\n"}, "the file name 'a b' is not a task id"),
        ({".acb/tasks.toml": "[[task]]\nid = 'x'\ntitle = 'T'\n"}, "task 1: 'text' is missing"),
        ({".acb/tasks.toml": "[[task]]\nid='x'\ntitle='T'\ntext='b'\nprio=1\n"}, "key 'prio'"),
        ({".acb/tasks.toml": "tasks = 1\n"}, "unknown table or key 'tasks'"),
        ({".acb/tasks.toml": "[[task]\n"}, ".acb/tasks.toml: "),
        (
            {
                ".acb/tasks/x.md": "# T\n",
                ".acb/tasks.toml": "[[task]]\nid='x'\ntitle='T'\ntext='b'",
            },
            "task id 'x' is also used by .acb/tasks/x.md",
        ),
    ],
)
def test_bad_task_files_are_one_line(tmp_path: Path, files: dict[str, str], says: str) -> None:
    write_files(tmp_path, files)
    with pytest.raises(TaskFileError) as caught:
        LocalTasks(tmp_path).tasks()
    assert says in str(caught.value) and "\n" not in str(caught.value)


def test_a_bad_task_file_stops_the_command_with_exit_2(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    write_files(repo, {".acb/tasks/oops.md": "---\npriority: high\n---\n# T\n"})
    done = run_acb("autopilot", "--once", cwd=repo)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "acb: error: .acb/tasks/oops.md:2: unknown key 'priority' (known: test)"
    )


# -- merging ------------------------------------------------------------------------------


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    write_files(repo, {"a.txt": "a\n", "b.txt": "b\n"})
    commit_all(repo, "initial", init=True)
    return repo


def _branch_with(repo: Path, tmp_path: Path, branch: str, files: dict[str, str]) -> str:
    place = tmp_path / "wt" / branch.replace("/", "-")
    add_worktree(repo, place, branch, "main")
    write_files(place, files)
    commit_all(place, f"{branch} work")
    return git(place, "rev-parse", "HEAD").strip()


def test_merge_moves_a_base_that_is_not_checked_out_and_nothing_else(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    git(repo, "switch", "-qc", "dev")
    (repo / "a.txt").write_text("my uncommitted work\n")
    commit = _branch_with(repo, tmp_path, "acb/task-x", {"c.txt": "c\n"})
    result = merge_commit(repo, "main", commit, "Merge x")
    assert (result.merged, result.how, result.commit) == (True, "fast-forward", commit)
    assert git(repo, "rev-parse", "main").strip() == commit
    assert (repo / "a.txt").read_text() == "my uncommitted work\n"
    assert git(repo, "branch", "--show-current").strip() == "dev"
    assert not (repo / "c.txt").exists()
    # diverged: a merge commit with both parents, made without any working tree
    git(repo, "commit", "-qam", "dev work")
    other = _branch_with(repo, tmp_path, "acb/task-y", {"d.txt": "d\n"})
    git(repo, "update-ref", "refs/heads/main", git(repo, "rev-parse", "dev").strip())
    merged = merge_commit(repo, "main", other, "Merge y")
    assert merged.merged and merged.how == "merge commit"
    parents = git(repo, "rev-list", "--parents", "-n1", "main").split()
    assert parents[1:] == [git(repo, "rev-parse", "dev").strip(), other]
    assert merge_commit(repo, "main", other, "again").how == "already merged"


def test_merge_into_a_checked_out_base(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    commit = _branch_with(repo, tmp_path, "acb/task-x", {"c.txt": "c\n"})
    (repo / "a.txt").write_text("dirty\n")
    refused = merge_commit(repo, "main", commit, "Merge x")
    assert not refused.merged and "with uncommitted changes" in refused.how
    assert git(repo, "rev-parse", "main").strip() != commit
    assert (repo / "a.txt").read_text() == "dirty\n"
    git(repo, "checkout", "--", "a.txt")
    done = merge_commit(repo, "main", commit, "Merge x")
    assert done.merged and "fast-forwarded" in done.how
    assert (repo / "c.txt").read_text() == "c\n" and git(repo, "status", "--porcelain") == ""


def test_a_conflict_merges_nothing_and_names_the_file(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    git(repo, "switch", "-qc", "dev")
    commit = _branch_with(repo, tmp_path, "acb/task-x", {"a.txt": "theirs\n"})
    before = git(repo, "rev-parse", "main").strip()
    place = tmp_path / "wt" / "main2"
    git(repo, "worktree", "add", "-q", str(place), "main")
    (place / "a.txt").write_text("ours\n")
    commit_all(place, "ours")
    git(repo, "worktree", "remove", str(place))
    moved = git(repo, "rev-parse", "main").strip()
    assert moved != before
    result = merge_commit(repo, "main", commit, "Merge x")
    assert not result.merged and result.how == "conflicts with main in a.txt"
    assert git(repo, "rev-parse", "main").strip() == moved


# -- the loop -----------------------------------------------------------------------------


@dataclass
class FakeRunner:
    """Commits `<task>.txt` on the task's branch, as a run would; each task's results are
    taken in turn from `results` (default: verified)."""

    root: Path
    results: dict[str, list[str]] = field(default_factory=dict)
    cost: float = 0.0
    jobs: list[Job] = field(default_factory=list)

    def __call__(self, job: Job) -> AttemptResult:
        self.jobs.append(job)
        add_worktree(self.root, job.worktree, job.task.branch, job.base_commit)
        write_files(job.worktree, {f"{job.task.id}.txt": f"attempt {job.attempt}\n"})
        commit_all(job.worktree, job.task.title)
        commit = git(job.worktree, "rev-parse", "HEAD").strip()
        status = (self.results.get(job.task.id) or ["verified"]).pop(0)
        run = f"run-{job.task.id}-{job.attempt}"
        return AttemptResult(run, "completed", commit, status, "whole suite", self.cost)


def _pilot(
    repo: Path,
    tmp_path: Path,
    runner: FakeRunner,
    ci: CiCheck | None = None,
    deployer: Deployer | None = None,
    **policy: object,
) -> tuple[Autopilot, AutopilotState, list[str]]:
    said: list[str] = []
    state = AutopilotState(connect(tmp_path / "ledger.db"), repo)
    pilot = Autopilot(
        repo,
        "main",
        state,
        LocalTasks(repo),
        Policy(**policy),  # type: ignore[arg-type]
        runner,
        lambda _worktree: ci,
        tmp_path / "worktrees",
        said.append,
        deployer,
    )
    return pilot, state, said


def _queue(repo: Path, *ids: str) -> None:
    write_files(repo, {f".acb/tasks/{i}.md": f"# Task {i}\n\nDo {i}.\n" for i in ids})


def test_three_tasks_one_ships_one_needs_a_person_one_waits(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    git(repo, "switch", "-qc", "dev")
    (repo / "a.txt").write_text("uncommitted\n")
    _queue(repo, "1-ships", "2-fails", "3-waits")
    runner = FakeRunner(repo, {"2-fails": ["unverified", "partly-verified"]})
    pilot, state, said = _pilot(repo, tmp_path, runner, merge="auto")
    summary = pilot.run_pass()
    assert summary.failed == ["2-fails"] and summary.started == ["1-ships", "2-fails", "3-waits"]
    ships = state.require("1-ships")
    assert ships.state == "merged" and "merged into main (fast-forward)" in ships.reason
    assert git(repo, "cat-file", "-t", "main:1-ships.txt").strip() == "blob"
    assert (repo / "a.txt").read_text() == "uncommitted\n" and not (repo / "1-ships.txt").exists()
    fails = state.require("2-fails")
    assert (fails.state, fails.attempts) == ("needs-person", 2)
    assert fails.reason.startswith("failed 2 of 2 attempts; last: partly-verified (whole suite)")
    assert "attempt 1 failed: unverified (whole suite)" in runner.jobs[2].previous_failure
    assert not git(repo, "ls-tree", "main", "2-fails.txt").strip()
    # 3-waits merged too (auto); a pass with --merge ask waits: shown with a fresh queue
    _queue(repo, "4-asks")
    pilot.policy = Policy(merge="ask")
    pilot.run_pass()
    asks = state.require("4-asks")
    assert asks.state == "awaiting-approval" and "approve 4-asks" in asks.reason
    assert not git(repo, "ls-tree", "main", "4-asks.txt").strip()
    assert "merged into main" in approve(state, repo, "4-asks")
    assert git(repo, "ls-tree", "main", "4-asks.txt").strip()
    assert state.require("4-asks").state == "merged"
    steps = [(t.from_state, t.to_state) for t in state.history("2-fails")]
    assert steps == [
        (None, "queued"),
        ("queued", "running"),
        ("running", "queued"),
        ("queued", "running"),
        ("running", "needs-person"),
    ]
    assert any("2-fails: needs a person" in line for line in said)


def test_nothing_unverified_merges_unless_the_user_accepts_it(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _queue(repo, "p")
    runner = FakeRunner(repo, {"p": ["partly-verified"]})
    pilot, state, _ = _pilot(repo, tmp_path, runner, merge="never", accept="partly-verified")
    pilot.run_pass()
    record = state.require("p")
    assert record.state == "branch-ready" and "left for you" in record.reason
    assert "no CI workflow to prove" in record.reason


def test_a_failing_ci_proof_fails_the_attempt(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _queue(repo, "c")
    ci = CiCheck(False, "CI .github/workflows/ci.yml: step 'test' failed (exit 1):")
    pilot, state, _ = _pilot(repo, tmp_path, FakeRunner(repo), ci, merge="auto", max_attempts=1)
    assert pilot.run_pass().failed == ["c"]
    assert "step 'test' failed" in state.require("c").reason


def test_a_crash_mid_task_is_retried_and_finished_tasks_are_not_redone(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _queue(repo, "a-done", "b-crashed", "c-new")
    runner = FakeRunner(repo)
    pilot, state, _ = _pilot(repo, tmp_path, runner, merge="auto", max_tasks=1)
    pilot.run_pass()
    assert state.require("a-done").state == "merged"
    # a process died during b's first attempt: its row says running, its worktree half made
    state.move("b-crashed", ["queued"], "running", "attempt 1", attempts=1, base="main")
    add_worktree(repo, tmp_path / "worktrees" / "acb-task-b-crashed", "acb/task-b-crashed", "main")
    pilot.policy = Policy(merge="auto")
    runner.jobs.clear()
    pilot.recover()
    assert "interrupted (no live process); it will be retried" in state.require("b-crashed").reason
    pilot.run_pass()
    assert [(j.task.id, j.attempt) for j in runner.jobs] == [("b-crashed", 2), ("c-new", 1)]
    assert {r.id: r.state for r in state.all()} == dict.fromkeys(
        ("a-done", "b-crashed", "c-new"), "merged"
    )


def test_a_crash_on_the_last_attempt_needs_a_person(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _queue(repo, "x")
    pilot, state, _ = _pilot(repo, tmp_path, FakeRunner(repo), max_attempts=1)
    state.sync(LocalTasks(repo).tasks())
    state.move("x", ["queued"], "running", "attempt 1", attempts=1)
    pilot.recover()
    assert state.require("x").state == "needs-person"
    assert "no attempts left" in state.require("x").reason


def test_budgets_and_pause_stop_between_tasks(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _queue(repo, "a", "b", "c")
    runner = FakeRunner(repo, cost=0.6)
    pilot, state, _ = _pilot(repo, tmp_path, runner, merge="never", max_cost=1.0)
    summary = pilot.run_pass()
    assert summary.started == ["a", "b"] and summary.stopped == "--max-cost 1 USD reached"
    assert runner.jobs[1].max_cost == pytest.approx(0.4)
    assert state.require("c").state == "queued"
    state.set_paused(True, "release freeze")
    pilot.policy = Policy(merge="never")
    summary = pilot.run_pass()
    assert summary.started == [] and "paused (release freeze)" in summary.stopped
    state.set_paused(False, "")
    assert pilot.run_pass().started == ["c"]


def test_max_tasks_counts_tasks_not_attempts(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _queue(repo, "a", "b")
    runner = FakeRunner(repo, {"a": ["unverified", "verified"]})
    pilot, state, _ = _pilot(repo, tmp_path, runner, merge="never", max_tasks=1)
    summary = pilot.run_pass()
    assert [(j.task.id, j.attempt) for j in runner.jobs] == [("a", 1), ("a", 2)]
    assert state.require("a").state == "branch-ready" and summary.stopped.startswith("--max-tasks")


def test_reject_and_what_cannot_be_approved(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _queue(repo, "r", "s")
    pilot, state, _ = _pilot(repo, tmp_path, FakeRunner(repo), merge="ask", max_tasks=1)
    pilot.run_pass()
    assert reject(state, "r", "not what we want") == "rejected: not what we want"
    from autocodebase.errors import UsageError

    with pytest.raises(UsageError, match="r is rejected; only a waiting task can be approved"):
        approve(state, repo, "r")
    with pytest.raises(UsageError, match="no autopilot task 'nope'"):
        approve(state, repo, "nope")
    assert state.require("s").state == "queued"


def test_a_branch_autopilot_did_not_make_is_left_alone(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    git(repo, "branch", "acb/task-mine")
    _queue(repo, "mine")
    runner = FakeRunner(repo)
    pilot, state, _ = _pilot(repo, tmp_path, runner, merge="auto")
    assert pilot.run_pass().failed == ["mine"]
    assert "exists and autopilot did not make it" in state.require("mine").reason
    assert runner.jobs == []


def test_the_ledger_holds_every_transition(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _queue(repo, "t")
    pilot, _state, _ = _pilot(repo, tmp_path, FakeRunner(repo), merge="auto")
    pilot.run_pass()
    rows = sqlite3.connect(tmp_path / "ledger.db").execute(
        "SELECT to_state, run_id FROM autopilot_transitions WHERE task_id='t' ORDER BY seq"
    )
    assert list(rows) == [("queued", None), ("running", None), ("merged", "run-t-1")]


def test_status_shows_queued_files_and_the_pause(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _queue(repo, "first")
    assert run_acb("autopilot", "pause", "--why", "freeze", cwd=repo).returncode == 0
    status = run_acb("autopilot", "status", cwd=repo)
    assert status.returncode == 0, status.stderr
    assert status.stdout.splitlines() == [
        f"autopilot in {repo.resolve()}: paused (freeze)",
        "TASK   STATE              TRIES      COST  RUN / REASON",
        "first  queued                 0   $0.0000  -: found in .acb/tasks/first.md",
    ]
