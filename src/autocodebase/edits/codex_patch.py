"""Parser for Codex CLI's apply_patch grammar, tolerant of the envelopes models wrap it in.

*** Begin Patch
*** Add File: path          (+lines)
*** Delete File: path
*** Update File: path
*** Move to: new/path       (optional)
@@ optional anchor line     (then ' ' context, '-' removed, '+' added lines)
*** End of File             (optional: the hunk ends at the end of the file)
*** End Patch

Models trained on git diffs write `@@ -12,3 +12,4 @@ def f():` headers: the numbers are dropped
(they are often wrong, and the context says where) and the section after them is the anchor.
`--- a/x` / `+++ b/x` lines opening an Update section are git's file headers, not a removal.
"""

from __future__ import annotations

import re

from autocodebase.edits.model import FileEdit, Hunk, Op, PatchError

BEGIN, END = "*** Begin Patch", "*** End Patch"
ADD, DELETE, UPDATE, MOVE = (
    "*** Add File: ",
    "*** Delete File: ",
    "*** Update File: ",
    "*** Move to: ",
)
EOF_MARK = "*** End of File"
FILE_HEADERS = ("*** Add File:", "*** Delete File:", "*** Update File:")
NUMBERED_HEADER = re.compile(r"^@@+\s*-\d+(?:,\d+)?\s+\+\d+(?:,\d+)?\s*(?:@@+\s*(.*))?$")
"""git's `@@ -12,3 +12,4 @@ section` (the closing @@ and section optional)."""

EXAMPLE = """Example of the format:
*** Begin Patch
*** Update File: src/app.py
@@ def greet():
-    return "hi"
+    return "hello"
*** Add File: src/new.py
+print("new")
*** End Patch"""
"""Shown with every refusal about the patch's format, so the next attempt has a model."""


def format_error(message: str) -> PatchError:
    return PatchError(f"{message}\n{EXAMPLE}")


def anchor_of(header: str) -> str:
    """The anchor an `@@` line names: git's line numbers dropped, its section kept."""
    numbered = NUMBERED_HEADER.match(header.strip())
    if numbered:
        return (numbered.group(1) or "").strip().removesuffix("@@").strip()
    return header.strip()[2:].strip().removesuffix("@@").strip()


def looks_like_codex_patch(text: str) -> bool:
    return any(line.strip() == BEGIN for line in text.splitlines())


def _body_lines(text: str) -> list[str]:
    """The lines between Begin and End, dropping heredoc and markdown wrappers around them."""
    lines = text.replace("\r\n", "\n").split("\n")
    starts = [i for i, line in enumerate(lines) if line.strip() == BEGIN]
    if not starts:
        raise format_error(f"the patch must start with a line '{BEGIN}'")
    ends = [i for i, line in enumerate(lines) if line.strip() == END and i > starts[0]]
    if not ends:
        raise format_error(f"the patch must end with a line '{END}'")
    return lines[starts[0] + 1 : ends[-1]]


class _HunkBuilder:
    def __init__(self, anchors: list[str]):
        self.anchors = anchors
        self.lines: list[tuple[Op, str]] = []
        self.at_eof = False
        self.implicit_blanks = 0
        """Trailing lines that were empty (not " "): context, or spacing before a header."""

    def add(self, line: str, where: str) -> None:
        if not line:
            self.lines.append((" ", ""))  # models drop the space of an empty context line
            self.implicit_blanks += 1
            return
        self.implicit_blanks = 0
        marker = line[0]
        if marker not in " -+":
            raise format_error(
                f"{where}: every hunk line must start with ' ', '-' or '+', got {line[:60]!r}"
            )
        self.lines.append((marker, line[1:]))  # type: ignore[arg-type]

    def build(self) -> Hunk:
        # Empty lines right before the next header are spacing, not context; " " lines are kept.
        lines = self.lines[: len(self.lines) - self.implicit_blanks]
        return Hunk(tuple(lines), tuple(self.anchors), self.at_eof)


def _parse_update(path: str, lines: list[str], index: int) -> tuple[FileEdit, int]:
    move_to = None
    if index < len(lines) and lines[index].startswith(MOVE):
        move_to = lines[index][len(MOVE) :].strip()
        index += 1
    if (
        index + 1 < len(lines)
        and lines[index].startswith("--- ")
        and lines[index + 1].startswith("+++ ")
    ):
        index += 2  # git's file headers, copied into a Codex section
    hunks: list[Hunk] = []
    current: _HunkBuilder | None = None
    pending_anchors: list[str] = []
    while index < len(lines) and not lines[index].startswith(FILE_HEADERS):
        line = lines[index]
        index += 1
        if line.startswith("@@"):
            if current is not None and current.lines:
                hunks.append(current.build())
                current = None
            anchor = anchor_of(line)
            if current is None:
                # consecutive headers (`@@ class A` then `@@ def f`) narrow one hunk together
                pending_anchors += [anchor] if anchor else []
                current = _HunkBuilder(pending_anchors)
            elif anchor:
                current.anchors.append(anchor)
        elif line.strip() == EOF_MARK:
            if current is None:
                raise format_error(f"{path}: '{EOF_MARK}' must follow a hunk")
            current.at_eof = True
        else:
            if current is None:
                current = _HunkBuilder([])
            current.add(line, f"{path}, patch line {index}")
            pending_anchors = []
    if current is not None and current.lines:
        hunks.append(current.build())
    hunks = [h for h in hunks if h.lines]
    if not any(h.changes for h in hunks) and move_to is None:
        raise format_error(f"Update File {path} has no hunk with a '-' or '+' line")
    return FileEdit(
        "update", path, hunks=tuple(h for h in hunks if h.changes), move_to=move_to
    ), index


def parse_codex_patch(text: str) -> list[FileEdit]:
    """Every file operation in the patch, in order."""
    lines = _body_lines(text)
    while lines and not lines[-1]:
        lines.pop()  # "" is spacing before End Patch; " " is an empty context line and stays
    edits: list[FileEdit] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line.strip():
            continue
        if line.startswith(ADD):
            path = line[len(ADD) :].strip()
            body: list[str] = []
            while index < len(lines) and not lines[index].startswith(FILE_HEADERS):
                if not lines[index].startswith("+") and lines[index].strip():
                    raise format_error(f"Add File {path}: every line must start with '+'")
                body.append(lines[index][1:])
                index += 1
            while body and not body[-1] and not lines[index - 1].startswith("+"):
                body.pop()
            edits.append(FileEdit("add", path, content="\n".join(body) + ("\n" if body else "")))
        elif line.startswith(DELETE):
            edits.append(FileEdit("delete", line[len(DELETE) :].strip()))
        elif line.startswith(UPDATE):
            edit, index = _parse_update(line[len(UPDATE) :].strip(), lines, index)
            edits.append(edit)
        else:
            raise format_error(
                f"unexpected line {line[:80]!r}: expected '*** Add File:', "
                "'*** Delete File:' or '*** Update File:'"
            )
    if not edits:
        raise format_error("the patch contains no file operations")
    return edits
