"""Keep every path a tool touches inside the workspace, symlinks and `..` included."""

from __future__ import annotations

from pathlib import Path

from autocodebase.tools.base import ToolError
from autocodebase.vcs.protected import write_refusal


def resolve_inside(workspace: Path, path: str, *, write: bool = False) -> Path:
    """Absolute path of `path` (relative to the workspace) or `ToolError` if it escapes.

    With `write`, also refuse git's and acb's own data (`write_refusal`): acb runs git and reads
    `.acb/` on the host, so a tool that writes there could get code run outside the sandbox.
    Reading them stays allowed: `.git/HEAD` or a config helps the model, and a sandboxed
    `cat .git/config` could read them anyway."""
    if not path or "\x00" in path:
        raise ToolError("a path is required")
    root = workspace.resolve()
    candidate = Path(path)
    target = (candidate if candidate.is_absolute() else root / candidate).resolve()
    if target != root and root not in target.parents:
        raise ToolError(f"{path} is outside the workspace {root}")
    if write and (refusal := write_refusal(root, path, target)) is not None:
        raise ToolError(refusal)
    return target


def display_path(workspace: Path, path: Path) -> str:
    """Workspace-relative form used in messages and events."""
    try:
        return path.resolve().relative_to(workspace.resolve()).as_posix() or "."
    except ValueError:
        return str(path)
