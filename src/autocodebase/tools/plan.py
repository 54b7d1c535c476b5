"""The `update_plan` tool: the model keeps a visible checklist that the user can follow."""

from __future__ import annotations

from typing import Literal

from typing_extensions import TypedDict  # pydantic needs this TypedDict on Python < 3.12

from autocodebase.events import PlanUpdated
from autocodebase.tools.base import ToolContext, ToolError, ToolResult, read_only_tool


class PlanStep(TypedDict):
    step: str
    status: Literal["pending", "in_progress", "completed"]


@read_only_tool
def update_plan(context: ToolContext, steps: list[PlanStep]) -> ToolResult:
    """Record or update the plan for this task as a short list of steps with their status.

    Keep at most one step in_progress; mark steps completed as you finish them.

    Args:
        steps: The whole plan, in order; each step has a text and a status.
    """
    if sum(1 for s in steps if s["status"] == "in_progress") > 1:
        raise ToolError("at most one step may be in_progress")
    context.plan = [{"step": s["step"], "status": s["status"]} for s in steps]
    context.emit(PlanUpdated(steps=list(context.plan)))
    done = sum(1 for s in steps if s["status"] == "completed")
    return ToolResult(f"plan updated: {done}/{len(steps)} steps completed")
