"""`acb sandbox -- CMD ...`: run one command exactly as the agent's commands run, to see what
it is allowed to do."""

from __future__ import annotations

import shlex
import sys
from dataclasses import replace
from pathlib import Path

import click


@click.command(
    "sandbox", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False}
)
@click.option(
    "--mode",
    type=click.Choice(["read-only", "workspace-write", "full-access"]),
    help="Sandbox mode (default: from config, else workspace-write).",
)
@click.option("--network", is_flag=True, default=None, help="Allow network access.")
@click.option("-C", "--cd", "directory", metavar="DIR", help="Workspace (default: current).")
@click.option("--timeout", type=click.IntRange(min=1), help="Seconds before it is killed.")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def sandbox(
    mode: str | None,
    network: bool | None,
    directory: str | None,
    timeout: int | None,
    command: tuple[str, ...],
) -> int:
    """Run COMMAND under the sandbox policy and exit with its status.

    \b
    Example: acb sandbox --mode read-only -- touch x   (fails: read-only file system)
    """
    from autocodebase.agent.runner import sandbox_policy
    from autocodebase.config import load_settings
    from autocodebase.errors import AcbError, UsageError
    from autocodebase.sandbox.environment import command_environment
    from autocodebase.sandbox.run import run_command

    workspace = Path(directory or ".").expanduser().resolve()
    if not workspace.is_dir():
        raise UsageError(f"not a directory: {workspace}")
    settings = load_settings(workspace, {"sandbox_mode": mode, "network": network})
    policy = sandbox_policy(settings)
    policy = replace(policy, limits=replace(policy.limits, output_bytes=1 << 30))
    line = command[0] if len(command) == 1 else shlex.join(command)
    outcome = run_command(policy, line, workspace, command_environment(settings.env_allow), timeout)
    if outcome.refused is not None:
        raise AcbError(outcome.output)
    sys.stdout.write(outcome.output)
    click.echo(f"[{policy.describe()} · {outcome.sandbox}]", err=True)
    if outcome.timed_out:
        click.echo(f"acb: killed after {timeout or policy.limits.timeout_s}s", err=True)
        return 124
    return outcome.exit_code if outcome.exit_code is not None else 137
