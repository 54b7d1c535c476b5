"""A smoke test of the SWE-bench Lite gold-patch benchmark on a tiny repository made here: the
git-diff-to-Codex conversion and the exact comparison keep working without the real inputs."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from bench.edits.gitdiff import full_section, parse_unified, to_codex
from bench.edits.history import history_instances
from bench.edits.lite import main, render, run_all

LONG = "def configure(self, name, expression, argument_sequence=None, global_vars=None, extra=0):"
BEFORE = f"""class Printer:
    {LONG}
        zeroth = 0
        first = 1
        second = 2
        third = 3
        fourth = 4
        fifth = 5
        sixth = 6
        seventh = 7
        eighth = 8
        ninth = 9
        tenth = 10
        eleventh = 11
        return first


def tail():
    return 0
"""
AFTER = (
    BEFORE.replace("first = 1", "first = 10")
    .replace("return first", "return first + second")
    .replace("return 0", "return 1")
)


def git(repo: Path, *args: str) -> str:
    command = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-C", str(repo)]
    return subprocess.run([*command, *args], capture_output=True, check=True, text=True).stdout


def make_instance(root: Path) -> dict[str, str]:
    repo = root / "acme__widgets"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / ".gitattributes").write_text("*.py diff=python\n")
    (repo / "printer.py").write_text(BEFORE)
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "base")
    base = git(repo, "rev-parse", "HEAD").strip()
    (repo / "printer.py").write_text(AFTER)
    (repo / "new.py").write_text("x = 1\n")
    git(repo, "add", ".")
    patch = git(repo, "diff", "--cached", "-U1")
    return {
        "instance_id": "acme__widgets-1",
        "repo": "acme/widgets",
        "base_commit": base,
        "patch": patch,
    }


def test_the_conversion_keeps_git_headings_whole_and_marks_the_end_of_file(tmp_path: Path) -> None:
    instance = make_instance(tmp_path)
    files = parse_unified(instance["patch"])
    printer = next(f for f in files if f.old_path == "printer.py")
    headings = [h.section for h in printer.hunks]
    assert headings == [LONG[:80].rstrip()] * 3, "git cuts headings at 80 bytes"
    assert full_section(headings[1], BEFORE.splitlines(), printer.hunks[1].old_start) == LONG
    patch = to_codex(files, {"printer.py": BEFORE}, anchors=True)
    assert patch.count(f"@@ {LONG}\n") == 3, "every hunk names the definition above it"
    assert "*** End of File" in patch and "*** Add File: new.py\n+x = 1\n" in patch
    assert "@@ def" not in to_codex(files, {"printer.py": BEFORE}, anchors=False)


def test_gold_patches_apply_exactly_and_missing_repositories_are_counted_apart(
    tmp_path: Path,
) -> None:
    instance = make_instance(tmp_path)
    absent = {**instance, "instance_id": "other__thing-2", "repo": "other/thing"}
    outcomes = run_all([instance, absent], tmp_path)
    assert {(o.instance, o.variant): o.status for o in outcomes} == {
        ("acme__widgets-1", "anchors"): "exact",
        ("acme__widgets-1", "no-anchors"): "exact",
        ("other__thing-2", "anchors"): "unavailable",
        ("other__thing-2", "no-anchors"): "unavailable",
    }
    assert all(o.repeated_anchor for o in outcomes if o.repo == "acme/widgets")
    section = render(outcomes, 1.0)
    assert "| acme/widgets | 1 | 1 | 1 / 0 / 0 / 0 / 0 | 1 / 0 / 0 / 0 / 0 |" in section
    assert "| other/thing | 1 | 1 | 0 / 0 / 0 / 0 / 1 | 0 / 0 / 0 / 0 / 1 |" in section


def test_recent_commits_with_several_hunks_become_instances(tmp_path: Path) -> None:
    instance = make_instance(tmp_path)
    repo = tmp_path / "acme__widgets"
    git(repo, "commit", "-qm", "change")
    (found,) = history_instances(repo, "acme/widgets", 5)  # the base commit has one hunk
    assert found["base_commit"] == git(repo, "rev-parse", "HEAD").strip() + "^"
    assert found["patch"].count("\n@@ ") == 3, "new.py's hunk and printer.py's two"
    outcomes = run_all([found], tmp_path)
    assert [o.status for o in outcomes] == ["exact", "exact"]
    assert instance["base_commit"] != found["base_commit"]


def test_an_instance_the_harness_cannot_set_up_is_failed_not_counted(tmp_path: Path) -> None:
    """A base commit missing from the mirror: the engine was never asked, so the instance is
    neither applied nor refused, and the section names it with git's reason."""
    instance = make_instance(tmp_path)
    broken = {**instance, "instance_id": "acme__widgets-2", "base_commit": "0" * 40}
    outcomes = run_all([instance, broken], tmp_path)
    assert [o.status for o in outcomes if o.instance == "acme__widgets-2"] == ["failed"] * 2
    section = render(outcomes, 1.0)
    assert "| acme/widgets | 1 | 1 | 1 / 0 / 0 / 0 / 0 | 1 / 0 / 0 / 0 / 0 |" in section
    assert "Could not be measured (the harness failed; counted nowhere above):" in section
    assert "- acme__widgets-2: Command '['git'" in section


def test_the_command_exits_1_for_an_instance_it_could_not_measure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    instance = make_instance(tmp_path)
    broken = {**instance, "instance_id": "acme__widgets-2", "base_commit": "0" * 40}
    data = tmp_path / "lite.json"
    data.write_text(json.dumps([instance, broken]))
    argv = ["--repos", str(tmp_path), "--data", str(data)]
    assert main(argv) == 1
    assert "could not measure instance acme__widgets-2" in capsys.readouterr().err
    assert main([*argv, "--allow-missing"]) == 0
    assert main([*argv, "--only", "widgets-1"]) == 0, "an unavailable repository is not a failure"
