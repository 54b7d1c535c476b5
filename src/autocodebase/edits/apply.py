"""Apply parsed edits to the workspace atomically: every file changes, or none does.

All new contents are computed in memory first (so a bad hunk anywhere refuses the whole patch);
files are then written through a temp file and `os.replace`, keeping their mode, line endings and
byte-order mark, and a failure while writing restores the files already written.
"""

from __future__ import annotations

import difflib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePath
from typing import Literal

from autocodebase.edits.locate import Match, locate
from autocodebase.edits.model import AppliedFile, FileEdit, Hunk, PatchError
from autocodebase.vcs.protected import write_refusal

BOM = "\ufeff"


@dataclass
class _Planned:
    target: Path
    content: bytes | None  # None deletes the file
    mode: int | None


@dataclass
class _Text:
    """A file's text split into lines, with what is needed to write it back the same way."""

    lines: list[str]
    newline: str = "\n"
    trailing_newline: bool = True
    bom: bool = False

    @classmethod
    def decode(cls, raw: bytes, relative: str) -> _Text:
        if b"\x00" in raw[:8192]:
            raise PatchError(f"{relative} is a binary file; it cannot be patched")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PatchError(f"{relative} is not UTF-8 text") from exc
        bom = text.startswith(BOM)
        text = text.removeprefix(BOM)
        newline = "\r\n" if "\r\n" in text else "\n"
        trailing = text.endswith("\n") or not text
        lines = text.replace("\r\n", "\n").split("\n")
        if trailing:
            lines.pop()
        return cls(lines, newline, trailing, bom)

    def encode(self) -> bytes:
        body = self.newline.join(self.lines)
        if self.lines and self.trailing_newline:
            body += self.newline
        return ((BOM if self.bom else "") + body).encode("utf-8")


def confine(workspace: Path, relative: str) -> Path:
    """Resolve `relative` in the workspace; refuse absolute paths, `..`, symlink escapes, and
    git's and acb's own data (`write_refusal`), which acb later acts on outside the sandbox.
    Every path an edit reads to change, writes, moves or deletes comes through here."""
    if not relative:
        raise PatchError("a file path is empty")
    if Path(relative).is_absolute():
        raise PatchError(
            f"{relative}: absolute paths are not allowed; use workspace-relative paths"
        )
    if ".." in Path(relative).parts:
        raise PatchError(f"{relative}: '..' is not allowed in patch paths")
    root = workspace.resolve()
    target = (root / relative).resolve()
    if root not in target.parents:
        raise PatchError(f"{relative} resolves outside the workspace")
    if (refusal := write_refusal(root, relative, target)) is not None:
        raise PatchError(refusal)
    return target


def _at_line(lines: Sequence[str], hunk: Hunk, start: int) -> Match | None:
    """The hunk exactly where its unified-diff header says (`start`, 0-based), or None."""
    old = hunk.old
    if start < 0 or start + len(old) > len(lines) or list(lines[start : start + len(old)]) != old:
        return None
    return Match(start, len(old), hunk.new, "exact" if old else "insert")


def apply_hunks(text: _Text, edit: FileEdit) -> tuple[str, ...]:
    """Apply every hunk of `edit` to `text.lines` in place; return the grade each matched at."""
    cursor = 0
    shift = 0  # how many lines the hunks applied so far added (or removed, if negative)
    grades = []
    for number, hunk in enumerate(edit.hunks, start=1):
        match = None
        if hunk.line is not None:
            match = _at_line(text.lines, hunk, hunk.line - 1 + shift)
        if match is None and not hunk.old and hunk.line is not None:
            raise PatchError(
                f"{edit.path}: hunk {number} adds lines at line {hunk.line}, past the end of the "
                "file; give a few context lines so the change can be placed"
            )
        if match is None:
            try:
                match = locate(text.lines, hunk, cursor if edit.ordered else 0, edit.path)
            except PatchError as exc:
                prefix = f"hunk {number} of {len(edit.hunks)}: " if len(edit.hunks) > 1 else ""
                raise PatchError(f"{prefix}{exc}") from None
        text.lines[match.start : match.start + match.length] = match.replacement
        cursor = match.start + len(match.replacement)
        shift += len(match.replacement) - match.length
        grades.append(match.grade)
    return tuple(grades)


