"""`vcs.diff`: the one reader of unified diffs, on what git really prints (renames, binary
files, quoted names, files without hunks) and on plain diffs (difflib's)."""

from __future__ import annotations

import difflib
from pathlib import Path

from autocodebase.vcs.diff import DiffLine, parse_diff, unquote_path
from autocodebase.vcs.git import git as acb_git
from tests.conftest import commit_all, git
from tests.helpers import write_file


def test_hunks_are_read_by_their_counts() -> None:
    diff = """diff --git a/a.py b/a.py
--- a/a.py
+++ b/a.py
@@ -1,0 +2,2 @@ def f():
+x
+y
@@ -9 +11 @@
-old
+new
@@ -20,3 +22,0 @@
-a
--- not a file header
-c
diff --git a/gone.py b/gone.py
deleted file mode 100644
--- a/gone.py
+++ /dev/null
@@ -1 +0,0 @@
-bye
\\ No newline at end of file
"""
    first, gone = parse_diff(diff)
    assert (first.path, first.status, first.added_lines) == ("a.py", "modified", {2, 3, 11})
    assert first.hunks[0].section == "def f():"
    assert first.hunks[1].lines == [DiffLine("-", "old", 9, None), DiffLine("+", "new", None, 11)]
    assert [line.text for line in first.hunks[2].lines] == ["a", "-- not a file header", "c"]
    assert (gone.old_path, gone.new_path, gone.status) == ("gone.py", None, "deleted")
    assert gone.path == "gone.py" and gone.added_lines == set()


def test_a_truncated_hunk_ends_where_its_lines_do() -> None:
    diff = (
        "diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -1,5 +1,6 @@\n a\n+b\n"
        "diff --git a/y.py b/y.py\nnew file mode 100644\n--- /dev/null\n+++ b/y.py\n"
        "@@ -0,0 +1 @@\n+z\n"
    )
    x, y = parse_diff(diff)
    assert (x.path, x.added_lines) == ("x.py", {2})
    assert (y.path, y.status, y.added_lines) == ("y.py", "added", {1})


def test_plain_diffs_from_difflib() -> None:
    new = ["one", "two\x0cstill two", "three"]
    parts = difflib.unified_diff(["one"], new, "a/my file.py", "b/my file.py", lineterm="")
    created = difflib.unified_diff([], ["x"], "/dev/null", "b/new.py", lineterm="")
    first, second = parse_diff("\n".join([*parts, *created]) + "\n")
    assert (first.path, first.added_lines) == ("my file.py", {2, 3})
    assert first.hunks[0].lines[1].text == "two\x0cstill two", "a form feed is no line break"
    assert (second.old_path, second.path, second.status) == (None, "new.py", "added")


def test_quoted_names() -> None:
    assert unquote_path('"d s/\\303\\251 q\\"t\\\\.py"') == 'd s/é q"t\\.py'
    assert unquote_path('"tab\\there"') == "tab\there"
    assert unquote_path('"unterminated') == '"unterminated'
    assert unquote_path("plain name.py") == "plain name.py"


def test_what_git_prints(tmp_path: Path) -> None:
    """Renames, copies, binary files (with and without --binary), an empty new file, a mode
    change, names with spaces, quotes and non-ASCII letters, CRLF lines."""
    root = tmp_path / "repo"
    write_file(root / "old name.py", "".join(f"line {n}\n" for n in range(20)))
    write_file(root / "image.bin", "")
    (root / "image.bin").write_bytes(b"\x00\x01binary")
    write_file(root / "tool.sh", "echo hi\n")
    write_file(root / "crlf.txt", "a\r\nb\r\n")
    commit_all(root, "initial", init=True)
    git(root, "mv", "old name.py", "new name.py")
    write_file(root / "new name.py", "".join(f"line {n}\n" for n in range(19)) + "last\n")
    (root / "image.bin").write_bytes(b"\x00\x02binary!")
    (root / "new.bin").write_bytes(b"\x00\x03")
    write_file(root / "empty.txt", "")
    write_file(root / 'caf\u00e9 "q".py', "x = 1\n")
    (root / "tool.sh").chmod(0o755)
    write_file(root / "crlf.txt", "a\r\nB\r\n")
    git(root, "add", "-A")
    for extra in ((), ("--binary",)):
        text = acb_git(root, "diff", *extra, "--cached").decode("utf-8", "surrogateescape")
        files = {f.path: f for f in parse_diff(text)}
        assert set(files) == {
            "new name.py",
            "image.bin",
            "new.bin",
            "empty.txt",
            'caf\u00e9 "q".py',
            "tool.sh",
            "crlf.txt",
        }, extra
        moved = files["new name.py"]
        assert (moved.old_path, moved.status, moved.added_lines) == ("old name.py", "renamed", {20})
        assert files["image.bin"].binary and files["image.bin"].status == "modified"
        assert files["new.bin"].binary and files["new.bin"].status == "added"
        assert (files["empty.txt"].status, files["empty.txt"].hunks) == ("added", [])
        assert files['caf\u00e9 "q".py'].added_lines == {1}
        assert (files["tool.sh"].status, files["tool.sh"].hunks) == ("modified", [])
        assert files["crlf.txt"].hunks[0].lines[-1] == DiffLine("+", "B", None, 2)
    git(root, "commit", "-qm", "change")
    write_file(root / "copy.py", (root / "new name.py").read_text())
    git(root, "add", "-A")
    text = acb_git(root, "diff", "--cached", "-C", "--find-copies-harder").decode()
    (copied,) = parse_diff(text)
    assert (copied.old_path, copied.new_path, copied.status) == ("new name.py", "copy.py", "copied")
