"""The `shell` tool: run a bash command in the workspace, through the approval gate and sandbox."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from autocodebase.sandbox.approvals import ApprovalStore
from autocodebase.sandbox.environment import command_environment
from autocodebase.sandbox.gate import CommandGate
from autocodebase.sandbox.policy import Limits, SandboxPolicy
from autocodebase.tools.base import ToolContext, ToolResult, tool_changing_files_when

MAX_TIMEOUT_S = 3600


def default_gate(context: ToolContext) -> CommandGate:
    """Sandboxed, never asking: what a context without an explicit gate gets."""
    limits = Limits(timeout_s=context.shell_timeout_s, output_bytes=context.output_limit)
    return CommandGate(SandboxPolicy(limits=limits), "never", ApprovalStore(context.workspace))


def may_change_files(arguments: Mapping[str, Any]) -> bool:
    """False for a command the classifier knows only reads (cat, ls, grep, git status, ...),
    which saves two tree scans per step; one asking to leave the sandbox always counts."""
    command = arguments.get("command")
    if not isinstance(command, str) or arguments.get("with_escalated_permissions"):
        return True
    from autocodebase.sandbox.classify import classify

    return not classify(command).safe


@tool_changing_files_when(may_change_files)
def shell(
    context: ToolContext,
    command: str,
    timeout_s: int | None = None,
    with_escalated_permissions: bool | None = None,
    justification: str | None = None,
) -> ToolResult:
    """Run a bash command in the workspace and return its exit code and combined output.

    Use it to inspect the project, run tests and linters, or use any command-line tool. Output
    longer than the limit keeps its beginning and end. Prefer apply_patch for editing files.
    Commands run in a sandbox (see the system prompt for what it allows).

    Args:
        command: The bash command line to run, e.g. "python -m pytest -q".
        timeout_s: Seconds before the command is killed (default from settings, at most 3600).
        with_escalated_permissions: Ask the user to run this one command outside the sandbox
            (only when the approval policy is on-request, and only if the sandbox blocked it).
        justification: Why the command needs to run outside the sandbox, shown to the user.
    """
    gate: CommandGate = context.commands or default_gate(context)
    limit_s = min(timeout_s or context.shell_timeout_s, MAX_TIMEOUT_S)
    outcome = gate.run(
        command,
        context.workspace,
        context.env or command_environment(),
        limit_s,
        escalate=bool(with_escalated_permissions),
        justification=justification,
    )
    data = {
        "exit_code": outcome.exit_code,
        "timed_out": outcome.timed_out,
        "output_bytes": outcome.output_bytes,
        "sandbox": outcome.sandbox,
    }
    if outcome.refused is not None:
        return ToolResult(outcome.output, is_error=True, data=data)
    if outcome.timed_out:
        status = f"timed out after {limit_s}s (killed with its children)"
    elif outcome.killed_for_output:
        status = f"killed after printing {outcome.output_bytes} bytes"
    else:
        status = f"exit code {outcome.exit_code}"
    output = outcome.output.rstrip()
    text = f"{output}\n[{status}, {outcome.duration_s:.1f}s]" if output else f"[{status}]"
    failed = outcome.exit_code != 0
    return ToolResult(text, is_error=failed, data=data)