def unified_diff(
    path: str, before: bytes | None, after: bytes | None, moved_to: str | None = None
) -> str:
    old = before.decode("utf-8", "replace").splitlines(keepends=True) if before else []
    new = after.decode("utf-8", "replace").splitlines(keepends=True) if after else []
    lines = list(
        difflib.unified_diff(
            old,
            new,
            fromfile=f"a/{path}" if before is not None else "/dev/null",
            tofile=f"b/{moved_to or path}" if after is not None else "/dev/null",
        )
    )
    return "".join(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
    )


ADD_OVER_EXISTING = """{path} already exists; '*** Add File:' only creates files. Change it with
*** Update File: {path}
@@
-a line as it is now
+the line as it should be
or replace all of it by deleting and adding it in one patch:
*** Delete File: {path}
*** Add File: {path}
+the whole new content"""


class _Tree:
    """The workspace as the patch has changed it so far, in memory: an edit of a file an
    earlier section of the same patch touched (a second Update, Delete then Add) sees what
    that section left, so the sections apply in order, and the disk is written only at the end."""

    def __init__(self) -> None:
        self.changed: dict[Path, tuple[bytes | None, int | None]] = {}
        self.original: dict[Path, tuple[bytes | None, int | None]] = {}

    def read(self, target: Path) -> bytes | None:
        if target in self.changed:
            return self.changed[target][0]
        return target.read_bytes() if target.is_file() else None

    def exists(self, target: Path) -> bool:
        return self.changed[target][0] is not None if target in self.changed else target.exists()

    def mode(self, target: Path) -> int | None:
        if target in self.changed:
            return self.changed[target][1]
        return target.stat().st_mode if target.is_file() else None

    def write(self, target: Path, content: bytes | None, mode: int | None) -> None:
        if target not in self.original:
            self.original[target] = (self.read(target), self.mode(target))
        self.changed[target] = (content, mode)

    def planned(self) -> list[_Planned]:
        """What to write: a file added then deleted by the patch is left alone."""
        return [
            _Planned(t, content, mode)
            for t, (content, mode) in self.changed.items()
            if content is not None or self.original[t][0] is not None
        ]


@dataclass
class _Entry:
    """One file of the report, followed through the patch's sections (a later section of the
    same path, or of the path it was moved to, joins it)."""

    path: str
    target: Path
    before: bytes | None
    now: Path  # where its content is after the sections so far
    now_path: str
    grades: tuple[str, ...] = ()

    def applied(self, tree: _Tree) -> AppliedFile | None:
        after = tree.read(self.now)
        moved = self.now != self.target and after is not None
        change: Literal["added", "modified", "deleted", "moved"]
        if self.before is None and after is None:
            return None  # added, then deleted: nothing happened
        if self.before is None:
            change = "added"
        elif after is None:
            change = "deleted"
        else:
            change = "moved" if moved else "modified"
        shown_path = self.now_path if change == "added" else self.path
        diff = unified_diff(shown_path, self.before, after, self.now_path if moved else None)
        return AppliedFile(shown_path, change, self.now_path if moved else None, self.grades, diff)


def _update(
    tree: _Tree, workspace: Path, edit: FileEdit, target: Path
) -> tuple[Path, str, tuple[str, ...]]:
    """Apply an Update section to the tree; return where the file is now and the grades."""
    if not tree.exists(target) and edit.hunks and all(not h.old for h in edit.hunks):
        content = "\n".join(line for h in edit.hunks for line in h.new) + "\n"
        tree.write(target, content.encode("utf-8"), None)
        return target, edit.path, ()
    before = tree.read(target)
    if before is None:
        raise PatchError(
            f"{edit.path} does not exist. Create it with\n*** Add File: {edit.path}\n"
            "+its first line\n+its second line"
        )
    mode = tree.mode(target)
    text = _Text.decode(before, edit.path)
    grades = apply_hunks(text, edit) if edit.hunks else ()
    after = text.encode() if edit.hunks else before
    if edit.move_to:
        destination = confine(workspace, edit.move_to)
        if destination != target and tree.exists(destination):
            raise PatchError(f"cannot move {edit.path} to {edit.move_to}: it already exists")
        tree.write(target, None, None)
        tree.write(destination, after, mode)
        return destination, edit.move_to, grades
    tree.write(target, after, mode)
    return target, edit.path, grades


