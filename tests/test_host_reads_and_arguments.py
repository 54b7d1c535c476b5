"""What a command can leave in the workspace for acb's own host-side code: file names that are
options to the review tools, symlinked directories and C-quoted names for the checkpoint and
undo, symlinks for the repo map and AGENTS.md. Found by a second red-team pass; each attempt
ran code on the host, wrote outside the workspace, or put a hidden file's text in a commit, the
prompt or the ledger before the fix."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from autocodebase.context.agents_md import discover
from autocodebase.context.index import source_files
from autocodebase.quality.review import semgrep as semgrep_gate
from autocodebase.quality.review import static
from autocodebase.quality.review.changes import resolve
from autocodebase.vcs.checkpoint import Snapshotter, write_entry
from autocodebase.vcs.git import git
from tests.conftest import commit_all
from tests.helpers import write_file


@pytest.fixture
def outside() -> Iterator[Path]:
    made = Path(tempfile.mkdtemp(prefix="acb-reads-", dir="/var/tmp"))
    yield made
    shutil.rmtree(made, ignore_errors=True)


def test_a_file_named_like_an_option_does_not_load_a_plugin_on_the_host(
    tmp_path: Path, outside: Path
) -> None:
    repo = tmp_path / "repo"
    marker = outside / "plugin-ran"
    write_file(repo / "evil_plugin.py", f"open({str(marker)!r}, 'w').write('x')\n")
    write_file(repo / "--plugin=evil_plugin.py", "x\n")
    write_file(repo / "-pevil_plugin.py", "x\n")
    static.secrets(repo, ["--plugin=evil_plugin.py", "-pevil_plugin.py", "evil_plugin.py"])
    assert not marker.exists()


def test_a_file_named_like_an_output_option_writes_nothing_outside(
    tmp_path: Path, outside: Path
) -> None:
    repo = tmp_path / "repo"
    victim = outside / "victim"
    victim.write_text("untouched\n")
    write_file(repo / "bad.py", "def run(s):\n    return eval(s)\n")
    write_file(repo / "-ohook.py", "x = 1\n")
    (repo / "hook.py").symlink_to(victim)
    found = static.bandit(repo, ["-ohook.py", "bad.py"])
    if semgrep_gate.executable() is not None:
        semgrep_gate.semgrep(repo, ["-ohook.py", "bad.py"])
    assert victim.read_text() == "untouched\n"
    assert any(f.file == "bad.py" for f in found), "the gate still sees the flaw"


def test_review_skips_symlinks_out_of_the_workspace(tmp_path: Path, outside: Path) -> None:
    repo = tmp_path / "repo"
    write_file(repo / "app.py", "x = 1\n")
    commit_all(repo, "start", init=True)
    (outside / "secret.yml").write_text("token: HIDDEN-CANARY\n")
    (repo / ".github" / "workflows").mkdir(parents=True)
    (repo / ".github" / "workflows" / "ci.yml").symlink_to(outside / "secret.yml")
    write_file(repo / "app.py", "x = 2\n")
    changes = resolve(repo, None, uncommitted=True, scratch=tmp_path / "scratch")
    assert ".github/workflows/ci.yml" not in changes.files and "app.py" in changes.files


def test_a_symlinked_directory_is_neither_read_nor_written_through(
    tmp_path: Path, outside: Path
) -> None:
    repo = tmp_path / "repo"
    write_file(repo / "pkg" / "mod.py", "VALUE = 1\n")
    commit_all(repo, "start", init=True)
    (outside / "mod.py").write_text("HIDDEN-CANARY\n")
    shutil.rmtree(repo / "pkg")
    (repo / "pkg").symlink_to(outside)
    tree = Snapshotter(repo).entries()
    blobs = [git(repo, "cat-file", "blob", entry.blob) for entry in tree.values()]
    assert not any(b"HIDDEN-CANARY" in blob for blob in blobs)
    # Undo puts the file back inside the workspace, never through the link.
    write_entry(repo, "pkg/mod.py", _entry_of(repo, "VALUE = 1\n"))
    assert (outside / "mod.py").read_text() == "HIDDEN-CANARY\n"
    assert not (repo / "pkg").is_symlink() and (repo / "pkg" / "mod.py").is_file()


def _entry_of(repo: Path, text: str):  # type: ignore[no-untyped-def]
    from autocodebase.vcs.checkpoint import Entry

    blob = git(repo, "hash-object", "-w", "--stdin", input=text.encode()).decode().strip()
    return Entry("100644", blob)


def test_a_c_quoted_file_name_is_hashed_as_itself(tmp_path: Path, outside: Path) -> None:
    repo = tmp_path / "repo"
    write_file(repo / "app.py", "x = 1\n")
    commit_all(repo, "start", init=True)
    canary = outside / "canary"
    canary.write_text("HIDDEN-CANARY\n")
    quoted = '"' + str(canary).replace("/", "\\057") + '"'
    (repo / quoted).write_text("dummy\n")
    tree = Snapshotter(repo).entries()
    assert quoted in tree
    assert git(repo, "cat-file", "blob", tree[quoted].blob) == b"dummy\n"


def test_the_repo_map_and_agents_md_do_not_follow_symlinks_out(
    tmp_path: Path, outside: Path
) -> None:
    repo = tmp_path / "repo"
    write_file(repo / "app.py", "def visible():\n    return 1\n")
    commit_all(repo, "start", init=True)
    (outside / "secret.py").write_text("def hidden_canary():\n    return 'HIDDEN'\n")
    (outside / "AGENTS.md").write_text("HIDDEN-CANARY instructions\n")
    (repo / "leak.py").symlink_to(outside / "secret.py")
    (repo / "AGENTS.md").symlink_to(outside / "AGENTS.md")
    (repo / "inner.py").symlink_to(repo / "app.py")  # a link that stays inside still counts
    assert "leak.py" not in source_files(repo) and "inner.py" in source_files(repo)
    assert all("HIDDEN-CANARY" not in item.text for item in discover(repo))


def test_coverage_data_is_read_without_the_repositorys_coverage_config(
    tmp_path: Path, outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from autocodebase.quality.coverage import _read
    from autocodebase.quality.results import TestReport

    repo = tmp_path / "repo"
    marker = outside / "coverage-plugin-ran"
    write_file(repo / "calc.py", "def add(a, b):\n    return a + b\n")
    write_file(
        repo / "evil_cov_plugin.py",
        f"open({str(marker)!r}, 'w')\n\ndef coverage_init(reg, options):\n    pass\n",
    )
    write_file(repo / ".coveragerc", "[run]\nplugins = evil_cov_plugin\n")
    import coverage

    data = tmp_path / "cov.data"
    cov = coverage.Coverage(data_file=str(data), config_file=False, source=[str(repo)])
    monkeypatch.syspath_prepend(str(repo))  # as if the plugin could be imported on the host
    cov.start()
    import importlib

    calc = importlib.import_module("calc")
    calc.add(1, 2)
    cov.stop()
    cov.save()
    marker.unlink(missing_ok=True)
    monkeypatch.chdir(repo)
    _read(data, repo, TestReport("pytest", "pytest", 0))
    assert not marker.exists()
