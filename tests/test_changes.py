"""The change tracker (vcs/changes.py) and the tools' own word on whether a call may change
files: the loop snapshots only around such calls and attributes what changed to the call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from autocodebase.agent.loop import Agent
from autocodebase.models.cassette import ScriptedModel
from autocodebase.models.retry import RetryPolicy
from autocodebase.tools import default_toolbox
from autocodebase.tools.base import (
    Toolbox,
    ToolContext,
    ToolResult,
    tool_changing_files_when,
)
from autocodebase.tools.shell import shell
from autocodebase.vcs.changes import Change, ChangeTracker
from autocodebase.vcs.checkpoint import Snapshotter
from tests.conftest import git
from tests.helpers import EventLog, count_snapshots, reply

HYPHEN_PATCH = """*** Begin Patch
*** Update File: wordstats/core.py
@@
-WORD = re.compile(r"[a-z0-9']+")
+WORD = re.compile(r"[a-z0-9'-]+")
*** End Patch"""


def test_tracker_attributes_each_change_to_the_call_with_its_kind(wordstats_repo: Path) -> None:
    tracker = ChangeTracker(wordstats_repo, Snapshotter(wordstats_repo))
    tracker.start()
    before = tracker.snapshot()
    (wordstats_repo / "new.txt").write_text("new\n")
    (wordstats_repo / "README.md").write_text("changed\n")
    (wordstats_repo / "wordstats" / "stats.py").unlink()
    changes = tracker.attribute("call-1", before)
    assert changes == [
        Change("README.md", "README.md", "modified"),
        Change("new.txt", "new.txt", "added"),
        Change("wordstats/stats.py", "wordstats/stats.py", "deleted"),
    ]
    second = tracker.snapshot()
    (wordstats_repo / "new.txt").write_text("again\n")
    assert tracker.attribute("call-2", second) == [Change("new.txt", "new.txt", "modified")]
    assert tracker.file_calls["new.txt"] == ["call-1", "call-2"]
    diff = tracker.diff_since()
    assert diff is not None and "+again" in diff and "deleted file mode" in diff


def test_paths_are_shown_relative_to_a_workspace_below_the_repository_root(
    wordstats_repo: Path,
) -> None:
    workspace = wordstats_repo / "wordstats"
    tracker = ChangeTracker(workspace, Snapshotter(wordstats_repo))
    before = tracker.snapshot()
    (workspace / "extra.py").write_text("X = 1\n")
    assert tracker.attribute("c", before) == [Change("wordstats/extra.py", "extra.py", "added")]
    assert tracker.repo_path("extra.py") == "wordstats/extra.py"


def test_without_git_nothing_is_tracked_and_nothing_fails(tmp_path: Path) -> None:
    tracker = ChangeTracker(tmp_path)
    tracker.start()
    (tmp_path / "a.txt").write_text("a")
    assert tracker.attribute("c", tracker.snapshot()) == []
    assert tracker.diff_since() is None and tracker.file_calls == {}


def test_a_failed_snapshot_is_reported_not_raised(tmp_path: Path) -> None:
    warnings: list[str] = []
    tracker = ChangeTracker(tmp_path, Snapshotter(tmp_path), warn=warnings.append)  # no repo
    assert tracker.snapshot() is None
    assert len(warnings) == 1 and warnings[0].startswith("workspace snapshot failed")


def test_shell_says_which_commands_may_change_files() -> None:
    assert not shell.may_change_files({"command": "cat README.md | grep x"})
    assert shell.may_change_files({"command": "touch made.txt"})
    assert shell.may_change_files({"command": "sed -i s/a/b/ f.py"})
    # Leaving the sandbox, or arguments the tool cannot read, always count as changing.
    assert shell.may_change_files({"command": "cat f", "with_escalated_permissions": True})
    assert shell.may_change_files({"command": 42})
    assert shell.may_change_files(None)
    read_only = default_toolbox().by_name
    assert not read_only["read_file"].may_change_files({"path": "x"})
    assert read_only["apply_patch"].may_change_files({"patch": ""})


def test_the_loop_follows_a_tools_declaration(wordstats_repo: Path) -> None:
    """A tool that writes only in `write` mode: the loop snapshots around those calls only,
    and attributes the file to the call that wrote it."""

    @tool_changing_files_when(lambda arguments: arguments.get("mode") == "write")
    def note(context: ToolContext, mode: str) -> ToolResult:
        """Write or read notes.txt.

        Args:
            mode: "write" or "read".
        """
        target = context.workspace / "notes.txt"
        if mode == "write":
            target.write_text(target.read_text() + "x" if target.exists() else "x")
        return ToolResult("ok")

    log = EventLog()
    agent = Agent(
        model=ScriptedModel(
            [
                reply("", ("note", {"mode": "read"}), ("note", {"mode": "write"})),
                reply("", ("note", {"mode": "read"})),
                reply("done"),
            ]
        ),
        toolbox=Toolbox([note]),
        context=ToolContext(workspace=wordstats_repo, emit=log),
        emit=log,
        snapshots=Snapshotter(wordstats_repo),
        retry=RetryPolicy(sleep=lambda s: None),
    )
    taken = count_snapshots(agent)
    result = agent.run("system", "take notes")
    assert result.outcome == "completed"
    assert taken == [4]  # the baseline, before and after the one write, the final diff
    written = log.of("file_changed")
    assert [(e["path"], e["change"], e["by"]) for e in written] == [("notes.txt", "added", "note")]
    write_call = log.of("tool_call")[1]
    assert agent.file_calls == {"notes.txt": [write_call["call_id"]]}


def test_every_default_tool_runs_through_the_loop(wordstats_repo: Path) -> None:
    """Each tool called as a model would, through the loop (a tool's data once crashed the
    loop: repo_map reports `files` as a count, the loop read it as a list of changed files)."""
    log = EventLog()
    calls: list[tuple[str, dict[str, Any]]] = [
        ("read_file", {"path": "wordstats/core.py"}),
        ("search", {"pattern": "def "}),
        ("repo_map", {"focus": "word counts"}),
        ("update_plan", {"steps": [{"step": "fix", "status": "in_progress"}]}),
        ("shell", {"command": "ls"}),
        ("apply_patch", {"patch": HYPHEN_PATCH}),
        ("run_tests", {"selector": "tests"}),
    ]
    agent = Agent(
        model=ScriptedModel([*(reply("", call) for call in calls), reply("done")]),
        toolbox=default_toolbox(),
        context=ToolContext(workspace=wordstats_repo, emit=log),
        emit=log,
        snapshots=Snapshotter(wordstats_repo),
        retry=RetryPolicy(sleep=lambda s: None),
    )
    result = agent.run("system", "use every tool")
    assert result.outcome == "completed", result.error
    assert log.of("error") == []
    finished = log.of("tool_result")
    assert [e["name"] for e in finished] == [name for name, _ in calls]
    assert [e["name"] for e in finished if e["is_error"]] == []
    assert list(agent.file_calls) == ["wordstats/core.py"]


def test_a_snapshot_reads_an_untracked_name_that_looks_like_an_index_entry_as_a_name(
    wordstats_repo: Path,
) -> None:
    """One `git ls-files` lists both tracked entries and untracked files; a hostile checkout's
    file named like an index record must not turn a real file into a submodule entry (which a
    checkpoint keeps by commit id, so undo would not restore its bytes)."""
    from autocodebase.vcs.git import git_text

    core = "wordstats/core.py"
    blob = git_text(wordstats_repo, "rev-parse", f"HEAD:{core}")
    lookalike = f"160000 {'0' * 40} 0\t{core}"
    (wordstats_repo / lookalike).parent.mkdir()
    (wordstats_repo / lookalike).write_text("decoy\n")
    tree = Snapshotter(wordstats_repo).entries()
    assert tree[core].mode == "100644" and tree[core].blob == blob
    assert lookalike in tree and tree[lookalike].mode == "100644"
    assert not any(entry.mode == "160000" for entry in tree.values())


def test_build_litter_is_never_part_of_a_change(wordstats_repo: Path) -> None:
    """A project without a .gitignore: a run's pytest leaves __pycache__ and .pytest_cache, an
    install leaves .venv or node_modules. None of it is a change (checkpoint, diff, commit);
    a tracked file in such a place still is."""
    from autocodebase.vcs.git import worktree_files

    litter = [
        "wordstats/__pycache__/core.cpython-311.pyc",
        "stray.pyc",
        ".pytest_cache/v/cache/nodeids",
        ".hypothesis/examples/x",
        ".coverage",
        ".venv/bin/python",
        "web/node_modules/left-pad/index.js",
    ]
    (wordstats_repo / "vendored/__pycache__").mkdir(parents=True)
    (wordstats_repo / "vendored/__pycache__/kept.pyc").write_bytes(b"tracked on purpose")
    git(wordstats_repo, "add", "-f", "vendored")
    git(wordstats_repo, "commit", "-qm", "a tracked pyc")
    for name in [*litter, "wordstats/new.py"]:
        (wordstats_repo / name).parent.mkdir(parents=True, exist_ok=True)
        (wordstats_repo / name).write_text("x\n")
    seen = set(Snapshotter(wordstats_repo).entries())
    listed = set(worktree_files(wordstats_repo) or [])
    for paths in (seen, listed):
        assert "wordstats/new.py" in paths and "vendored/__pycache__/kept.pyc" in paths
        assert not paths & set(litter), sorted(paths & set(litter))