def _delete(tree: _Tree, edit: FileEdit, target: Path) -> None:
    before = tree.read(target)
    if before is None:
        raise PatchError(f"{edit.path} does not exist, so it cannot be deleted")
    if edit.hunks:
        text = _Text.decode(before, edit.path)
        apply_hunks(text, edit)
        if any(line.strip() for line in text.lines):
            raise PatchError(
                f"{edit.path} is not deleted: the diff removes only part of it (the file changed "
                "since the diff was made?). Read it again, or delete it with\n"
                f"*** Begin Patch\n*** Delete File: {edit.path}\n*** End Patch"
            )
    tree.write(target, None, None)


def plan(workspace: Path, edits: Sequence[FileEdit]) -> tuple[list[_Planned], list[AppliedFile]]:
    """Compute every file's new content without touching the disk. Sections apply in order, so
    one path may appear in several (two Updates, a Delete then an Add that replaces it)."""
    tree = _Tree()
    entries: list[_Entry] = []
    for edit in edits:
        target = confine(workspace, edit.path)
        entry = next((e for e in entries if e.now == target), None)
        if entry is None:
            entry = _Entry(edit.path, target, tree.read(target), target, edit.path)
            entries.append(entry)
        if edit.kind == "add":
            if tree.exists(target):
                raise PatchError(ADD_OVER_EXISTING.format(path=edit.path))
            # Deleted earlier in this patch: a replacement, which keeps the file's mode.
            mode = tree.original.get(target, (None, None))[1]
            tree.write(target, edit.content.encode("utf-8"), mode)
            entry.now, entry.now_path = target, edit.path
        elif edit.kind == "delete":
            _delete(tree, edit, target)
        else:
            now, now_path, grades = _update(tree, workspace, edit, target)
            entry.now, entry.now_path = now, now_path
            entry.grades += grades
    report = [a for e in entries if (a := e.applied(tree)) is not None]
    return tree.planned(), report


def _write(target: Path, content: bytes, mode: int | None) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".acb")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
        if mode is not None:
            Path(temp).chmod(mode & 0o7777)
        Path(temp).replace(target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def commit(planned: Sequence[_Planned]) -> None:
    """Write the planned contents; on any failure, put back what was already changed."""
    undo: list[tuple[Path, bytes | None, int | None]] = []
    try:
        for item in planned:
            before = item.target.read_bytes() if item.target.exists() else None
            before_mode = item.target.stat().st_mode if before is not None else None
            undo.append((item.target, before, before_mode))
            if item.content is None:
                item.target.unlink()
            else:
                _write(item.target, item.content, item.mode)
    except OSError as exc:
        for target, before, mode in reversed(undo):
            if before is None:
                target.unlink(missing_ok=True)
            else:
                _write(target, before, mode)
        raise PatchError(
            f"writing {exc.filename or 'a file'} failed ({exc.strerror}); no file was changed"
        ) from exc


def within(workspace: Path, path: str) -> str:
    """`path` relative to the workspace when it is an absolute path inside it (models copy the
    absolute paths tools and tracebacks show); anything else as it was, for `confine` to judge."""
    candidate = PurePath(path)
    if not candidate.is_absolute():
        return path
    for root in (workspace, workspace.resolve()):
        if candidate.is_relative_to(root) and candidate != PurePath(root):
            return candidate.relative_to(root).as_posix()
    return path


def apply_edits(
    workspace: Path, edits: Sequence[FileEdit], check: bool = False
) -> list[AppliedFile]:
    """Apply `edits` under `workspace` (or only verify them, with `check`)."""
    edits = [
        replace(
            e,
            path=within(workspace, e.path),
            move_to=within(workspace, e.move_to) if e.move_to else None,
        )
        for e in edits
    ]
    planned, report = plan(workspace, edits)
    if not check:
        commit(planned)
    return report
