"""`acb exec`: run one task headless, for scripts and CI.

Progress goes to stderr and the final message to stdout, or, with `--json`, one event per line
on stdout (docs/events.md). Exit codes: 0 completed, 1 failed, 2 bad usage, 3 limit reached,
130 interrupted.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from autocodebase.cli.options import approvals_option, directory_option, sandbox_option
from autocodebase.errors import UsageError

if TYPE_CHECKING:
    from autocodebase.config import Settings
    from autocodebase.context.background import BackgroundMap
    from autocodebase.models.base import Model


def _read_task(task: str | None) -> str:
    if task is None or task == "-":
        if sys.stdin.isatty():
            raise UsageError('give a task, e.g. acb exec "add a --verbose flag", or pipe one in')
        task = sys.stdin.read()
    if not task.strip():
        raise UsageError("the task is empty")
    return task.strip()


def settings_for(workspace: Path, flags: Mapping[str, Any] | None = None) -> Settings:
    """The settings for `workspace`, saying on stderr what its config asked for and did not get:
    a repository that tries to loosen your policy should be seen, not silently obeyed or ignored."""
    from autocodebase.config import load_settings

    settings = load_settings(workspace, flags)
    for warning in settings.warnings:
        click.echo(f"acb: warning: {warning}", err=True)
    return settings


def _json_sink(event: dict[str, Any]) -> None:
    if event.get("transient"):
        return
    sys.stdout.write(json.dumps(event, ensure_ascii=False) + "\n")
    sys.stdout.flush()


@click.command("exec")
@click.argument("task", required=False)
@directory_option()
@click.option("-m", "--model", help="PROVIDER/NAME, e.g. openai/gpt-5.1, or replay:CASSETTE.")
@click.option("--json", "as_json", is_flag=True, help="Print events as JSON lines on stdout.")
@click.option("--max-steps", type=click.IntRange(min=1), help="Most model calls allowed.")
@click.option(
    "--max-minutes",
    type=click.FloatRange(min=0),
    help="Wall-clock minutes the run may take (default 120; 0: no limit).",
)
@click.option("--max-cost", type=click.FloatRange(min=0), help="Most USD to spend.")
@click.option("--stream/--no-stream", default=None, help="Stream model output (default: on).")
@click.option("--record", metavar="PATH", help="Write the model's responses to a cassette.")
@sandbox_option()
@approvals_option("When to ask before a command (default for exec: never; it cannot ask).")
@click.option(
    "--network", is_flag=True, default=None, help="Let sandboxed commands use the network."
)
@click.option(
    "--yolo", is_flag=True, help="No sandbox and no questions: full-access, approvals never."
)
@click.option("--commit/--no-commit", default=None, help="Commit the run's changes (default: on).")
@click.option("--branch", metavar="NAME", help="Do the work on a new branch NAME.")
@click.option("--no-git", is_flag=True, help="Run outside git: no checkpoints, no undo, no commit.")
def exec_command(
    task: str | None,
    directory: Path,
    model: str | None,
    as_json: bool,
    max_steps: int | None,
    max_minutes: float | None,
    max_cost: float | None,
    stream: bool | None,
    record: str | None,
    sandbox_mode: str | None,
    approvals: str | None,
    network: bool | None,
    yolo: bool,
    commit: bool | None,
    branch: str | None,
    no_git: bool,
) -> int:
    """Run TASK in a repository without asking questions, then exit.

    TASK is plain language; use - (or nothing) to read it from stdin.
    """
    workspace = directory
    text = _read_task(task)
    if yolo and sandbox_mode not in (None, "full-access"):
        raise UsageError("--yolo means --sandbox full-access; drop one of them")
    flags = {
        "model": model,
        "max_steps": max_steps,
        "max_minutes": max_minutes,
        "max_cost": max_cost,
        "stream": stream,
        "sandbox_mode": "full-access" if yolo else sandbox_mode,
        "approvals": "never" if yolo else approvals,
        "network": network,
        "commit": commit,
        "use_git": False if no_git else None,
    }
    settings = settings_for(workspace, flags)
    from autocodebase.context.background import BackgroundMap

    # The map is the longest wait before the first request: its builder starts now, on the
    # other core, while the model client and the rest of acb are imported and the run set up
    # (a run that then fails, say for a missing key, leaves it to finish the index).
    early_map = BackgroundMap(workspace.resolve(), settings.map_tokens, text)
    try:
        from autocodebase.models.registry import build_model

        chosen = build_model(settings.model, settings)
        return _execute(text, workspace, settings, chosen, record, as_json, branch, early_map)
    finally:
        early_map.detach()


def _execute(
    text: str,
    workspace: Path,
    settings: Settings,
    chosen: Model,
    record: str | None,
    as_json: bool,
    branch: str | None,
    early_map: BackgroundMap,
) -> int:
    """The run itself, once the map is being built."""
    from autocodebase.agent.runner import RunRequest, execute
    from autocodebase.cli.render import HumanRenderer
    from autocodebase.signals import terminating_signals

    if record:
        from autocodebase.models.cassette import RecordingModel

        chosen = RecordingModel(chosen, Path(record), description=text)
    sink: Callable[[dict[str, Any]], None] = _json_sink
    if not as_json:
        sink = HumanRenderer(sys.stderr)
    request = RunRequest(
        text, workspace, settings, chosen, [sink], branch=branch, early_map=early_map
    )
    with terminating_signals() as caught:
        _run_id, result = execute(request)
    if caught.signum is not None:
        return 128 + caught.signum
    # The streamed progress on stderr already showed the final message; print it again only
    # when stdout goes elsewhere (a pipe, a file), which is what scripts read, and not when
    # both go to the same place (a terminal, `> log 2>&1`), where it would show twice.
    if not as_json and result.final_message and not _same_destination():
        click.echo(result.final_message)
    return result.exit_code


def _same_destination() -> bool:
    """Whether stdout and stderr end in the same terminal, file or pipe."""
    try:
        return os.path.sameopenfile(sys.stdout.fileno(), sys.stderr.fileno())
    except (OSError, ValueError):  # a stream without a descriptor (tests, embedding)
        return sys.stdout.isatty() and sys.stderr.isatty()
