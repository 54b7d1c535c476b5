"""The `repo_map` tool: the repository's most relevant definitions for a focus, on request.

The index is kept current before every answer (a stat per file when nothing changed), so the
map reflects the edits the model has just made.
"""

from __future__ import annotations

import sqlite3

from autocodebase.tools.base import ToolContext, ToolError, ToolResult, read_only_tool

DEFAULT_BUDGET = 2048
MAX_BUDGET = 8192


@read_only_tool
def repo_map(
    context: ToolContext, focus: str | None = None, budget: int | None = None
) -> ToolResult:
    """Signatures of the definitions most relevant to focus and to files you touched.

    Args:
        focus: Task, paths, names or error text.
        budget: Tokens (2048; max 8192).
    """
    from autocodebase.context.engine import ContextEngine

    size = min(max(budget or DEFAULT_BUDGET, 64), MAX_BUDGET)
    try:
        if context.context_engine is None:
            context.context_engine = ContextEngine(context.workspace)
        engine: ContextEngine = context.context_engine
        engine.refresh()
        found = engine.repo_map(budget=size, query=focus or "", focus=context.recent_files)
    except (OSError, sqlite3.Error) as exc:
        raise ToolError(f"cannot build the repo map: {exc}") from exc
    if not found.text:
        return ToolResult("no definitions found in files acb can parse", data={"files": 0})
    return ToolResult(
        found.text,
        data={"files": len(found.files), "definitions": found.definitions, "tokens": found.tokens},
    )
