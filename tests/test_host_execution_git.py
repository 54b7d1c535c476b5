"""Host execution through files acb itself later uses: real attempts, each of which must fail.

acb runs git on the host, outside the sandbox. Two ends are attacked here. A model's file tools
try to write what git or acb later act on (`.git/hooks`, `.git/config`, `.acb/approvals.toml`,
nested repositories, under every spelling and through symlinks); and a repository that is
already poisoned (as a cloned or unpacked project can be) names programs in `.git/config` and
`.gitattributes`, then acb's own git operations run over it. Every hostile program here only
creates a marker file: the marker must never appear.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable
from pathlib import Path

import pytest

from autocodebase.agent.git_flow import preflight
from autocodebase.config import Settings
from autocodebase.models.base import ToolCall
from autocodebase.quality.review.changes import resolve
from autocodebase.sandbox.bwrap import bwrap_problem
from autocodebase.tools import default_toolbox
from autocodebase.tools.base import ToolContext, ToolResult
from autocodebase.vcs.blame import blame, provenance_record
from autocodebase.vcs.checkpoint import Snapshotter, export_tree, read_tree
from autocodebase.vcs.commit import attach_note, commit_run, read_note
from autocodebase.vcs.git import git as acb_git
from autocodebase.vcs.git import head_commit
from autocodebase.vcs.undo import undo_run
from tests.conftest import commit_all, git
from tests.fakes.mock_server import Reply
from tests.helpers import EventLog, exec_with_mock, run_acb

APP = 'def greet(name: str) -> str:\n    return f"hello {name}"\n'


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A small committed project with an executable script (what a hook needs to be)."""
    root = tmp_path / "project"
    (root / "tools").mkdir(parents=True)
    (root / "app.py").write_text(APP)
    (root / "README.md").write_text("# project\n")
    (root / "tools" / "fmt.sh").write_text("#!/bin/sh\necho formatting\n")
    (root / "tools" / "fmt.sh").chmod(0o755)
    commit_all(root, "initial", init=True)
    return root


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "HOST-CODE-RAN"


@pytest.fixture
def evil(tmp_path: Path, marker: Path) -> Path:
    """A program that proves it ran (the marker), then behaves like `cat` so that git, when it
    uses it as a filter, textconv or diff program, gets on with the command."""
    script = tmp_path / "evil.sh"
    script.write_text(f'#!/bin/sh\ntouch {shlex.quote(str(marker))}\nexec cat "$@"\n')
    script.chmod(0o755)
    return script


def call_tool(workspace: Path, name: str, **arguments: object) -> ToolResult:
    context = ToolContext(workspace=workspace, emit=EventLog(), shell_timeout_s=10)
    result, _ = default_toolbox().call(context, ToolCall("c1", name, dict(arguments), ""))
    return result


def git_dir_state(root: Path) -> dict[str, bytes]:
    """Every file under `.git` and `.acb` except the object store, by content."""
    state = {}
    for base in (root / ".git", root / ".acb"):
        for path in sorted(base.rglob("*")) if base.exists() else []:
            if path.is_file() and "objects" not in path.relative_to(base).parts:
                state[str(path.relative_to(root))] = path.read_bytes()
    return state


# -- the file tools ---------------------------------------------------------------------------


def _patch(*body: str) -> str:
    return "\n".join(("*** Begin Patch", *body, "*** End Patch"))


