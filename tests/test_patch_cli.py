"""`acb patch apply`: the engine from the command line, same messages as the model sees."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import run_acb, write_file

PATCH = "*** Begin Patch\n*** Update File: a.py\n def f():\n-    return 1\n+    return 2\n*** End Patch\n"


def test_apply_prints_the_unified_diff(tmp_path: Path) -> None:
    write_file(tmp_path / "a.py", "def f():\n    return 1\n")
    done = run_acb("patch", "apply", "-C", str(tmp_path), cwd=tmp_path, stdin=PATCH)
    assert done.returncode == 0, done.stderr
    assert "--- a/a.py\n+++ b/a.py" in done.stdout and "+    return 2" in done.stdout
    assert (tmp_path / "a.py").read_text() == "def f():\n    return 2\n"


def test_check_changes_nothing(tmp_path: Path) -> None:
    write_file(tmp_path / "a.py", "def f():\n    return 1\n")
    done = run_acb("patch", "apply", "--check", cwd=tmp_path, stdin=PATCH)
    assert done.returncode == 0 and "would apply: modified a.py" in done.stderr
    assert (tmp_path / "a.py").read_text() == "def f():\n    return 1\n"


def test_search_replace_is_detected(tmp_path: Path) -> None:
    write_file(tmp_path / "a.py", "x = 1\n")
    blocks = "a.py\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE\n"
    done = run_acb("patch", "apply", cwd=tmp_path, stdin=blocks)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "a.py").read_text() == "x = 2\n"


def test_refusal_is_the_models_message_and_exit_1(tmp_path: Path) -> None:
    write_file(tmp_path / "a.py", "def f():\n    return 3\n")
    done = run_acb("patch", "apply", cwd=tmp_path, stdin=PATCH)
    assert done.returncode == 1
    assert "patch not applied" in done.stderr and "Closest region" in done.stderr
    assert "Traceback" not in done.stderr
    assert (tmp_path / "a.py").read_text() == "def f():\n    return 3\n"


def test_garbage_input(tmp_path: Path) -> None:
    done = run_acb("patch", "apply", cwd=tmp_path, stdin="hello\n")
    assert done.returncode == 1 and "no edit found" in done.stderr
