"""The `search` tool: regex search over the workspace, with ripgrep when present.

ripgrep respects .gitignore and is fast on big trees; the pure-Python fallback skips the usual
heavy directories so it stays usable where ripgrep is not installed, and like ripgrep never
follows a symlink out of the workspace.
"""

from __future__ import annotations

import fnmatch
import os
import re
import subprocess
from collections import Counter
from pathlib import Path

from autocodebase.output import truncate_text
from autocodebase.paths import inside
from autocodebase.programs import distrust, which
from autocodebase.sandbox.visibility import hidden_from_sandbox
from autocodebase.tools.base import ToolContext, ToolError, ToolResult, read_only_tool
from autocodebase.tools.workspace import display_path, resolve_inside

MAX_MATCHES = 200
PER_FILE_MATCHES = 50
"""ripgrep stops reading a file after this many matches, unless it is the one file searched."""
NARROW = "narrow the pattern, or the path or glob, to see them"
"""How to see matches cut from the middle of a long result."""
SKIPPED_DIRS = frozenset(
    {".git", "node_modules", ".venv", "venv", "__pycache__", ".mypy_cache", ".tox", "dist", "build"}
)


def _ripgrep(rg: str, context: ToolContext, pattern: str, target: Path, glob: str | None) -> str:
    command = [rg, "--line-number", "--no-heading", "--color=never", "--max-columns=300"]
    command += ["--sort=path"]
    if target.is_dir():
        command += [f"--max-count={PER_FILE_MATCHES}"]
    if glob:
        command += ["--glob", glob]
    relative = os.path.relpath(target, context.workspace)
    command += ["-e", pattern, "--", relative]
    done = subprocess.run(
        command, cwd=context.workspace, capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode == 2 and not done.stdout:
        raise ToolError(f"search failed: {done.stderr.strip().splitlines()[-1:]}")
    return done.stdout


def _python_search(context: ToolContext, pattern: str, target: Path, glob: str | None) -> str:
    try:
        regex = re.compile(pattern)
    except re.error as exc:
        raise ToolError(f"invalid regular expression: {exc}") from exc
    files = [target] if target.is_file() else []
    if target.is_dir():
        for root, dirs, names in os.walk(target):
            dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and not d.startswith("."))
            files.extend(Path(root) / n for n in sorted(names))
    hits: list[str] = []
    workspace = context.workspace.resolve()
    for file in files:
        if not _inside(workspace, file, context):
            continue
        relative = display_path(context.workspace, file)
        if glob and not (fnmatch.fnmatch(relative, glob) or fnmatch.fnmatch(file.name, glob)):
            continue
        try:
            text = file.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        hits.extend(
            f"{relative}:{number}:{line[:300]}"
            for number, line in enumerate(text.splitlines(), start=1)
            if regex.search(line)
        )
        if len(hits) > MAX_MATCHES:
            break
    return "\n".join(hits)


def _hidden(context: ToolContext, path: Path) -> bool:
    workspace = context.workspace.resolve()
    return hidden_from_sandbox(path, context.env or os.environ, writable=(workspace,))


def _inside(root: Path, file: Path, context: ToolContext | None = None) -> bool:
    """Whether `file`, symlinks followed, is a file of the workspace. ripgrep does not follow
    symlinks; neither may the fallback, or a link planted in the workspace would show the
    model `~/.aws/credentials` (which the sandbox hides from its commands)."""
    if not (inside(root, file) and file.is_file()):
        return False
    return context is None or not _hidden(context, file.resolve())


@read_only_tool
def search(
    context: ToolContext, pattern: str, path: str | None = None, glob: str | None = None
) -> ToolResult:
    """Search files for a regex (ripgrep syntax); returns path:line:text.

    Args:
        pattern: The regular expression.
        path: File or directory (default: everything).
        glob: Only files matching this glob, e.g. "*.py".
    """
    target = resolve_inside(context.workspace, path or ".")
    if not target.exists():
        raise ToolError(f"{path} does not exist")
    if not (target.is_file() or target.is_dir()):
        # A named pipe or a device: reading it would wait forever (rg opens a path it is given).
        raise ToolError(f"{path} is not a regular file or directory: nothing to search")
    if _hidden(context, target):
        # A workspace that contains a home: what commands cannot read, search does not show.
        raise ToolError(f"{path} is hidden from acb's tools (credentials)")
    distrust(context.workspace)  # a `rg` planted in the workspace is never the one we run
    rg = which("rg")
    found = (
        _ripgrep(rg, context, pattern, target, glob)
        if rg
        else _python_search(context, pattern, target, glob)
    )
    lines = found.splitlines()
    if not lines:
        return ToolResult("no matches", data={"matches": 0, "engine": "rg" if rg else "python"})
    shown = lines[:MAX_MATCHES]
    per_file = Counter(line.split(":", 1)[0] for line in lines)
    capped = (
        sorted(f for f, n in per_file.items() if n >= PER_FILE_MATCHES)
        if rg and target.is_dir()
        else []
    )
    more = (
        f"\n[{len(lines) - MAX_MATCHES} more matches not shown: narrow the search with path or "
        "glob, or a more specific pattern]"
        if len(lines) > MAX_MATCHES
        else ""
    )
    if capped:
        more += (
            f"\n[at most {PER_FILE_MATCHES} matches per file shown ({', '.join(capped[:5])}): "
            "search one file with path to see all of its matches]"
        )
    return ToolResult(
        truncate_text("\n".join(shown), context.output_limit, NARROW) + more,
        data={"matches": len(lines), "engine": "rg" if rg else "python"},
    )
