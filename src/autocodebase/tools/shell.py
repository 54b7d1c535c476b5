"""The `shell` tool: run a bash command in the workspace, through the approval gate and sandbox."""

from __future__ import annotations

import math
import os
import shlex
from collections.abc import Mapping
from typing import Any

from autocodebase.sandbox.approvals import ApprovalStore
from autocodebase.sandbox.environment import command_environment
from autocodebase.sandbox.gate import CommandGate
from autocodebase.sandbox.policy import Limits, SandboxPolicy
from autocodebase.tools.apply_patch import patch_result
from autocodebase.tools.base import (
    ToolContext,
    ToolError,
    ToolResult,
    accepting,
    renamed,
    tool_changing_files_when,
)
from autocodebase.tools.workspace import display_path, resolve_inside

MAX_TIMEOUT_S = 3600
SHOWN_DURATION_S = 1.0
"""A command's duration is said when it took at least this long; below it, the tenths of a
second a quick command took are noise the model pays for again on every later step."""
SHELLS = frozenset({"bash", "sh", "zsh", "dash"})
PATCH_COMMANDS = ("apply_patch", "applypatch")
CUT_ADVICE = (
    "only its beginning and end shown: to see the rest, narrow it (grep, head, tail, a test "
    "selector) or write it to a file and read parts of it (sed -n 'A,Bp')"
)
"""Said under output that was cut, at its end where a model looks for the exit status:
told only that bytes were omitted, models rerun the same command."""


def default_gate(context: ToolContext) -> CommandGate:
    """Sandboxed, never asking: what a context without an explicit gate gets."""
    limits = Limits(timeout_s=context.shell_timeout_s, output_bytes=context.output_limit)
    return CommandGate(SandboxPolicy(limits=limits), "never", ApprovalStore(context.workspace))


def command_line(command: Any) -> str:
    """The command line a model meant. Codex's models send an argv list: `["bash", "-lc",
    "cmd"]` is "cmd" (acb already runs it in bash), any other list its shell-quoted join."""
    if isinstance(command, str):
        return command
    if not isinstance(command, list) or not command or not all(isinstance(a, str) for a in command):
        raise ToolError("command must be a string, or a non-empty list of strings (argv)")
    if (
        len(command) == 3
        and os.path.basename(command[0]) in SHELLS
        and command[1].startswith("-")
        and command[1].endswith("c")
    ):
        return str(command[2])
    if len(command) == 2 and command[0] in PATCH_COMMANDS:
        return f"{command[0]} <<'EOF'\n{command[1]}\nEOF"  # the heredoc form of the same call
    return shlex.join(command)


def sent_patch(command: str) -> bool:
    """Codex's models edit by running `apply_patch <<'EOF' ... EOF` (or `["apply_patch",
    patch]`): Codex intercepts it, and no such program exists in the sandbox, so acb does too."""
    first = command.lstrip().split(maxsplit=1)
    return bool(first) and first[0] in PATCH_COMMANDS and "*** Begin Patch" in command


def codex_arguments(context: ToolContext, arguments: dict[str, Any]) -> dict[str, Any]:
    """Codex's `shell{"command": [argv], "workdir", "timeout_ms"}` (and Claude Code's
    `Bash{"command", "timeout", "description"}`) as acb's shell arguments;
    `workdir` is checked here (inside the workspace, an existing directory) and kept as the
    relative directory the command starts in."""
    if "command" in arguments:
        arguments["command"] = command_line(arguments["command"])
    arguments.pop("description", None)  # Claude Code's Bash: a note for its user, not an option
    # Codex's `timeout_ms`, and Claude Code's Bash `timeout`, both in milliseconds.
    renamed(arguments, {"timeout": "timeout_ms"})
    if "timeout_ms" in arguments and "timeout_s" not in arguments:
        milliseconds = arguments.pop("timeout_ms")
        if not isinstance(milliseconds, int | float) or isinstance(milliseconds, bool):
            raise ToolError("timeout_ms must be a number of milliseconds")
        arguments["timeout_s"] = max(math.ceil(milliseconds / 1000), 1)
    workdir = arguments.get("workdir")
    if isinstance(workdir, str):
        target = resolve_inside(context.workspace, workdir or ".")
        if not target.is_dir():
            raise ToolError(f"workdir {workdir} is not a directory of the workspace")
        arguments["workdir"] = display_path(context.workspace, target)
    return arguments


def may_change_files(arguments: Mapping[str, Any]) -> bool:
    """False for a command the classifier knows only reads (cat, ls, grep, git status, ...),
    which saves two tree scans per step; one asking to leave the sandbox always counts."""
    try:
        command = command_line(arguments.get("command"))
    except ToolError:
        return True
    if arguments.get("with_escalated_permissions"):
        return True
    from autocodebase.sandbox.classify import classify

    return not classify(command).safe


@accepting(codex_arguments)
@tool_changing_files_when(may_change_files)
def shell(
    context: ToolContext,
    command: str,
    timeout_s: int | None = None,
    with_escalated_permissions: bool | None = None,
    justification: str | None = None,
    workdir: str | None = None,
) -> ToolResult:
    """Run a bash command in the sandbox, at the workspace root.

    Args:
        with_escalated_permissions: Ask the user to run it outside the sandbox (only after
            the sandbox blocked it).
        justification: Why it must run outside the sandbox, shown to the user.
    """
    if sent_patch(command):
        return patch_result(context, command, workdir or "")
    gate: CommandGate = context.commands or default_gate(context)
    # The user's setting caps what the model asks for: a model cannot buy itself an hour.
    ceiling = min(context.shell_timeout_s, MAX_TIMEOUT_S)
    limit_s = min(timeout_s or ceiling, ceiling)
    if workdir and workdir != ".":
        # The sandbox is the workspace's; the command starts below it, as Codex's workdir does.
        command = f"cd -- {shlex.quote(workdir)} && {command}"
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
        if timeout_s and timeout_s > limit_s:
            status += f"; {limit_s}s is the user's limit, so run something shorter"
    elif outcome.killed_for_output:
        status = f"killed after printing {outcome.output_bytes} bytes"
    else:
        status = f"exit {outcome.exit_code}"
    if outcome.duration_s >= SHOWN_DURATION_S:
        status += f", {outcome.duration_s:.1f}s"
    if outcome.output_bytes > context.output_limit:
        status += f"; {outcome.output_bytes} bytes of output, {CUT_ADVICE}"
    output = outcome.output.rstrip()
    text = f"{output}\n[{status}]" if output else f"[{status}]"
    failed = outcome.exit_code != 0
    return ToolResult(text, is_error=failed, data=data)
