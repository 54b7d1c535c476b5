"""Options that several commands take, declared once so that they mean the same everywhere.

`-C/--cd DIR` hands the command the directory as a resolved `Path`, or stops with one line
("no such directory: DIR", "not a directory: DIR") before the command does anything. The
choices of `--sandbox` and `--approvals` come from the settings' own types (`config`), so a
mode or policy is spelled in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from autocodebase.errors import UsageError

Command = TypeVar("Command", bound=Callable[..., Any])


def _directory(_context: click.Context, _parameter: click.Parameter, value: str | None) -> Path:
    """`value` (default: the current directory), `~` expanded, as an absolute path; a
    `UsageError` (one line, exit 2) when it is missing or not a directory."""
    path = Path(value or ".").expanduser()
    if not path.exists():
        raise UsageError(f"no such directory: {path}")
    if not path.is_dir():
        raise UsageError(f"not a directory: {path}")
    return path.resolve()


def directory_option(help: str = "Work in DIR (default: current).") -> Callable[[Command], Command]:
    """`-C/--cd DIR`, passed to the command as `directory: Path` (resolved, known to exist)."""
    return click.option("-C", "--cd", "directory", metavar="DIR", callback=_directory, help=help)


def sandbox_option(help: str | None = None) -> Callable[[Command], Command]:
    """`--sandbox MODE`, passed as `sandbox_mode: str | None` (None: the settings decide)."""
    from autocodebase.config import DEFAULTS, SANDBOX_MODES  # only where it is used: -C is light

    return click.option(
        "--sandbox",
        "sandbox_mode",
        type=click.Choice(SANDBOX_MODES),
        help=help or f"Where commands may write (default: {DEFAULTS['sandbox_mode']}).",
    )


def approvals_option(help: str) -> Callable[[Command], Command]:
    """`--approvals POLICY`, passed as `approvals: str | None` (None: the front end decides)."""
    from autocodebase.config import APPROVAL_POLICIES

    return click.option("--approvals", type=click.Choice(APPROVAL_POLICIES), help=help)


def executor_options(command: Command) -> Command:
    """`--workers N`, `--executor local|ray` and `--ray-address ADDR`, as `acb eval` and
    `acb batch` take them (`--ray-address` without `--executor ray` is refused in one line)."""

    def ray_only(context: click.Context, _parameter: click.Parameter, value: str | None) -> Any:
        if value and context.params.get("executor", "local") != "ray":
            raise UsageError("--ray-address needs --executor ray")
        return value

    for option in reversed(
        [
            click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 256)),
            click.option(
                "--executor",
                type=click.Choice(["local", "ray"]),
                default="local",
                show_default=True,
                is_eager=True,
            ),
            click.option(
                "--ray-address",
                metavar="ADDR",
                callback=ray_only,
                help="A Ray cluster (default: start one here).",
            ),
        ]
    ):
        command = option(command)
    return command
