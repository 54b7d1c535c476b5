"""`acb deploy --docs [--env NAME ...] [--check]`: the project's deployment guide, written only
when every command in it checks out; `--check` says whether the written one is stale."""

from __future__ import annotations

import json
from pathlib import Path

import click

from autocodebase.errors import UsageError


def acb_argv_problem(args: list[str]) -> str | None:
    """Why `acb ARGS` would not parse as acb's CLI parses it, or None. The guide's delivery
    code gets this as its seam: that layer may not import the CLI."""
    from autocodebase.cli.main import cli

    if not args:
        return "acb with no command"
    command = cli.get_command(click.Context(cli), args[0])
    if command is None:
        return f"acb has no command {args[0]!r}"
    try:
        command.make_context(f"acb {args[0]}", list(args[1:]))
    except click.ClickException as error:
        return error.format_message()
    return None


def write_docs(root: Path, envs: list[str], check: bool, overwrite: bool, as_json: bool) -> int:
    """Write docs/deploy.md for `envs` (default: every environment of deploy.toml), or with
    `check` only say whether the written one is stale (exit 1 when it is)."""
    from autocodebase.delivery.guide import GUIDE_PATH, render
    from autocodebase.delivery.guide_build import build_guide
    from autocodebase.delivery.guide_check import is_acb_guide, stale_line, stale_reasons
    from autocodebase.delivery.local import environments

    path = root / GUIDE_PATH
    if check:
        if not is_acb_guide(root):
            raise UsageError(f"no {GUIDE_PATH} written by acb deploy --docs here")
        reasons = stale_reasons(root)
        if as_json:
            click.echo(json.dumps({"path": GUIDE_PATH, "stale": reasons}, indent=2))
        elif reasons:
            click.echo(stale_line(reasons), err=True)
        else:
            click.echo(f"{GUIDE_PATH} is current")
        return 1 if reasons else 0
    if path.exists() and not overwrite and not is_acb_guide(root):
        raise UsageError(f"{GUIDE_PATH} exists and acb did not write it; pass --overwrite")
    names = envs or environments(root)
    guide = build_guide(root, names, acb_argv_problem)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(guide))
    if as_json:
        record = {
            "written": GUIDE_PATH,
            "environments": [{"name": e.name, "target": e.target} for e in guide.environments],
            "sources": guide.sources,
            "commands": [{"env": n, "phase": c.phase, "line": c.line} for n, c in guide.commands()],
        }
        click.echo(json.dumps(record, indent=2))
    else:
        described = ", ".join(f"{e.name} ({e.target})" for e in guide.environments)
        click.echo(
            f"written: {GUIDE_PATH} for {described}; {len(guide.commands())} commands checked"
        )
    return 0


def warn_if_stale(root: Path) -> None:
    """Every `acb deploy` says when the guide no longer matches what it describes."""
    from autocodebase.delivery.guide_check import stale_line, stale_reasons

    reasons = stale_reasons(root)
    if reasons:
        click.echo(f"acb: warning: {stale_line(reasons)}", err=True)
