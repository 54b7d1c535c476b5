"""The `update_plan` tool: the model keeps a visible checklist that the user can follow."""

from __future__ import annotations

from typing import Any, Literal

from typing_extensions import TypedDict  # pydantic needs this TypedDict on Python < 3.12

from autocodebase.events import PlanUpdated
from autocodebase.tools.base import (
    ToolContext,
    ToolError,
    ToolResult,
    accepting,
    read_only_tool,
    renamed,
)


class PlanStep(TypedDict):
    step: str
    status: Literal["pending", "in_progress", "completed"]


def codex_arguments(_context: ToolContext, arguments: dict[str, Any]) -> dict[str, Any]:
    """Codex's `update_plan{"plan": [{"step", "status"}], "explanation"}`: the same steps
    under another name, and a note on why the plan changed (kept, and shown with the result)."""
    return renamed(arguments, {"plan": "steps"})


@accepting(codex_arguments)
@read_only_tool
def update_plan(
    context: ToolContext, steps: list[PlanStep], explanation: str | None = None
) -> ToolResult:
    """Record the whole plan, steps in order; at most one in_progress."""
    if sum(1 for s in steps if s["status"] == "in_progress") > 1:
        raise ToolError("at most one step may be in_progress")
    context.plan = [{"step": s["step"], "status": s["status"]} for s in steps]
    context.emit(PlanUpdated(steps=list(context.plan)))
    done = sum(1 for s in steps if s["status"] == "completed")
    text = f"plan updated: {done}/{len(steps)} steps completed"
    if explanation:
        return ToolResult(f"{text} ({explanation})", data={"explanation": explanation})
    return ToolResult(text)
