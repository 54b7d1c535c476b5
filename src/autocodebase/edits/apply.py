"""Apply parsed edits to the workspace atomically: every file changes, or none does.

All new contents are computed in memory first (so a bad hunk anywhere refuses the whole patch);
files are then written through a temp file and `os.replace`, keeping their mode and line endings,
and a failure while writing restores the files already written.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from autocodebase.edits.locate import locate, reindent
from autocodebase.edits.model import AppliedFile, FileEdit, PatchError


@dataclass
class _Planned:
    target: Path
    content: bytes | None  # None deletes the file
    mode: int | None


def confine(workspace: Path, relative: str) -> Path:
    """Resolve `relative` in the workspace; refuse absolute paths, `..` and symlink escapes."""
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
    return target


def _decode(target: Path, relative: str) -> tuple[list[str], str, bool]:
    raw = target.read_bytes()
    if b"\x00" in raw[:8192]:
        raise PatchError(f"{relative} is a binary file; it cannot be patched")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PatchError(f"{relative} is not UTF-8 text") from exc
    newline = "\r\n" if "\r\n" in text else "\n"
    trailing = text.endswith(("\n", "\r"))
    return text.replace("\r\n", "\n").split("\n")[: -1 if trailing else None], newline, trailing


def _updated_content(target: Path, edit: FileEdit) -> tuple[bytes, tuple[str, ...]]:
    lines, newline, trailing = _decode(target, edit.path)
    if lines == [""] and not trailing:
        lines = []
    cursor = 0
    grades = []
    for hunk in edit.hunks:
        index, grade = locate(lines, hunk, cursor, edit.path)
        new = list(hunk.new)
        if grade == "indentation":
            new = reindent(new, hunk.old[0], lines[index])
        lines[index : index + len(hunk.old)] = new
        cursor = index + len(new)
        grades.append(grade)
    text = newline.join(lines) + (newline if trailing or not lines else "")
    return text.encode("utf-8"), tuple(grades)


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
            planned.append(_Planned(target, edit.content.encode("utf-8"), None))
            report.append(AppliedFile(edit.path, "added"))
            continue
        if not target.is_file():
            raise PatchError(f"{edit.path} does not exist (use '*** Add File:' to create it)")
        mode = target.stat().st_mode
        if edit.kind == "delete":
            planned.append(_Planned(target, None, None))
            report.append(AppliedFile(edit.path, "deleted"))
            continue
        content, grades = (
            _updated_content(target, edit) if edit.hunks else (target.read_bytes(), ())
        )
        if edit.move_to:
            destination = confine(workspace, edit.move_to)
            if destination.exists():
                raise PatchError(f"cannot move {edit.path} to {edit.move_to}: it already exists")
            planned += [_Planned(destination, content, mode), _Planned(target, None, None)]
            report.append(AppliedFile(edit.path, "moved", edit.move_to, grades))
        else:
            planned.append(_Planned(target, content, mode))
            report.append(AppliedFile(edit.path, "modified", None, grades))
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


def apply_edits(workspace: Path, edits: Sequence[FileEdit]) -> list[AppliedFile]:
    planned, report = plan(workspace, edits)
    commit(planned)
    return report
