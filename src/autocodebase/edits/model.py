"""One internal shape for every edit format, so the matcher and applier are written once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


class PatchError(Exception):
    """The patch cannot be parsed or applied; the message is written for the model to act on."""


@dataclass(frozen=True)
class Hunk:
    """Replace `old` lines with `new` lines, after `anchor` if given, at end of file if `at_eof`."""

    old: tuple[str, ...]
    new: tuple[str, ...]
    anchor: str | None = None
    at_eof: bool = False


@dataclass(frozen=True)
class FileEdit:
    """What to do to one file."""

    kind: Literal["add", "delete", "update"]
    path: str
    content: str = ""
    hunks: tuple[Hunk, ...] = ()
    move_to: str | None = None


@dataclass(frozen=True)
class AppliedFile:
    """What happened to one file, for the model's observation and for events."""

    path: str
    change: Literal["added", "modified", "deleted", "moved"]
    moved_to: str | None = None
    grades: tuple[str, ...] = field(default=())