HOOK = "reference-transaction"
TOOL_ATTEMPTS: dict[str, tuple[Callable[[Path], None], str]] = {
    "add a hook": (lambda r: None, _patch(f"*** Add File: .git/hooks/{HOOK}", "+touch /tmp/x")),
    "fsmonitor in .git/config": (
        lambda r: None,
        _patch("*** Update File: .git/config", "@@", " [core]", "+\tfsmonitor = /tmp/x.sh"),
    ),
    "move an executable into hooks": (
        lambda r: None,
        _patch(
            "*** Update File: tools/fmt.sh",
            f"*** Move to: .git/hooks/{HOOK}",
            "@@",
            "-echo formatting",
            "+touch /tmp/x",
        ),
    ),
    "move git data out": (
        lambda r: None,
        _patch("*** Update File: .git/description", "*** Move to: description.txt"),
    ),
    "delete HEAD": (lambda r: None, _patch("*** Delete File: .git/HEAD")),
    "approve itself": (
        lambda r: None,
        _patch("*** Add File: .acb/approvals.toml", '+programs = ["sh"]'),
    ),
    "project config": (
        lambda r: None,
        _patch("*** Add File: .acb/config.toml", '+sandbox_mode = "danger-full-access"'),
    ),
    "upper case": (lambda r: None, _patch(f"*** Add File: .GIT/hooks/{HOOK}", "+x")),
    "trailing dot": (lambda r: None, _patch("*** Add File: .git./config", "+x")),
    "trailing space": (lambda r: None, _patch("*** Add File: .git /config", "+x")),
    "NTFS short name": (lambda r: None, _patch("*** Add File: GIT~1/config", "+x")),
    "HFS+ ignorable": (lambda r: None, _patch("*** Add File: .g\u200cit/config", "+x")),
    "nested repository": (
        lambda r: None,
        _patch(f"*** Add File: vendor/lib/.git/hooks/{HOOK}", "+x"),
    ),
    "gitdir file": (lambda r: None, _patch("*** Add File: vendor/.git", "+gitdir: ../store")),
    "symlinked directory": (
        lambda r: (r / "docs").symlink_to(".git"),
        _patch(f"*** Add File: docs/hooks/{HOOK}", "+x"),
    ),
    "symlinked file": (
        lambda r: (r / "settings.ini").symlink_to(".git/config"),
        _patch("*** Update File: settings.ini", "@@", " [core]", "+\tfsmonitor = /tmp/x.sh"),
    ),
    "existing bare repository": (
        lambda r: git(r, "init", "-q", "--bare", "store.git"),
        _patch("*** Add File: store.git/hooks/post-update", "+x"),
    ),
    "existing nested repository": (
        lambda r: git(r, "init", "-q", "vendor/lib"),
        _patch("*** Update File: vendor/lib/.git/config", "@@", " [core]", "+\tx = 1"),
    ),
    "gitdir a .git file names": (
        lambda r: _gitdir_pointer(r),
        _patch("*** Add File: meta/info/attributes", "+* filter=evil"),
    ),
    "search/replace block": (
        lambda r: None,
        ".git/config\n<<<<<<< SEARCH\n[core]\n=======\n[core]\n\tfsmonitor = /tmp/x.sh\n"
        ">>>>>>> REPLACE\n",
    ),
}


def _gitdir_pointer(root: Path) -> None:
    """`wt/.git` names `meta/` as its gitdir, a linked worktree's kind (HEAD and commondir):
    git in `wt/` would read `meta/info/attributes` and run the filters it names."""
    (root / "meta").mkdir()
    (root / "meta" / "HEAD").write_text("ref: refs/heads/main\n")
    (root / "meta" / "commondir").write_text("../.git\n")
    (root / "wt").mkdir()
    (root / "wt" / ".git").write_text("gitdir: ../meta\n")


@pytest.mark.parametrize("attempt", list(TOOL_ATTEMPTS))
def test_apply_patch_refuses_git_and_acb_data(attempt: str, repo: Path) -> None:
    prepare, patch = TOOL_ATTEMPTS[attempt]
    prepare(repo)
    before = git_dir_state(repo)
    listing = sorted(str(p) for p in repo.rglob("*"))
    result = call_tool(repo, "apply_patch", patch=patch)
    assert result.is_error, result.output
    assert result.output.startswith("patch not applied:") and "no tool may write" in result.output
    assert len(result.output.splitlines()) == 1  # one line the model can read
    assert git_dir_state(repo) == before
    assert sorted(str(p) for p in repo.rglob("*")) == listing


