"""The `acb` command: a click group whose subcommands are imported only when used.

Keeping SDKs and the agent out of the import path of `acb --help` is what makes it start fast;
every error a user can cause ends here as one line on stderr and a non-zero exit code.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any

import click

from autocodebase import __version__
from autocodebase.errors import AcbError

SUBCOMMANDS = {
    "exec": ("autocodebase.cli.exec_cmd", "exec_command", "Run a task headless"),
    "approvals": ("autocodebase.cli.approvals_cmd", "approvals", "List, add and revoke approvals"),
    "autopilot": (
        "autocodebase.cli.autopilot_cmd",
        "autopilot_command",
        "Work a task queue: run, gates, merge; people hold the gates",
    ),
    "batch": (
        "autocodebase.cli.batch_cmd",
        "batch_command",
        "Run many tasks with acb exec at once",
    ),
    "blame": ("autocodebase.cli.blame_cmd", "blame", "Which acb run wrote each line of a file"),
    "chat": ("autocodebase.cli.chat", "chat", "Talk with the repository (what a bare `acb` does)"),
    "doctor": ("autocodebase.cli.doctor_cmd", "doctor", "Check that acb can run here, with fixes"),
    "eval": (
        "autocodebase.cli.eval_cmd",
        "eval_command",
        "Evaluate on SWE-bench, graded officially",
    ),
    "map": (
        "autocodebase.cli.map_cmd",
        "map_command",
        "Show the repo map: what matters for a task",
    ),
    "resolve": (
        "autocodebase.cli.resolve_cmd",
        "resolve_command",
        "An issue to a branch, a run and a pull request",
    ),
    "review": (
        "autocodebase.cli.review_cmd",
        "review_command",
        "Security and bug gates on a change",
    ),
    "deploy": (
        "autocodebase.cli.deploy_cmd",
        "deploy_command",
        "Release with blue/green and rollback",
    ),
    "monitor": ("autocodebase.cli.monitor_cmd", "monitor_command", "How the deployment is doing"),
    "mcp": ("autocodebase.cli.mcp_cmd", "mcp_command", "MCP servers for runs; acb as a server"),
    "ci": ("autocodebase.cli.ci_cmd", "ci_command", "Write a CI workflow, proven before saved"),
    "tests": ("autocodebase.cli.tests_cmd", "tests_command", "Generate tests that raise coverage"),
    "patch": ("autocodebase.cli.patch_cmd", "patch", "Apply a patch the way the agent does"),
    "sandbox": ("autocodebase.cli.sandbox_cmd", "sandbox", "Run one command in the sandbox"),
    "serve": ("autocodebase.cli.serve_cmd", "serve_command", "The dashboard: runs in a browser"),
    "undo": ("autocodebase.cli.undo_cmd", "undo", "Put back the files a run changed"),
    "resume": ("autocodebase.cli.resume_cmd", "resume", "Continue a conversation"),
    "runs": ("autocodebase.cli.runs_cmd", "runs", "Inspect the run ledger"),
}


GROUP_OPTIONS = ("-h", "--help", "--version")


class LazyGroup(click.Group):
    """A group that imports a subcommand's module only when that subcommand runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in SUBCOMMANDS:
            return None
        module, attribute, _ = SUBCOMMANDS[cmd_name]
        command: click.Command = getattr(importlib.import_module(module), attribute)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Short help from our table, so `acb --help` imports no subcommand module at all.
        rows = [(name, SUBCOMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="acb")
def cli() -> None:
    """acb: an autonomous coding agent for real repositories.

    Give it a task in plain language; it plans, edits, runs the tests and records every step.

    \b
    Examples:
      acb exec "add a --verbose flag to the CLI" --model openai/gpt-5.1
      acb exec "fix the failing test" --model ollama/qwen2.5-coder:7b -C path/to/repo
      acb runs list
    """


def _usage_hint(error: click.UsageError) -> str:
    context = error.ctx
    name = context.command_path if context is not None else "acb"
    return f" (see `{name} --help`)"


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: run the CLI, turning every expected failure into one line and an exit code."""
    arguments = list(argv) if argv is not None else sys.argv[1:]
    if not arguments or (arguments[0].startswith("-") and arguments[0] not in GROUP_OPTIONS):
        arguments = ["chat", *arguments]  # `acb` and `acb -m MODEL` open a conversation
    try:
        result: Any = cli.main(args=arguments, prog_name="acb", standalone_mode=False)
    except click.UsageError as error:
        click.echo(f"acb: error: {error.format_message()}{_usage_hint(error)}", err=True)
        sys.exit(2)
    except click.ClickException as error:
        click.echo(f"acb: error: {error.format_message()}", err=True)
        sys.exit(error.exit_code)
    except click.Abort:
        click.echo("acb: interrupted", err=True)
        sys.exit(130)
    except AcbError as error:
        click.echo(f"acb: error: {error}", err=True)
        sys.exit(error.exit_code)
    except KeyboardInterrupt as stop:
        click.echo(f"acb: interrupted{f' ({stop})' if str(stop) else ''}", err=True)
        sys.exit(getattr(stop, "exit_code", 130))
    except Exception as error:  # a bug: one line for the user, the traceback only on request
        if os.environ.get("ACB_DEBUG"):
            raise
        click.echo(f"acb: internal error: {error!r} (set ACB_DEBUG=1 for details)", err=True)
        sys.exit(1)
    sys.exit(result if isinstance(result, int) else 0)
