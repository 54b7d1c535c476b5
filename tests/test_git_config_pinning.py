"""acb reads the diffs git writes, so a user's git configuration must not change them: with
`diff.mnemonicPrefix` `acb review` reviewed `w/a.py`, with `diff.noprefix` the provenance note
recorded `py` for `a.py`. Each scenario sets the options the way users do (a global config file
via GIT_CONFIG_GLOBAL, or the repository's own config) and checks the paths and lines acb takes
from the diff: review, provenance notes, blame, committing a run over the user's edits."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from autocodebase.quality.review.changes import resolve
from autocodebase.vcs.blame import blame, provenance_record
from autocodebase.vcs.checkpoint import Snapshotter, read_tree
from autocodebase.vcs.commit import attach_note, commit_run
from autocodebase.vcs.git import git as acb_git
from autocodebase.vcs.git import head_commit
from tests.conftest import commit_all, git
from tests.helpers import run_acb, write_file

USER_CONFIGS: dict[str, list[tuple[str, str]]] = {
    "none": [],
    "mnemonicPrefix": [("diff.mnemonicPrefix", "true")],
    "noprefix": [("diff.noprefix", "true")],
    "colour and other prefixes": [
        ("color.ui", "always"),
        ("color.diff", "always"),
        ("diff.srcPrefix", "x/"),
        ("diff.dstPrefix", "y/"),
    ],
    "renames, context, blank lines, relative": [
        ("diff.renames", "copies"),
        ("diff.context", "0"),
        ("diff.interHunkContext", "20"),
        ("diff.suppressBlankEmpty", "true"),
        ("diff.relative", "true"),
        ("diff.submodule", "log"),
        ("core.quotepath", "true"),
    ],
}

QUOTED = 'q"uote é.py'
"""A name git quotes even with core.quotepath off (the double quote), with a non-ASCII letter."""

A_OLD = "".join(f"line{n}\n" for n in range(1, 11))
A_NEW = A_OLD.replace("line5\n", "LINE5\n") + "\neleven\n"
MOVED = "".join(f"moved{n}\n" for n in range(1, 7))

CHANGED = {"a.py": {5, 11, 12}, "docs/my notes.py": {1}, QUOTED: {1, 2}, "new.py": {6}}
"""The lines the change adds, file by file, with renames found (what review looks at)."""


SCENARIOS = [(name, scope) for name in USER_CONFIGS for scope in ("global", "local")][1:]


@pytest.fixture(params=SCENARIOS, ids=[f"{name}-{scope}" for name, scope in SCENARIOS])
def user_config(request: pytest.FixtureRequest) -> tuple[str, str]:
    name, scope = request.param
    return str(name), str(scope)


@pytest.fixture
def repo(
    tmp_path: Path, user_config: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """A committed project whose working tree changes (staged): a modified file, a file under
    a directory with a space, a new file with a quoted name, a renamed and edited file, a
    deleted one; the user's diff options set at `user_config`'s scope."""
    root = tmp_path / "project"
    write_file(root / "a.py", A_OLD)
    write_file(root / "docs" / "my notes.py", "x = 1\n")
    write_file(root / "old.py", MOVED)
    write_file(root / "gone.py", "bye = 1\n")
    commit_all(root, "initial", init=True)
    name, scope = user_config
    if scope == "global":
        config = tmp_path / "gitconfig"
        config.write_text(
            "".join(
                f"[{k.rsplit('.', 1)[0]}]\n\t{k.rsplit('.', 1)[1]} = {v}\n"
                for k, v in [
                    *USER_CONFIGS[name],
                    ("user.name", "Global"),
                ]
            )
        )
        monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
        assert git(root, "config", "--global", "--get-regexp", "^(diff|color|core)\\.")
    else:
        for key, value in USER_CONFIGS[name]:
            git(root, "config", key, value)
    monkeypatch.setenv("GIT_DIFF_OPTS", "--unified=5")  # outranks -U on git's command line
    write_file(root / "a.py", A_NEW)
    write_file(root / "docs" / "my notes.py", "x = 2\n")
    write_file(root / QUOTED, "first = 1\nsecond = 2\n")
    git(root, "mv", "old.py", "new.py")
    write_file(root / "new.py", MOVED.replace("moved6", "MOVED6"))
    (root / "gone.py").unlink()
    git(root, "add", "-A")
    yield root


def test_review_of_uncommitted_changes_names_the_real_paths(repo: Path, tmp_path: Path) -> None:
    changes = resolve(repo, None, True, tmp_path / "scratch")
    assert changes.lines == CHANGED


def test_review_of_a_commit_names_and_exports_the_real_paths(repo: Path, tmp_path: Path) -> None:
    git(repo, "commit", "-qm", "change")
    changes = resolve(repo, "HEAD", False, tmp_path / "scratch")
    assert changes.lines == CHANGED
    assert all((tmp_path / "scratch" / path).is_file() for path in CHANGED)


def test_provenance_and_blame_record_the_real_paths(repo: Path) -> None:
    parent = head_commit(repo)
    git(repo, "commit", "-qm", "change")
    commit = head_commit(repo)
    assert parent and commit
    record = provenance_record(repo, parent, commit, "r1", "m", {"a.py": ["call_1"]})
    files = record["files"]
    assert isinstance(files, dict)
    recorded = {path: {int(n) for n in entry["lines"]} for path, entry in files.items()}
    # No renames here: a moved file's lines were all written by this commit.
    assert recorded == {**CHANGED, "new.py": set(range(1, 7))}
    assert files["a.py"]["tool_calls"] == ["call_1"]
    attach_note(repo, commit, record)
    for path, numbers in CHANGED.items():  # blame follows the move: new.py's 1-5 are older
        by_run = {line.number for line in blame(repo, path) if line.run == "r1"}
        assert by_run == numbers, path


def test_every_diff_acb_runs_has_the_prefixes_it_parses(repo: Path) -> None:
    from autocodebase.vcs.diff import parse_diff

    git(repo, "commit", "-qm", "change")
    for args in (("diff", "HEAD~", "HEAD"), ("show", "HEAD"), ("log", "-p", "-1")):
        out = acb_git(repo, *args).decode("utf-8", "surrogateescape")
        assert "\x1b[" not in out, args
        assert "diff --git a/a.py b/a.py\n" in out, args
        paths = {f.path for f in parse_diff(out)}
        assert paths == {*CHANGED, "gone.py"}, args


def test_a_run_over_the_users_edits_commits_its_own_hunk(repo: Path) -> None:
    git(repo, "commit", "-qm", "change")
    write_file(repo / "a.py", A_NEW.replace("line1\n", "users line1\n"))  # the user's edit
    snapshots = Snapshotter(repo)
    start = read_tree(repo, snapshots.checkpoint("r1", "start"))
    write_file(repo / "a.py", A_NEW.replace("line1\n", "users line1\n") + "run = 1\n")
    end = read_tree(repo, snapshots.checkpoint("r1", "end"))
    outcome = commit_run(repo, start, end, "feat: run\n")
    assert outcome is not None and outcome.left_uncommitted == []
    committed = git(repo, "show", "HEAD:a.py")
    assert committed == A_NEW + "run = 1\n", "the run's line, not the user's edit"


@pytest.mark.parametrize("user_config", [("mnemonicPrefix", "global")], indirect=True)
def test_acb_review_cli_reviews_the_real_path(repo: Path) -> None:
    write_file(repo / "a.py", A_NEW + "import hashlib\nh = hashlib.md5(b'pw').hexdigest()\n")
    done = run_acb("review", "--format", "json", "--fail-on", "never", "--no-model", cwd=repo)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    files = {f["file"] for f in report["findings"]}
    assert "a.py" in files and files <= set(CHANGED), files
    assert ("a.py", "B324") in {(f["file"], f["rule"]) for f in report["findings"]}
