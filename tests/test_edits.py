"""The simple edit engine behind apply_patch: parsing, locating, atomicity, confinement."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from autocodebase.edits.apply import apply_edits
from autocodebase.edits.model import PatchError
from autocodebase.edits.parse import parse_edits
from tests.helpers import write_file


def apply(workspace: Path, patch: str) -> list[str]:
    return [f"{a.change}:{a.path}" for a in apply_edits(workspace, parse_edits(patch))]


def test_add_update_delete_move(tmp_path: Path) -> None:
    write_file(tmp_path / "a.py", "one\ntwo\nthree\n")
    write_file(tmp_path / "old.py", "x = 1\n")
    write_file(tmp_path / "gone.py", "bye\n")
    report = apply(
        tmp_path,
        """*** Begin Patch
*** Add File: pkg/new.py
+hello
*** Update File: a.py
@@
 one
-two
+TWO
 three
*** Update File: old.py
*** Move to: moved/renamed.py
@@
-x = 1
+x = 2
*** Delete File: gone.py
*** End Patch""",
    )
    assert report == ["added:pkg/new.py", "modified:a.py", "moved:old.py", "deleted:gone.py"]
    assert (tmp_path / "pkg/new.py").read_text() == "hello\n"
    assert (tmp_path / "a.py").read_text() == "one\nTWO\nthree\n"
    assert (tmp_path / "moved/renamed.py").read_text() == "x = 2\n"
    assert not (tmp_path / "old.py").exists() and not (tmp_path / "gone.py").exists()


def test_envelope_noise_is_tolerated(tmp_path: Path) -> None:
    write_file(tmp_path / "a.txt", "a\n")
    patch = "```bash\napply_patch <<'EOF'\n*** Begin Patch\n*** Update File: a.txt\n-a\n+b\n*** End Patch\nEOF\n```"
    apply(tmp_path, patch)
    assert (tmp_path / "a.txt").read_text() == "b\n"


def test_all_or_nothing(tmp_path: Path) -> None:
    write_file(tmp_path / "a.txt", "a\n")
    write_file(tmp_path / "b.txt", "b\n")
    with pytest.raises(PatchError, match="could not find"):
        apply(
            tmp_path,
            "*** Begin Patch\n*** Update File: a.txt\n-a\n+A\n*** Update File: b.txt\n-nope\n+B\n*** End Patch",
        )
    assert (tmp_path / "a.txt").read_text() == "a\n"


def test_ambiguous_context_is_refused_with_locations(tmp_path: Path) -> None:
    write_file(tmp_path / "a.py", "x = 1\ny = 2\nx = 1\n")
    with pytest.raises(PatchError, match=r"matches 2 places, at lines 1, 3"):
        apply(tmp_path, "*** Begin Patch\n*** Update File: a.py\n-x = 1\n+x = 3\n*** End Patch")
    assert (tmp_path / "a.py").read_text() == "x = 1\ny = 2\nx = 1\n"


def test_anchor_disambiguates(tmp_path: Path) -> None:
    write_file(tmp_path / "a.py", "def f():\n    return 1\n\ndef g():\n    return 1\n")
    apply(
        tmp_path,
        "*** Begin Patch\n*** Update File: a.py\n@@ def g():\n-    return 1\n+    return 2\n*** End Patch",
    )
    assert (tmp_path / "a.py").read_text() == "def f():\n    return 1\n\ndef g():\n    return 2\n"


def test_an_anchor_missing_from_the_file_refuses_the_first_hunk(tmp_path: Path) -> None:
    """Only a later hunk may outlive its anchor (an earlier hunk can have rewritten that line)."""
    write_file(tmp_path / "a.py", "def f():\n    return 1\n")
    with pytest.raises(PatchError, match=r"anchor '@@ def h\(\):' was not found"):
        apply(
            tmp_path,
            "*** Begin Patch\n*** Update File: a.py\n@@ def h():\n-    return 1\n+    return 2\n"
            "*** End Patch",
        )


def test_a_later_hunk_prefers_the_definition_the_previous_one_ended_in(tmp_path: Path) -> None:
    """Two hunks inside one `def f` both carry `@@ def f():` (as git writes them); the second
    one's lines also fit a later `def f`, but the order of hunks says which."""
    body = "def f():\n    a = 1\n    b = 2\n    return a\n\n"
    write_file(tmp_path / "a.py", body + "def g():\n    pass\n\n" + body.replace("1", "5"))
    apply(
        tmp_path,
        "*** Begin Patch\n*** Update File: a.py\n@@ def f():\n-    a = 1\n+    a = 3\n"
        "@@ def f():\n     b = 2\n-    return a\n+    return a + b\n*** End Patch",
    )
    text = (tmp_path / "a.py").read_text()
    assert text.startswith("def f():\n    a = 3\n    b = 2\n    return a + b\n")
    assert text.count("return a\n") == 1


