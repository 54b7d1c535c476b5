"""One internal shape for every edit format, so the matcher and applier are written once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Op = Literal[" ", "-", "+"]


class PatchError(Exception):
    """The patch cannot be parsed or applied; the message is written for the model to act on."""


@dataclass(frozen=True)
class Hunk:
    """A run of context (' '), removed ('-') and added ('+') lines, in the order written.

    `anchors` (from `@@ def bar` headers) narrow where it may apply; `at_eof` pins it to the end
    of the file. Keeping context apart from removals lets fuzzy matches keep the file's own
    version of the lines that were only there for orientation.
    """

    lines: tuple[tuple[Op, str], ...]
    anchors: tuple[str, ...] = ()
    at_eof: bool = False
    line: int | None = None
    """Where a unified diff says the hunk's old lines start (1-based, before the patch): the
    removed and context lines found exactly there apply there, as `git apply` would; otherwise
    the hunk is located by its content like any other."""

    @property
    def old(self) -> list[str]:
        return [text for op, text in self.lines if op != "+"]

    @property
    def new(self) -> list[str]:
        return [text for op, text in self.lines if op != "-"]

    @property
    def changes(self) -> bool:
        return any(op != " " for op, _ in self.lines)


@dataclass(frozen=True)
class FileEdit:
    """What to do to one file.

    `ordered` hunks (Codex patches) appear in file order, each searched after the previous one;
    unordered ones (SEARCH/REPLACE blocks) are each searched in the whole file. A "delete" with
    hunks (a unified diff's `+++ /dev/null`) deletes only a file that is exactly what they remove.
    """

    kind: Literal["add", "delete", "update"]
    path: str
    content: str = ""
    hunks: tuple[Hunk, ...] = ()
    move_to: str | None = None
    ordered: bool = True


@dataclass(frozen=True)
class AppliedFile:
    """What happened to one file, for the model's observation, for events and for humans."""

    path: str
    change: Literal["added", "modified", "deleted", "moved"]
    moved_to: str | None = None
    grades: tuple[str, ...] = ()
    diff: str = ""
