"""Parser for unified diffs (`git diff`, `diff -u`), which models trained on commits send to
apply_patch as often as Codex's grammar.

Each file section becomes the same `FileEdit` a Codex patch would: `--- /dev/null` adds a file,
`+++ /dev/null` deletes one (only if it is what the diff removes), differing paths or git's
`rename from/to` move one. Hunks keep their line numbers as a hint (`Hunk.line`): the old lines
found exactly there apply there, as `git apply` does; otherwise the context locates them. Line
counts in `@@` headers are not trusted (models miscount) except to tell a trailing empty context
line from spacing. Binary diffs and `\\ No newline at end of file` changes cannot be expressed:
the first is refused, the second ignored (the file keeps its final newline or lack of one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import pairwise

from autocodebase.edits.codex_patch import BEGIN, END
from autocodebase.edits.model import FileEdit, Hunk, Op, PatchError

HEADER = re.compile(r"^@@+ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@+ ?(.*)$")
FENCE = re.compile(r"^\s*(```|~~~)")

EXAMPLE = """Example of a unified diff apply_patch accepts:
--- a/src/app.py
+++ b/src/app.py
@@ -10,3 +10,3 @@ def greet():
     name = name.strip()
-    return "hi"
+    return "hello"
(or the same change as '*** Begin Patch' / '*** Update File: src/app.py' / ... / '*** End Patch')"""


def _error(message: str) -> PatchError:
    return PatchError(f"{message}\n{EXAMPLE}")


def looks_like_unified_diff(text: str) -> bool:
    """A `diff --git` line, or a `--- ` line directly followed by a `+++ ` line."""
    lines = text.replace("\r\n", "\n").split("\n")
    if any(line.startswith("diff --git ") for line in lines):
        return True
    return any(a.startswith("--- ") and b.startswith("+++ ") for a, b in pairwise(lines))


@dataclass
class _Section:
    old_path: str | None = None
    new_path: str | None = None
    renamed_from: str | None = None
    renamed_to: str | None = None
    hunks: list[Hunk] = field(default_factory=list)


def _path(spec: str) -> str | None:
    """A path from a `---`/`+++` line: tab-separated timestamps and git's a/ b/ dropped."""
    spec = spec.split("\t")[0].strip()
    if spec.startswith('"') and spec.endswith('"') and len(spec) > 1:
        spec = spec[1:-1]
    if spec == "/dev/null":
        return None
    return spec[2:] if spec[:2] in ("a/", "b/") else spec


def _hunk(header: re.Match[str], body: list[str], implicit: list[bool]) -> Hunk:
    """`body` holds the hunk's lines with their markers; `implicit` marks empty lines, which
    are empty context unless they trail the hunk and the header's counts do not claim them."""
    old_len = int(header.group(2)) if header.group(2) is not None else 1
    new_len = int(header.group(4)) if header.group(4) is not None else 1
    ops: list[tuple[Op, str]] = [(line[0], line[1:]) for line in body]  # type: ignore[misc]

    def counts(upto: int) -> tuple[int, int]:
        part = ops[:upto]
        return sum(1 for op, _ in part if op != "+"), sum(1 for op, _ in part if op != "-")

    end = len(ops)
    if counts(end) != (old_len, new_len):
        while end and implicit[end - 1]:
            end -= 1
    old_start = int(header.group(1))
    line = old_start if old_len else old_start + 1  # `-10,0`: the insertion follows line 10
    anchor = header.group(5).strip()
    return Hunk(tuple(ops[:end]), (anchor,) if anchor else (), line=max(line, 1))


def _sections(lines: list[str]) -> list[_Section]:
    sections: list[_Section] = []
    index = 0

    def section() -> _Section:
        if not sections:
            sections.append(_Section())
        return sections[-1]

    while index < len(lines):
        line = lines[index]
        index += 1
        if line.startswith("diff --git "):
            sections.append(_Section())
        elif line.startswith("rename from "):
            section().renamed_from = line[len("rename from ") :].strip()
        elif line.startswith("rename to "):
            section().renamed_to = line[len("rename to ") :].strip()
        elif line.startswith(("GIT binary patch", "Binary files ")):
            raise _error("a binary diff cannot be applied; patch text files only")
        elif line.startswith("--- ") and index < len(lines) and lines[index].startswith("+++ "):
            current = section()
            if current.hunks or current.old_path or current.new_path:
                current = _Section()  # `diff -u` output has no `diff --git` between files
                sections.append(current)
            current.old_path, current.new_path = _path(line[4:]), _path(lines[index][4:])
            index += 1
        elif line.startswith("@@"):
            header = HEADER.match(line)
            if header is None:
                raise _error(f"a hunk header must read '@@ -start,count +start,count @@': {line!r}")
            if not sections:
                raise _error("a hunk comes before its file's '--- a/path' and '+++ b/path' lines")
            body: list[str] = []
            implicit: list[bool] = []
            while index < len(lines):
                text = lines[index]
                if text.startswith(("@@", "diff --git ")) or FENCE.match(text):
                    break
                if (
                    text.startswith("--- ")
                    and index + 1 < len(lines)
                    and lines[index + 1].startswith("+++ ")
                ):
                    break
                index += 1
                if text.startswith("\\"):
                    continue  # "\ No newline at end of file"
                if not text:
                    body.append(" ")
                    implicit.append(True)
                    continue
                if text[0] not in " -+":
                    raise _error(
                        f"every line of a hunk must start with ' ', '-' or '+', got {text[:60]!r}"
                    )
                body.append(text)
                implicit.append(False)
            sections[-1].hunks.append(_hunk(header, body, implicit))
    return sections


def _edit(section: _Section) -> FileEdit:
    old = section.renamed_from or section.old_path
    new = section.renamed_to or section.new_path
    hunks = tuple(h for h in section.hunks if h.lines)
    if old is None and new is None:
        raise _error("a file section names no path ('--- a/path' and '+++ b/path')")
    if old is None:
        assert new is not None
        if any(op != "+" for h in hunks for op, _ in h.lines):
            raise _error(f"{new}: a new file's hunk (from /dev/null) may only add '+' lines")
        lines = [text for h in hunks for _, text in h.lines]
        return FileEdit("add", new, content="".join(f"{line}\n" for line in lines))
    if new is None:
        return FileEdit("delete", old, hunks=hunks)
    if not hunks and old == new:
        raise _error(f"{old}: the diff has no hunk ('@@ -start,count +start,count @@' lines)")
    return FileEdit("update", old, hunks=hunks, move_to=new if new != old else None)


def parse_unified_diff(text: str) -> list[FileEdit]:
    """Every file of the diff, in order; prose or fences around it are ignored."""
    lines = text.replace("\r\n", "\n").split("\n")
    begin = [i for i, line in enumerate(lines) if line.strip() == BEGIN]
    if begin:  # a unified diff wrapped in Codex's envelope
        end = [i for i, line in enumerate(lines) if line.strip() == END and i > begin[0]]
        lines = lines[begin[0] + 1 : end[-1] if end else len(lines)]
    edits = [_edit(s) for s in _sections(lines)]
    if not edits:
        raise _error("no file section found in the diff")
    return edits
