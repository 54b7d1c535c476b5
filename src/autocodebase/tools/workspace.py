"""Keep every path a tool touches inside the workspace, symlinks and `..` included."""

from __future__ import annotations

from pathlib import Path

from autocodebase.tools.base import ToolError


def resolve_inside(workspace: Path, path: str) -> Path:
    """Absolute path of `path` (relative to the workspace) or `ToolError` if it escapes."""
    if not path or "\x00" in path:
        raise ToolError("a path is required")
    root = workspace.resolve()
    candidate = Path(path)
    target = (candidate if candidate.is_absolute() else root / candidate).resolve()
    if target != root and root not in target.parents:
        raise ToolError(f"{path} is outside the workspace {root}")
    return target


def display_path(workspace: Path, path: Path) -> str:
    """Workspace-relative form used in messages and events."""
    try:
        return path.resolve().relative_to(workspace.resolve()).as_posix() or "."
    except ValueError:
        return str(path)
