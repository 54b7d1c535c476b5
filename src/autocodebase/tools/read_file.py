"""The `read_file` tool: numbered lines of a workspace file, in a window the model chooses."""

from __future__ import annotations

import shlex
from typing import Any

from autocodebase.tools.base import (
    ToolContext,
    ToolError,
    ToolResult,
    accepting,
    read_only_tool,
    renamed,
)
from autocodebase.tools.workspace import display_path, resolve_inside

DEFAULT_WINDOW = 400
MAX_LINE_CHARS = 2000


def claude_arguments(_context: ToolContext, arguments: dict[str, Any]) -> dict[str, Any]:
    """Claude Code's `Read{"file_path", "offset", "limit"}` (offset: the first line, limit: how
    many) as acb's `path`, `start_line`, `end_line`."""
    renamed(arguments, {"file_path": "path", "offset": "start_line"})
    limit = arguments.pop("limit", None)
    if limit is not None:
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise ToolError("limit must be a number of lines (1 or more)")
        if "end_line" not in arguments:
            start = arguments.get("start_line")
            first = start if isinstance(start, int) and not isinstance(start, bool) else 1
            arguments["end_line"] = max(first, 1) + limit - 1
    return arguments


@accepting(claude_arguments)
@read_only_tool
def read_file(
    context: ToolContext, path: str, start_line: int | None = None, end_line: int | None = None
) -> ToolResult:
    """Read a text file with line numbers (400 lines unless a range is given).

    Args:
        path: The file.
        start_line: First line (1-based).
        end_line: Last line (inclusive).
    """
    target = resolve_inside(context.workspace, path)
    if not target.is_file():
        raise ToolError(f"{path} is not a file" if target.exists() else f"{path} does not exist")
    raw = target.read_bytes()
    if b"\x00" in raw[:8192]:
        raise ToolError(f"{path} is a binary file ({len(raw)} bytes)")
    lines = raw.decode("utf-8", errors="replace").splitlines()
    first = max(start_line or 1, 1)
    if first > max(len(lines), 1):
        raise ToolError(f"{path} has {len(lines)} lines; start_line {first} is past the end")
    last = requested = min(end_line or first + DEFAULT_WINDOW - 1, len(lines))
    if last < first:
        raise ToolError(f"end_line {end_line} is before start_line {first}")
    relative = display_path(context.workspace, target)
    width = len(str(last))
    shown: list[str] = []
    budget = context.output_limit
    for number in range(first, last + 1):
        line = lines[number - 1]
        if len(line) > MAX_LINE_CHARS:
            rest = f"{MAX_LINE_CHARS + 1}-{2 * MAX_LINE_CHARS}"
            line = (
                f"{line[:MAX_LINE_CHARS]} [... line cut: {len(line)} characters; see the rest "
                f"with shell: sed -n {number}p {shlex.quote(relative)} | cut -c{rest}]"
            )
        entry = f"{number:>{width}}\t{line}"
        budget -= len(entry) + 1
        if budget < 0 and shown:
            last = number - 1
            break
        shown.append(entry)
    footer = ""
    if last < len(lines):
        why = "" if last == requested else ", cut at the output limit"
        footer = (
            f"\n[lines {first}-{last} of {len(lines)}{why}; use start_line/end_line to see "
            f"more, e.g. start_line={last + 1}]"
        )
    context.remember(relative)
    return ToolResult(
        "\n".join(shown) + footer,
        data={"path": relative, "start_line": first, "end_line": last, "total_lines": len(lines)},
    )
