"""The `apply_patch` tool: edit files with Codex's patch grammar, all files or none."""

from __future__ import annotations

from dataclasses import replace
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from autocodebase.events import FileChanged
from autocodebase.output import truncate_text
from autocodebase.tools.base import ToolContext, ToolResult, accepting, renamed, tool

if TYPE_CHECKING:
    from autocodebase.edits.model import FileEdit

PRECISE_GRADES = frozenset({"exact", "insert"})


def codex_arguments(_context: ToolContext, arguments: dict[str, Any]) -> dict[str, Any]:
    """Codex's function-style `apply_patch{"input": ...}`: its models call the argument so."""
    return renamed(arguments, {"input": "patch"})


@accepting(codex_arguments)
@tool
def apply_patch(context: ToolContext, patch: str) -> ToolResult:
    """Edit files; all apply or none.

    *** Begin Patch
    *** Update File: a.py
    @@ def f():
     context
    -old
    +new
    *** Add File: b.py
    +line
    *** Delete File: c.py
    *** End Patch
    3 context lines; @@ is optional; "*** Move to: path" after Update File renames.
    """
    return patch_result(context, patch)


def _below(workdir: str, path: str | None) -> str | None:
    if path is None or PurePosixPath(path).is_absolute() or workdir in ("", "."):
        return path
    return (PurePosixPath(workdir) / path).as_posix()


def patch_result(context: ToolContext, patch: str, workdir: str = "") -> ToolResult:
    """Apply `patch` (its relative paths taken from `workdir`, for a patch sent through shell
    the way Codex's models do) and describe what changed."""
    # The edit engine is imported by the first patch, not by every run's start (20 ms).
    from autocodebase.edits.apply import apply_edits
    from autocodebase.edits.model import PatchError
    from autocodebase.edits.parse import parse_edits

    try:
        edits: list[FileEdit] = [
            replace(e, path=_below(workdir, e.path) or e.path, move_to=_below(workdir, e.move_to))
            for e in parse_edits(patch)
        ]
        applied = apply_edits(context.workspace, edits)
    except PatchError as exc:
        return ToolResult(f"patch not applied: {exc}", is_error=True)
    lines = []
    fuzzy_diffs = []
    for item in applied:
        context.remember(item.moved_to or item.path)
        context.emit(
            FileChanged(
                path=item.path, change=item.change, by="apply_patch", moved_to=item.moved_to
            )
        )
        fuzz = sorted({g for g in item.grades if g not in PRECISE_GRADES})
        note = f" (matched ignoring {', '.join(fuzz)}: check the diff below)" if fuzz else ""
        target = f" -> {item.moved_to}" if item.moved_to else ""
        lines.append(f"{item.change[0].upper()} {item.path}{target}{note}")
        if fuzz:
            fuzzy_diffs.append(item.diff)
    text = "patch applied:\n" + "\n".join(lines)
    if fuzzy_diffs:
        text += "\n\n" + truncate_text("".join(fuzzy_diffs), context.output_limit)
    return ToolResult(
        text,
        data={
            "files": [
                {
                    "path": a.path,
                    "change": a.change,
                    "moved_to": a.moved_to,
                    "grades": list(a.grades),
                }
                for a in applied
            ],
            "diff": "".join(a.diff for a in applied),
        },
    )