def test_patch_cli_refuses_git_data_too(repo: Path) -> None:
    before = git_dir_state(repo)
    patch = _patch("*** Update File: .git/config", "@@", " [core]", "+\tfsmonitor = /tmp/x.sh")
    done = run_acb("patch", "apply", cwd=repo, stdin=patch)
    assert done.returncode == 1 and "no tool may write there" in done.stderr
    assert git_dir_state(repo) == before


def test_an_ordinary_patch_next_to_git_data_still_applies(repo: Path) -> None:
    """The guard is no blanket: `.gitignore`, `.github/` and a file named `git` are the
    project's own, and a refused patch is refused as a whole."""
    patch = _patch(
        "*** Add File: .gitignore",
        "+*.pyc",
        "*** Add File: .github/workflows/ci.yml",
        "+on: push",
        "*** Add File: docs/git/usage.md",
        "+# git",
    )
    result = call_tool(repo, "apply_patch", patch=patch)
    assert not result.is_error, result.output
    mixed = _patch("*** Add File: notes.md", "+x", "*** Add File: .git/info/attributes", "+x")
    assert call_tool(repo, "apply_patch", patch=mixed).is_error
    assert not (repo / "notes.md").exists()


# -- a model in a real run --------------------------------------------------------------------


def test_a_run_cannot_plant_an_fsmonitor_acb_then_runs(
    repo: Path, evil: Path, marker: Path
) -> None:
    """The attack as it happened: the model adds `core.fsmonitor` to `.git/config`; acb's end
    checkpoint (`git ls-files`) would run it on the host."""
    patch = _patch("*** Update File: .git/config", "@@", " [core]", f"+\tfsmonitor = {evil}")
    script = [Reply("", [("apply_patch", {"patch": patch})]), Reply("Done."), Reply("chore: x")]
    done, server = exec_with_mock(repo, script, "speed up git status")
    assert not marker.exists(), "the planted fsmonitor ran on the host"
    assert done.returncode == 0, done.stderr
    assert "fsmonitor" not in (repo / ".git" / "config").read_text()
    assert "no tool may write there" in str(server.requests[1])  # what the model was told


def test_a_run_cannot_turn_a_script_into_a_hook(repo: Path, marker: Path) -> None:
    """Moving an executable file keeps its mode: moved into `.git/hooks` it would be a hook that
    acb's own `git update-ref` (every checkpoint) runs, unsandboxed."""
    patch = _patch(
        "*** Update File: tools/fmt.sh",
        f"*** Move to: .git/hooks/{HOOK}",
        "@@",
        "-echo formatting",
        f"+touch {shlex.quote(str(marker))}",
    )
    script = [Reply("", [("apply_patch", {"patch": patch})]), Reply("Done.")]
    done, _ = exec_with_mock(repo, script, "tidy the tools", "--no-commit")
    assert not marker.exists(), "the hook ran on the host"
    assert done.returncode == 0, done.stderr
    assert not (repo / ".git" / "hooks" / HOOK).exists()
    assert (repo / "tools" / "fmt.sh").exists()


# -- a poisoned repository: acb's own git operations ------------------------------------------


def _config(root: Path, *pairs: tuple[str, str]) -> None:
    for key, value in pairs:
        git(root, "config", key, value)


def _attributes(root: Path, line: str) -> None:
    (root / ".gitattributes").write_text(line + "\n")
    commit_all(root, "attributes")


