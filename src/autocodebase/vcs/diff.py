"""Unified diffs, read in one place: review takes the lines a change adds from one, provenance
notes the lines a run's commit wrote.

Written for what git prints when acb runs it (`vcs.git` pins the `a/` and `b/` prefixes, no
colour, no relative paths, whatever the user's config says) and for plain unified diffs
(difflib's, GNU diff's), which have no `diff --git` line. Hand-written rather than `unidiff`
from PyPI: that one leaves git's quoted names quoted (`"b/caf\\303\\251.py"`) and gives up on a
truncated hunk, while a review must still read the rest of a diff it was handed.

Hunk bodies are read by their header's line counts, so a removed line that reads "-- x" is not
taken for a file header; a hunk that ends early (truncated) ends at the first line that cannot
belong to it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

LineKind = Literal[" ", "+", "-"]
Status = Literal["added", "deleted", "modified", "renamed", "copied"]

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@ ?(.*)$")
_OCTAL = re.compile(r"[0-3][0-7]{2}")
_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}
OLD_PREFIX, NEW_PREFIX = "a/", "b/"


@dataclass(frozen=True)
class DiffLine:
    kind: LineKind
    text: str
    old: int | None
    """Its number in the old version; None for an added line."""
    new: int | None
    """Its number in the new version; None for a removed line."""


@dataclass
class DiffHunk:
    old_start: int
    old_count: int
    new_start: int
    new_count: int
    section: str = ""
    """What git prints after the header: the line of the enclosing definition, if it found one."""
    lines: list[DiffLine] = field(default_factory=list)

    @property
    def added(self) -> list[int]:
        """New-version numbers of the lines this hunk adds (a changed line is removed + added)."""
        return [line.new for line in self.lines if line.kind == "+" and line.new is not None]


@dataclass
class FileDiff:
    old_path: str | None
    """None for an added file."""
    new_path: str | None
    """None for a deleted file."""
    status: Status = "modified"
    binary: bool = False
    hunks: list[DiffHunk] = field(default_factory=list)

    @property
    def path(self) -> str:
        """The file's name after the change, or before it when the change deletes it."""
        return self.new_path if self.new_path is not None else self.old_path or ""

    @property
    def added_lines(self) -> set[int]:
        return {number for hunk in self.hunks for number in hunk.added}


def parse_diff(text: str) -> list[FileDiff]:
    """The files, hunks and lines of a unified diff, in order. Lines are split on "\\n" only
    (a form feed or U+2028 inside a line of code is not a line break)."""
    return _Parser().feed(text)


def unquote_path(name: str) -> str:
    """A path as git prints it (C-quoted when it holds a quote, backslash, control character,
    or, unless core.quotePath is off, non-ASCII bytes) as the path itself."""
    if name.startswith('"'):
        path, rest = _unquote(name)
        if path is not None and not rest:
            return path
    return name


def _unquote(token: str) -> tuple[str | None, str]:
    """The C-quoted string at the start of `token` and what follows it; (None, token) when it
    has no closing quote (then it was no quoted name, just a name starting with `"`)."""
    out = bytearray()
    i = 1
    while i < len(token):
        char = token[i]
        if char == '"':
            return out.decode("utf-8", "surrogateescape"), token[i + 1 :]
        if char == "\\" and _OCTAL.match(token, i + 1):
            out.append(int(token[i + 1 : i + 4], 8))
            i += 4
            continue
        if char == "\\" and token[i + 1 : i + 2] in _ESCAPES:
            out.append(_ESCAPES[token[i + 1]])
            i += 2
            continue
        out += char.encode("utf-8", "surrogateescape")
        i += 1
    return None, token


def _label_path(label: str, prefix: str) -> str | None:
    """The path on a `---`/`+++` line: None for /dev/null. git ends a name holding a space with
    a tab, difflib and GNU diff a tab and a timestamp: both are cut off."""
    if label.startswith('"'):
        quoted, _ = _unquote(label)
        if quoted is not None:
            return quoted.removeprefix(prefix)
    name = label.split("\t", 1)[0]
    return None if name == "/dev/null" else name.removeprefix(prefix)


def _header_paths(rest: str) -> tuple[str, str]:
    """The two paths of `diff --git a/X b/Y`. Unquoted names may hold spaces, so the split is
    the one where both sides name the same file; a renamed file's names come from its
    `rename from`/`rename to` lines instead, which overwrite these."""
    if rest.startswith('"'):
        first, after = _unquote(rest)
        if first is not None:
            return first.removeprefix(OLD_PREFIX), _label_path(after.lstrip(" "), NEW_PREFIX) or ""
    half = (len(rest) - 1) // 2
    left, right = rest[:half], rest[half + 1 :]
    if rest[half : half + 1] == " " and left[2:] == right[2:]:
        return left.removeprefix(OLD_PREFIX), right.removeprefix(NEW_PREFIX)
    quoted = rest.find(f' "{NEW_PREFIX}')
    cut = quoted if quoted >= 0 and rest.endswith('"') else rest.find(f" {NEW_PREFIX}")
    if cut < 0:
        return rest.removeprefix(OLD_PREFIX), rest.removeprefix(OLD_PREFIX)
    return rest[:cut].removeprefix(OLD_PREFIX), _label_path(rest[cut + 1 :], NEW_PREFIX) or ""


