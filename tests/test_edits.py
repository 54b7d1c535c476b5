"""The simple edit engine behind apply_patch: parsing, locating, atomicity, confinement."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

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


@pytest.mark.parametrize("later", ["different", "identical"])
def test_a_later_hunk_under_the_same_anchor(tmp_path: Path, later: str) -> None:
    """Two hunks inside one `def f` both carry `@@ def f():`, as git writes them: the second is
    found under the `def f` the first one ended in; when a later `def f` has the same lines,
    nothing in the patch says which is meant, so it is refused."""
    body = "def f():\n    a = 1\n    b = 2\n    return a\n\n"
    twin = body.replace("1", "5")
    twin = twin if later == "identical" else twin.replace("b = 2", "b = 7")
    write_file(tmp_path / "a.py", body + "def g():\n    pass\n\n" + twin)
    patch = (
        "*** Begin Patch\n*** Update File: a.py\n@@ def f():\n-    a = 1\n+    a = 3\n"
        "@@ def f():\n     b = 2\n-    return a\n+    return a + b\n*** End Patch"
    )
    if later == "identical":
        with pytest.raises(PatchError, match=r"hunk 2 of 2: a.py: the hunk matches 2 places"):
            apply(tmp_path, patch)
        return
    apply(tmp_path, patch)
    text = (tmp_path / "a.py").read_text()
    assert text.startswith("def f():\n    a = 3\n    b = 2\n    return a + b\n")
    assert text.endswith("    b = 7\n    return a\n\n")


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


DEFINITIONS = ["def f(x):", "def g(x):", "class A:", "    def f(self):"]
"""Definition lines, repeated on purpose; a method's class is added when it is missing."""
HEADS = ("def ", "class ")
BODIES = ["x = 1", "return x", "y = 'a'", "", "pass"]


@st.composite
def headed_changes(draw: st.DrawFn) -> tuple[list[str], list[tuple[int, int, list[str]]]]:
    """A Python file of repeated definitions with repeated bodies, and ordered, separate
    changes: what git's python diff driver heads with the same line again and again."""
    lines: list[str] = []
    for _ in range(draw(st.integers(2, 6))):
        heading = draw(st.sampled_from(DEFINITIONS))
        method = heading.startswith(" ")
        if method and not any(line.startswith("class") for line in lines[-8:]):
            lines.append("class A:")
        lines.append(heading)
        indent = "        " if method else "    "
        body = draw(st.lists(st.sampled_from(BODIES), min_size=1, max_size=5))
        lines += [indent + text if text else text for text in body]
    changes = []
    position = 1
    while position < len(lines) and len(changes) < 3:
        start = draw(st.integers(position, len(lines)))
        end = draw(st.integers(start, min(start + 2, len(lines))))
        new = draw(st.lists(st.sampled_from(["    changed()", "    x = 2"]), max_size=2))
        if lines[start:end] == new:
            break
        changes.append((start, end, new))
        position = end + 5  # room for both hunks' context
    return lines, changes


def git_style_patch(lines: list[str], changes: list[tuple[int, int, list[str]]]) -> str:
    """Hunks with two lines of context, each headed as git's python driver would: by the
    nearest definition line above the hunk."""
    body = ["*** Begin Patch", "*** Update File: f.py"]
    for start, end, new in changes:
        first = max(start - 2, 0)
        above = range(first - 1, -1, -1)
        heading = next((lines[i] for i in above if lines[i].lstrip().startswith(HEADS)), "")
        body.append(f"@@ {heading.strip()}" if heading else "@@")
        body += [" " + t for t in lines[first:start]] + ["-" + t for t in lines[start:end]]
        body += ["+" + t for t in new] + [" " + t for t in lines[end : end + 2]]
    return "\n".join([*body, "*** End Patch"]) + "\n"


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=headed_changes())
def test_headed_hunks_land_where_meant_or_are_refused(
    case: tuple[list[str], list[tuple[int, int, list[str]]]], tmp_path_factory: object
) -> None:
    """Repeated definitions and bodies make anchors and context ambiguous on purpose: the
    preference for the definition the previous hunk ended in must never misplace a hunk."""
    lines, changes = case
    assume(changes)
    workspace = Path(tmp_path_factory.mktemp("ws"))  # type: ignore[attr-defined]
    original = "\n".join(lines) + "\n"
    (workspace / "f.py").write_text(original)
    expected = list(lines)
    for start, end, new in reversed(changes):
        expected[start:end] = new
    try:
        apply_edits(workspace, parse_edits(git_style_patch(lines, changes)))
    except PatchError:
        assert (workspace / "f.py").read_text() == original
        return
    assert (workspace / "f.py").read_text() == "\n".join(expected) + ("\n" if expected else "")
