"""`acb sandbox -- CMD ...`: run one command exactly as the agent's commands run, to see what
it is allowed to do; `acb sandbox --check`: what this machine's sandbox holds, and where not."""

from __future__ import annotations

import shlex
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import click

from autocodebase.cli.options import directory_option
from autocodebase.config import DEFAULTS, SANDBOX_MODES

if TYPE_CHECKING:
    from autocodebase.sandbox.policy import SandboxPolicy


@click.command(
    "sandbox", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False}
)
@click.option(
    "--mode",
    type=click.Choice(SANDBOX_MODES),
    help=f"Sandbox mode (default: from config, else {DEFAULTS['sandbox_mode']}).",
)
@click.option("--network", is_flag=True, default=None, help="Allow network access.")
@directory_option("Workspace (default: current).")
@click.option("--timeout", type=click.IntRange(min=1), help="Seconds before it is killed.")
@click.option("--check", is_flag=True, help="Report this machine's sandbox posture instead.")
@click.option("--json", "as_json", is_flag=True, help="With --check: one JSON object.")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def sandbox(
    mode: str | None,
    network: bool | None,
    directory: Path,
    timeout: int | None,
    check: bool,
    as_json: bool,
    command: tuple[str, ...],
) -> int:
    """Run COMMAND under the sandbox policy and exit with its status.

    \b
    Example: acb sandbox --mode read-only -- touch x   (fails: read-only file system)
    With --check: bubblewrap, root or not, user namespaces, how the limits are
    enforced, what is hidden, what falls back; exit 1 when something fails.
    """
    from autocodebase.agent.runner import sandbox_policy
    from autocodebase.cli.exec_cmd import settings_for
    from autocodebase.errors import AcbError, UsageError
    from autocodebase.sandbox.environment import command_environment
    from autocodebase.sandbox.run import run_command

    workspace = directory
    if not check and not command:
        raise UsageError("give a command to run (acb sandbox -- CMD ...) or --check")
    if check and command:
        raise UsageError("--check takes no command")
    settings = settings_for(workspace, {"sandbox_mode": mode, "network": network})
    policy = sandbox_policy(settings)
    if check:
        return _report(policy, workspace, command_environment(settings.env_allow), as_json)
    policy = replace(policy, limits=replace(policy.limits, output_bytes=1 << 30))
    line = command[0] if len(command) == 1 else shlex.join(command)
    outcome = run_command(policy, line, workspace, command_environment(settings.env_allow), timeout)
    if outcome.refused is not None:
        raise AcbError(outcome.output)
    sys.stdout.write(outcome.output)
    # describe() says how commands are meant to run; say how this one ran only when it differs.
    ran = (
        ""
        if outcome.sandbox in ("bubblewrap", "none (full-access)")
        else f"; ran: {outcome.sandbox}"
    )
    click.echo(f"[{policy.describe()}{ran}]", err=True)
    if outcome.timed_out:
        click.echo(f"acb: killed after {timeout or policy.limits.timeout_s}s", err=True)
        return 124
    return outcome.exit_code if outcome.exit_code is not None else 137


def _report(policy: SandboxPolicy, workspace: Path, env: dict[str, str], as_json: bool) -> int:
    import json

    from autocodebase.sandbox.posture import posture

    checks = posture(policy, workspace, env)
    if as_json:
        click.echo(
            json.dumps({"policy": policy.describe(), "checks": [c.to_dict() for c in checks]})
        )
    else:
        click.echo(f"policy: {policy.describe()}")
        marks = {"ok": "ok  ", "warn": "warn", "fail": "FAIL"}
        for item in checks:
            click.echo(f"[{marks[item.status]}] {item.name}: {item.detail}")
    return 1 if any(c.status == "fail" for c in checks) else 0
