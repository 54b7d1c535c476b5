"""Tools the model can call, and the default set offered in a run."""

from __future__ import annotations

from collections.abc import Mapping

from autocodebase.tools.base import Tool, Toolbox, ToolContext, ToolResult

FILE_TOOLS = frozenset({"read_file", "search"})
"""Callable always, offered only with `file_tools = true`: shell does what they do."""


def default_toolbox(
    hidden: Mapping[str, frozenset[str]] | None = None, unoffered: frozenset[str] = frozenset()
) -> Toolbox:
    """The public-contract tools: shell, read_file, search, repo_map, apply_patch, run_tests,
    update_plan (less the parameters `hidden` names, see `hidden_for`, and the tools
    `unoffered` names, which answer when called but are not in the requests' tool list)."""
    from autocodebase.tools.apply_patch import apply_patch
    from autocodebase.tools.plan import update_plan
    from autocodebase.tools.read_file import read_file
    from autocodebase.tools.repo_map import repo_map
    from autocodebase.tools.run_tests import run_tests
    from autocodebase.tools.search import search
    from autocodebase.tools.shell import shell

    tools = [shell, read_file, search, repo_map, apply_patch, run_tests, update_plan]
    return Toolbox(tools, dict(hidden or {}), unoffered)


def hidden_for(approvals: str) -> dict[str, frozenset[str]]:
    """Asking to run a command outside the sandbox only means something when the policy lets
    the model ask (on-request); otherwise those parameters are not offered."""
    if approvals == "on-request":
        return {}
    return {"shell": frozenset({"with_escalated_permissions", "justification"})}


__all__ = ["Tool", "ToolContext", "ToolResult", "Toolbox", "default_toolbox", "hidden_for"]
