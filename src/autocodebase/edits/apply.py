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
from dataclasses import dataclass
from pathlib import Path

from autocodebase.edits.locate import locate
from autocodebase.edits.model import AppliedFile, FileEdit, PatchError
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


def apply_hunks(text: _Text, edit: FileEdit) -> tuple[str, ...]:
    """Apply every hunk of `edit` to `text.lines` in place; return the grade each matched at."""
    cursor = 0
    grades = []
    for number, hunk in enumerate(edit.hunks, start=1):
        try:
            match = locate(text.lines, hunk, cursor if edit.ordered else 0, edit.path)
        except PatchError as exc:
            prefix = f"hunk {number} of {len(edit.hunks)}: " if len(edit.hunks) > 1 else ""
            raise PatchError(f"{prefix}{exc}") from None
        text.lines[match.start : match.start + match.length] = match.replacement
        cursor = match.start + len(match.replacement)
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


def _plan_update(
    workspace: Path, edit: FileEdit, target: Path
) -> tuple[list[_Planned], AppliedFile]:
    if not target.exists() and edit.hunks and all(not h.old for h in edit.hunks):
        content = "\n".join(line for h in edit.hunks for line in h.new) + "\n"
        data = content.encode("utf-8")
        return [_Planned(target, data, None)], AppliedFile(
            edit.path, "added", diff=unified_diff(edit.path, None, data)
        )
    if not target.is_file():
        raise PatchError(f"{edit.path} does not exist (use '*** Add File:' to create it)")
    before = target.read_bytes()
    mode = target.stat().st_mode
    text = _Text.decode(before, edit.path)
    grades = apply_hunks(text, edit) if edit.hunks else ()
    after = text.encode() if edit.hunks else before
    if edit.move_to:
        destination = confine(workspace, edit.move_to)
        if destination.exists():
            raise PatchError(f"cannot move {edit.path} to {edit.move_to}: it already exists")
        diff = unified_diff(edit.path, before, after, edit.move_to)
        return [_Planned(destination, after, mode), _Planned(target, None, None)], AppliedFile(
            edit.path, "moved", edit.move_to, grades, diff
        )
    diff = unified_diff(edit.path, before, after)
    return [_Planned(target, after, mode)], AppliedFile(edit.path, "modified", None, grades, diff)


def plan(workspace: Path, edits: Sequence[FileEdit]) -> tuple[list[_Planned], list[AppliedFile]]:
    """Compute every file's new content without touching the disk."""
    planned: list[_Planned] = []
    report: list[AppliedFile] = []
    seen: set[Path] = set()
    for edit in edits:
        target = confine(workspace, edit.path)
        if target in seen:
            raise PatchError(f"{edit.path} appears twice in one patch; merge its hunks")
        seen.add(target)
        if edit.kind == "add":
            if target.exists():
                raise PatchError(f"{edit.path} already exists; use '*** Update File:' to change it")
            data = edit.content.encode("utf-8")
            planned.append(_Planned(target, data, None))
            report.append(AppliedFile(edit.path, "added", diff=unified_diff(edit.path, None, data)))
        elif edit.kind == "delete":
            if not target.is_file():
                raise PatchError(f"{edit.path} does not exist, so it cannot be deleted")
            planned.append(_Planned(target, None, None))
            diff = unified_diff(edit.path, target.read_bytes(), None)
            report.append(AppliedFile(edit.path, "deleted", diff=diff))
        else:
            more, applied = _plan_update(workspace, edit, target)
            planned += more
            report.append(applied)
    return planned, report


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


def apply_edits(
    workspace: Path, edits: Sequence[FileEdit], check: bool = False
) -> list[AppliedFile]:
    """Apply `edits` under `workspace` (or only verify them, with `check`)."""
    planned, report = plan(workspace, edits)
    if not check:
        commit(planned)
    return report