def _hooks(directory: Path, marker: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name in (HOOK, "post-index-change", "post-checkout", "pre-commit", "post-commit"):
        (directory / name).write_text(f"#!/bin/sh\ntouch {shlex.quote(str(marker))}\n")
        (directory / name).chmod(0o755)


def _submodule(root: Path, evil: Path) -> None:
    """A submodule whose own repository (not the parent's) runs a program on index refresh."""
    source = root.parent / "library"
    source.mkdir()
    (source / "lib.py").write_text("X = 1\n")
    commit_all(source, "library", init=True)
    git(root, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(source), "lib")
    commit_all(root, "add the library")
    git(root / "lib", "config", "core.fsmonitor", str(evil))
    (root / "lib" / "lib.py").write_text("X = 2\n")  # dirty: git would ask the submodule


def _include(root: Path, evil: Path) -> None:
    (root / ".git" / "extra.config").write_text(f"[core]\n\tfsmonitor = {evil}\n")
    _config(root, ("include.path", "extra.config"))


POISONS: dict[str, Callable[[Path, Path, Path], None]] = {
    "hooks": lambda r, e, m: _hooks(r / ".git" / "hooks", m),
    "core.hooksPath": lambda r, e, m: (
        _hooks(r.parent / "hooks", m),
        _config(r, ("core.hooksPath", str(r.parent / "hooks"))),
    ),
    "core.fsmonitor": lambda r, e, m: _config(r, ("core.fsmonitor", str(e))),
    "included config": lambda r, e, m: _include(r, e),
    "clean/smudge filter": lambda r, e, m: (
        _attributes(r, "*.py filter=evil"),
        _config(
            r,
            ("filter.evil.clean", str(e)),
            ("filter.evil.smudge", str(e)),
            ("filter.evil.required", "true"),
        ),
    ),
    "filter process": lambda r, e, m: (
        _attributes(r, "*.py filter=lfs"),
        _config(r, ("filter.lfs.process", str(e)), ("filter.lfs.required", "true")),
    ),
    "driver named with =": lambda r, e, m: (  # `-c filter.a=b.clean=` would set `filter.a`
        _attributes(r, "*.py filter=a=b"),
        _config(r, ("filter.a=b.clean", str(e)), ("filter.a=b.required", "true")),
    ),
    "textconv": lambda r, e, m: (
        _attributes(r, "*.py diff=evil"),
        _config(r, ("diff.evil.textconv", str(e))),
    ),
    "diff driver command": lambda r, e, m: (
        _attributes(r, "*.py diff=evil"),
        _config(r, ("diff.evil.command", str(e))),
    ),
    "diff.external": lambda r, e, m: _config(r, ("diff.external", str(e))),
    "submodule's own config": lambda r, e, m: _submodule(r, e),
}


def run_acb_git_operations(root: Path, scratch: Path) -> None:
    """What a run, a review and an undo do with git, in order, on `root`."""
    preflight(root, Settings(), "acb/task")  # `acb exec --branch`: git switch -c
    snapshots = Snapshotter(root)
    start_ref = snapshots.checkpoint("r1", "start")  # ls-files, hash-object, update-ref
    (root / "app.py").write_text(APP + "\n\ndef bye() -> str:\n    return 'bye'\n")
    resolve(root, None, True, scratch / "review-uncommitted")  # `acb review`: diff HEAD
    end_ref = snapshots.checkpoint("r1", "end")
    start, end = read_tree(root, start_ref), read_tree(root, end_ref)
    ids = [snapshots.write_tree(start), snapshots.write_tree(end)]
    acb_git(root, "diff", "--binary", "--no-color", *ids)  # the run's diff, as the loop takes it
    parent = head_commit(root)
    outcome = commit_run(root, start, end, "feat: bye\n")
    if outcome is not None and outcome.commit is not None:
        record = provenance_record(root, parent, outcome.commit, "r1", "model", {})
        attach_note(root, outcome.commit, record)
        assert read_note(root, outcome.commit) is not None
        blame(root, "app.py")
        resolve(root, "HEAD", False, scratch / "review-head")  # diff + git archive
    export_tree(root, end_ref, scratch / "exported")
    undo_run(root, "r1", outcome.commit if outcome else None)
    assert (root / "app.py").read_text() == APP


@pytest.mark.parametrize("poison", list(POISONS))
def test_a_poisoned_repository_runs_nothing_through_acb_git(
    poison: str, repo: Path, evil: Path, marker: Path, tmp_path: Path
) -> None:
    POISONS[poison](repo, evil, marker)
    marker.unlink(missing_ok=True)  # planting it with git may itself have run the poison
    (tmp_path / "scratch").mkdir()
    try:
        run_acb_git_operations(repo, tmp_path / "scratch")
    finally:  # a hostile program that misbehaves may fail the operation: it still ran
        assert not marker.exists(), f"{poison}: a program the repository names ran on the host"


def test_filtered_files_are_left_uncommitted_and_said_so(repo: Path, evil: Path) -> None:
    """acb applies no filter, so its checkpoint holds an LFS file's real bytes, not the pointer
    the project commits: committing them would put the binary in history. It leaves them out."""
    _attributes(repo, "*.bin filter=lfs diff=lfs merge=lfs -text")
    _config(repo, ("filter.lfs.clean", str(evil)), ("filter.lfs.required", "true"))
    snapshots = Snapshotter(repo)
    start = read_tree(repo, snapshots.checkpoint("r1", "start"))
    (repo / "model.bin").write_bytes(b"\x00weights" * 100)
    (repo / "app.py").write_text(APP + "# more\n")
    end = read_tree(repo, snapshots.checkpoint("r1", "end"))
    outcome = commit_run(repo, start, end, "feat: weights\n")
    assert outcome is not None and outcome.commit is not None
    assert outcome.paths == ["app.py"] and outcome.left_uncommitted == ["model.bin"]
    assert "model.bin" not in git(repo, "ls-tree", "-r", "--name-only", "HEAD").split()


# -- what a run made that git will obey later -------------------------------------------------


@pytest.mark.skipif(
    bwrap_problem() is not None, reason="the run's shell needs the bubblewrap sandbox"
)
def test_a_run_that_creates_repositories_says_so_and_commits_none(
    repo: Path, evil: Path, marker: Path
) -> None:
    """The sandboxed shell may create repositories in the work tree (git in a subdirectory will
    obey their hooks and config later); acb neither commits them (as a gitlink or as files) nor
    stays silent, and says when `.gitattributes` changed."""
    shell = (
        "git init -q vendor/lib && echo hi > vendor/lib/x.txt && "
        f"git -C vendor/lib config core.fsmonitor {shlex.quote(str(evil))} && "
        "git init -q --bare store.git"
    )
    attributes = _patch("*** Add File: .gitattributes", "+*.py diff=python")
    script = [
        Reply("", [("shell", {"command": shell})]),
        Reply("", [("apply_patch", {"patch": attributes})]),
        Reply("Done."),
        Reply("chore: vendor the library"),
    ]
    done, _ = exec_with_mock(repo, script, "vendor the library")
    assert done.returncode == 0, done.stderr
    assert (repo / "vendor/lib/.git").is_dir() and (repo / "store.git/HEAD").is_file()
    assert "created a git repository inside the work tree" in done.stderr
    assert "store.git/" in done.stderr and "vendor/lib/" in done.stderr
    assert "changed .gitattributes" in done.stderr
    committed = git(repo, "ls-tree", "-r", "--name-only", "HEAD").split()
    assert ".gitattributes" in committed
    assert not [p for p in committed if p.startswith(("vendor/", "store.git/"))]
    assert "160000" not in git(repo, "ls-files", "-s")
    assert not marker.exists()


def test_git_is_never_taken_from_a_folder_sandboxed_commands_may_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A virtualenv activated inside the workspace puts `.venv/bin` first on PATH; a `git` the
    model plants there ran on the host for every checkpoint (found by attacking `acb eval`,
    whose instances run with their venv first on PATH)."""
    from autocodebase.programs import distrust
    from autocodebase.vcs.git import git_program

    workspace = tmp_path / "ws"
    planted = workspace / ".venv" / "bin"
    planted.mkdir(parents=True)
    witness = tmp_path / "ran-on-host"
    fake = planted / "git"
    fake.write_text(f'#!/bin/sh\ntouch {witness}\nexec /usr/bin/git "$@"\n')
    fake.chmod(0o755)
    git(tmp_path, "init", "-q", str(workspace / "repo"))
    monkeypatch.setenv("PATH", f"{planted}:{os.environ['PATH']}")
    distrust(workspace)
    assert git_program() != str(fake)
    acb_git(workspace / "repo", "status")
    assert not witness.exists()
