"""`acb exec` takes its start checkpoint while the first request is out (issue 23): no tool may
run before it is taken, and a checkpoint that fails stops the run before any tool does."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from autocodebase.agent.git_flow import RunGit
from autocodebase.agent.loop import RunResult
from autocodebase.agent.runner import RunRequest, execute
from autocodebase.config import load_settings
from autocodebase.models.cassette import ScriptedModel
from autocodebase.vcs.git import GitError, git
from tests.helpers import reply


def run(repo: Path) -> tuple[str, RunResult, list[dict[str, object]]]:
    seen: list[dict[str, object]] = []
    model = ScriptedModel(
        [reply("", ("shell", {"command": "echo made > made.txt"})), reply("done")], "scripted/t"
    )
    settings = load_settings(repo, {"commit": False, "test_gate": False, "review_gate": False})
    request = RunRequest("make a file", repo, settings, model, [seen.append])
    run_id, result = execute(request)
    return run_id, result, seen


def test_no_tool_runs_before_the_slow_start_checkpoint_is_taken(
    wordstats_repo: Path, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_start = RunGit.start
    taken = threading.Event()

    def slow_start(self: RunGit) -> None:
        time.sleep(1.0)  # far longer than the scripted model takes to answer
        real_start(self)
        taken.set()

    monkeypatch.setattr(RunGit, "start", slow_start)
    run_id, _, events = run(wordstats_repo)
    assert taken.is_set() and (wordstats_repo / "made.txt").is_file()
    kinds = [e["type"] for e in events]
    assert kinds.index("checkpoint") < kinds.index("tool_call")
    start_ref = f"refs/acb/checkpoints/{run_id}/start"
    files = git(wordstats_repo, "ls-tree", "-r", "--name-only", start_ref).decode().split()
    assert "made.txt" not in files and "wordstats/core.py" in files
    finished = next(e for e in events if e["type"] == "run_finished")
    assert "made.txt" in json.dumps(finished["diff"])  # the baseline predates the tool


def test_a_failed_start_checkpoint_stops_the_run_before_any_tool(
    wordstats_repo: Path, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_start(self: RunGit) -> None:
        raise GitError("cannot lock ref 'refs/acb/checkpoints/x': disk full")

    monkeypatch.setattr(RunGit, "start", broken_start)
    _, result, events = run(wordstats_repo)
    assert not (wordstats_repo / "made.txt").exists()
    assert result.outcome == "failed"
    errors = [e for e in events if e["type"] == "error" and e.get("fatal")]
    assert any("disk full" in str(e["message"]) for e in errors)
    assert not any(e["type"] == "tool_result" for e in events)


def test_a_listing_killed_half_way_fails_the_checkpoint_instead_of_recording_nothing(
    wordstats_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Ctrl-C reaching git's `ls-files` made an empty listing, hence an empty undo point
    (and `acb undo` then deleted every file): found by an attack on the background checkpoint."""
    import subprocess

    from autocodebase.vcs import git as git_module
    from autocodebase.vcs.checkpoint import Snapshotter

    real_run = git_module._run

    def killed_listing(root, args, env, stdin):  # type: ignore[no-untyped-def]
        if args[0] == "ls-files" and "--others" in args:
            return subprocess.CompletedProcess(args, -2, b"", b"")
        return real_run(root, args, env, stdin)

    monkeypatch.setattr(git_module, "_run", killed_listing)
    with pytest.raises(GitError, match="signal 2"):
        Snapshotter(wordstats_repo).checkpoint("r1", "start")
    assert not git_module.git_ok(
        wordstats_repo, "rev-parse", "-q", "--verify", "refs/acb/checkpoints/r1/start"
    )


def test_undo_refuses_an_empty_start_checkpoint_when_head_has_files(
    wordstats_repo: Path,
) -> None:
    from autocodebase.vcs.undo import UndoRefused, undo_run

    empty_tree = git(wordstats_repo, "mktree", input=b"").decode().strip()
    commit = git(wordstats_repo, "commit-tree", empty_tree, "-m", "damaged").decode().strip()
    git(wordstats_repo, "update-ref", "refs/acb/checkpoints/r2/start", commit)
    with pytest.raises(UndoRefused, match="looks damaged"):
        undo_run(wordstats_repo, "r2", None)
    assert (wordstats_repo / "wordstats" / "core.py").is_file()
