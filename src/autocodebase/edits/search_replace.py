"""Parser for Aider-style SEARCH/REPLACE blocks, mapped onto the same hunks as Codex patches.

    path/to/file.py
    ```python
    <<<<<<< SEARCH
    old lines
    =======
    new lines
    >>>>>>> REPLACE
    ```

Lines common to both sides become context, so fuzzy matches keep the file's own version of them.
An empty SEARCH creates the file (or appends to it, as Aider does).
"""

from __future__ import annotations

import difflib
import re

from autocodebase.edits.model import FileEdit, Hunk, Op, PatchError
from autocodebase.edits.normalize import PUNCTUATION

SEARCH = re.compile(r"^\s*<{5,9} ?SEARCH\s*$")
DIVIDER = re.compile(r"^\s*={5,9}\s*$")
REPLACE = re.compile(r"^\s*>{5,9} ?REPLACE\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")


def looks_like_search_replace(text: str) -> bool:
    return any(SEARCH.match(line) for line in text.splitlines())


def _path_before(lines: list[str], index: int) -> str | None:
    """The file path written just above a block: skip fences and blank lines, strip decoration."""
    for back in range(index - 1, max(index - 4, -1), -1):
        candidate = lines[back].strip()
        if not candidate or FENCE.match(candidate):
            continue
        candidate = candidate.strip("`*: ").removeprefix("#").strip()
        return candidate or None
    return None


def to_hunk(search: list[str], replace: list[str]) -> Hunk:
    """Diff the two sides so that unchanged lines become context."""
    if not any(line.strip() for line in search):
        return Hunk(tuple(("+", line) for line in replace))  # append, or create the file
    ops: list[tuple[Op, str]] = []

    # Forgive trailing whitespace and typography (a line copied the same wrong way on both sides
    # stays context) but not indentation, which is often the very change.
    def key(line: str) -> str:
        return line.rstrip().translate(PUNCTUATION)

    matcher = difflib.SequenceMatcher(
        None, [key(x) for x in search], [key(x) for x in replace], autojunk=False
    )
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag == "equal":
            ops += [(" ", line) for line in search[a0:a1]]
        else:
            ops += [("-", line) for line in search[a0:a1]]
            ops += [("+", line) for line in replace[b0:b1]]
    return Hunk(tuple(ops))


def parse_search_replace(text: str) -> list[FileEdit]:
    lines = text.replace("\r\n", "\n").split("\n")
    blocks: dict[str, list[tuple[list[str], list[str]]]] = {}
    order: list[str] = []
    index = 0
    last_path: str | None = None
    while index < len(lines):
        if not SEARCH.match(lines[index]):
            index += 1
            continue
        path = _path_before(lines, index) or last_path
        if path is None:
            raise PatchError(f"line {index + 1}: a SEARCH block must follow the file's path")
        search: list[str] = []
        replace: list[str] = []
        index += 1
        while index < len(lines) and not DIVIDER.match(lines[index]):
            search.append(lines[index])
            index += 1
        if index >= len(lines):
            raise PatchError(f"{path}: SEARCH block without '=======' divider")
        index += 1
        while index < len(lines) and not REPLACE.match(lines[index]):
            replace.append(lines[index])
            index += 1
        if index >= len(lines):
            raise PatchError(f"{path}: block without '>>>>>>> REPLACE' end marker")
        index += 1
        if path not in blocks:
            blocks[path] = []
            order.append(path)
        blocks[path].append((search, replace))
        last_path = path
    if not blocks:
        raise PatchError("no '<<<<<<< SEARCH' block found")
    return [
        FileEdit("update", path, hunks=tuple(to_hunk(s, r) for s, r in blocks[path]), ordered=False)
        for path in order
    ]