def test_crlf_and_mode_are_kept(tmp_path: Path) -> None:
    target = tmp_path / "run.sh"
    target.write_bytes(b"#!/bin/sh\r\necho one\r\n")
    target.chmod(0o755)
    apply(tmp_path, "*** Begin Patch\n*** Update File: run.sh\n-echo one\n+echo two\n*** End Patch")
    assert target.read_bytes() == b"#!/bin/sh\r\necho two\r\n"
    assert os.stat(target).st_mode & 0o777 == 0o755


def test_drifted_indentation_is_reindented(tmp_path: Path) -> None:
    write_file(tmp_path / "a.py", "class A:\n    def f(self):\n        return 1\n")
    apply(
        tmp_path,
        "*** Begin Patch\n*** Update File: a.py\n def f(self):\n-    return 1\n+    return 2\n*** End Patch",
    )
    assert (tmp_path / "a.py").read_text() == "class A:\n    def f(self):\n        return 2\n"


def test_miss_shows_the_closest_region(tmp_path: Path) -> None:
    lines = [f"x{i} = {i}\n" for i in range(1, 40)]
    lines[19] = "def compute_total(items):\n"
    write_file(tmp_path / "a.py", "".join(lines))
    with pytest.raises(PatchError) as caught:
        apply(
            tmp_path,
            "*** Begin Patch\n*** Update File: a.py\n-def compute_totl(items):\n+x\n*** End Patch",
        )
    message = str(caught.value)
    assert "compute_totl" in message and "   20 | def compute_total(items):" in message
    assert "   18 | x18 = 18" in message


@pytest.mark.parametrize("path", ["/etc/passwd", "../outside.txt", "a/../../outside.txt"])
def test_paths_outside_the_workspace_are_refused(tmp_path: Path, path: str) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    with pytest.raises(PatchError):
        apply(workspace, f"*** Begin Patch\n*** Add File: {path}\n+x\n*** End Patch")
    assert not (tmp_path / "outside.txt").exists()


def test_symlink_escape_is_refused(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "link").symlink_to(tmp_path)
    with pytest.raises(PatchError, match="outside the workspace"):
        apply(workspace, "*** Begin Patch\n*** Add File: link/escape.txt\n+x\n*** End Patch")


@pytest.mark.parametrize(
    "patch,message",
    [
        ("*** Update File: a\n-x\n+y\n*** End Patch", "Begin Patch"),
        ("*** Begin Patch\n*** Update File: a\n-x\n+y\n", "End Patch"),
        ("*** Begin Patch\n*** End Patch", "no file operations"),
        ("*** Begin Patch\n*** Frobnicate: a\n*** End Patch", "unexpected line"),
        ("*** Begin Patch\n*** Update File: a\n context only\n*** End Patch", "no hunk"),
    ],
)
def test_parse_errors_explain_themselves(patch: str, message: str) -> None:
    with pytest.raises(PatchError, match=message):
        parse_edits(patch)


def test_add_over_existing_and_update_missing_are_refused(tmp_path: Path) -> None:
    write_file(tmp_path / "a.txt", "a\n")
    with pytest.raises(PatchError, match="already exists"):
        apply(tmp_path, "*** Begin Patch\n*** Add File: a.txt\n+b\n*** End Patch")
    with pytest.raises(PatchError, match="does not exist"):
        apply(tmp_path, "*** Begin Patch\n*** Update File: b.txt\n-b\n+c\n*** End Patch")