class _Parser:
    """One pass over the lines; state is the file and hunk being read and its lines to go."""

    def __init__(self) -> None:
        self.files: list[FileDiff] = []
        self.file: FileDiff | None = None
        self.hunk: DiffHunk | None = None
        self.old_left = self.new_left = 0
        self.old_number = self.new_number = 0
        self.expect_labels = False
        """After `diff --git`: the next `---`/`+++` belong to this file, not a new one."""
        self.in_binary = False

    def feed(self, text: str) -> list[FileDiff]:
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        for raw in lines:
            self._line(raw.removesuffix("\r"))
        return self.files

    def _line(self, line: str) -> None:
        if self.old_left > 0 or self.new_left > 0:
            if self._body(line):
                return
            self.old_left = self.new_left = 0  # a truncated hunk ends here
        if line.startswith("\\"):
            return  # "\ No newline at end of file"
        if line.startswith("diff --git "):
            old, new = _header_paths(line[len("diff --git ") :])
            self._start(FileDiff(old, new))
        elif self.in_binary:
            return  # base85 lines of a `GIT binary patch`
        elif line.startswith("--- "):
            if self.file is None or not self.expect_labels:
                self._start(FileDiff(None, None))
            assert self.file is not None
            self.file.old_path = _label_path(line[4:], OLD_PREFIX)
        elif line.startswith("+++ ") and self.file is not None:
            self.file.new_path = _label_path(line[4:], NEW_PREFIX)
            self.expect_labels = False
            self._settle_status()
        elif line.startswith("@@") and self.file is not None and (match := _HUNK.match(line)):
            self._hunk(match)
        elif self.file is not None and self.expect_labels:
            self._extended(line)

    def _body(self, line: str) -> bool:
        """Take `line` into the current hunk; False when it cannot be part of it."""
        assert self.hunk is not None
        kind = line[:1]
        if kind == "\\":
            return True
        if kind == "-" and self.old_left > 0:
            self.hunk.lines.append(DiffLine("-", line[1:], self.old_number, None))
            self.old_number += 1
            self.old_left -= 1
        elif kind == "+" and self.new_left > 0:
            self.hunk.lines.append(DiffLine("+", line[1:], None, self.new_number))
            self.new_number += 1
            self.new_left -= 1
        elif kind in (" ", "") and self.old_left > 0 and self.new_left > 0:
            # "": an empty context line (diff.suppressBlankEmpty, or trailing space stripped)
            self.hunk.lines.append(DiffLine(" ", line[1:], self.old_number, self.new_number))
            self.old_number += 1
            self.new_number += 1
            self.old_left -= 1
            self.new_left -= 1
        else:
            return False
        return True

    def _start(self, file: FileDiff) -> None:
        self.file, self.hunk = file, None
        self.files.append(file)
        self.expect_labels = True
        self.in_binary = False

    def _hunk(self, match: re.Match[str]) -> None:
        assert self.file is not None
        old_start, old_count, new_start, new_count, section = match.groups()
        self.hunk = DiffHunk(
            int(old_start),
            int(old_count or 1),
            int(new_start),
            int(new_count or 1),
            section,
        )
        self.file.hunks.append(self.hunk)
        self.old_left, self.new_left = self.hunk.old_count, self.hunk.new_count
        # A side with no lines gives the line *before* the change as its start.
        self.old_number = self.hunk.old_start + (self.hunk.old_count == 0)
        self.new_number = self.hunk.new_start + (self.hunk.new_count == 0)
        self.expect_labels = False

    def _extended(self, line: str) -> None:
        """git's extended header lines, between `diff --git` and the first hunk."""
        assert self.file is not None
        word, _, value = line.partition(" ")
        if line.startswith("new file mode "):
            self.file.old_path, self.file.status = None, "added"
        elif line.startswith("deleted file mode "):
            self.file.new_path, self.file.status = None, "deleted"
        elif line.startswith(("rename from ", "copy from ")):
            self.file.old_path = unquote_path(line.split(" ", 2)[2])
            self.file.status = "renamed" if word == "rename" else "copied"
        elif line.startswith(("rename to ", "copy to ")):
            self.file.new_path = unquote_path(line.split(" ", 2)[2])
        elif line.startswith("Binary files ") and line.endswith(" differ"):
            self.file.binary = True
            if value.startswith("files /dev/null "):
                self.file.old_path, self.file.status = None, "added"
            elif line.endswith(" and /dev/null differ"):
                self.file.new_path, self.file.status = None, "deleted"
        elif line == "GIT binary patch":
            self.file.binary = self.in_binary = True

    def _settle_status(self) -> None:
        """A plain diff says "added" or "deleted" only through /dev/null on a label line."""
        assert self.file is not None
        if self.file.old_path is None and self.file.status == "modified":
            self.file.status = "added"
        elif self.file.new_path is None and self.file.status == "modified":
            self.file.status = "deleted"
