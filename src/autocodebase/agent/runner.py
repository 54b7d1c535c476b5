"""Wire one run together from settings: ids, redaction, sinks, ledger, model, tools, prompt.

Front ends (`acb exec`, later the interactive session) build their sinks and hand over here; they
never reach into the loop.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from autocodebase import __version__
from autocodebase.agent.events import EventBus, RunStarted, Sink
from autocodebase.agent.loop import Agent, LoopLimits, RunResult
from autocodebase.agent.prompts import system_prompt
from autocodebase.config import Settings
from autocodebase.context.agents_md import discover
from autocodebase.ledger.store import LedgerWriter, connect
from autocodebase.models.base import Model
from autocodebase.models.pricing import price_for
from autocodebase.models.retry import RetryPolicy
from autocodebase.redact import Redactor, is_secret_name
from autocodebase.tools import default_toolbox
from autocodebase.tools.base import ToolContext
from autocodebase.vcs.snapshot import WorkTree, git_root

SANDBOX_DESCRIPTION = (
    "none yet: commands run as your user in the workspace directory; file tools are confined "
    "to the workspace"
)


def new_run_id() -> str:
    """Sortable by time, unique enough to type a prefix of: 20261124-061502-3fa9c1."""
    return time.strftime("%Y%m%d-%H%M%S-", time.gmtime()) + secrets.token_hex(3)


def command_environment(allowed: Sequence[str] = ()) -> dict[str, str]:
    """The environment commands see: ours, minus anything that looks like a secret."""
    return {k: v for k, v in os.environ.items() if k in allowed or not is_secret_name(k)}


@dataclass
class RunRequest:
    task: str
    workspace: Path
    settings: Settings
    model: Model
    sinks: Sequence[Sink] = ()


def execute(request: RunRequest) -> tuple[str, RunResult]:
    """Run the task to an outcome; return the run id and result. Everything is in the ledger."""
    settings = request.settings
    workspace = request.workspace.resolve()
    run_id = new_run_id()
    connection = connect(settings.ledger_path)
    bus = EventBus(run_id, Redactor.from_environment(), [LedgerWriter(connection), *request.sinks])
    try:
        root = git_root(workspace)
        worktree = WorkTree(root) if root is not None else None
        bus.emit(
            RunStarted(
                task=request.task,
                model=request.model.name,
                workspace=str(workspace),
                settings=settings.to_record(),
                sandbox=SANDBOX_DESCRIPTION,
                acb_version=__version__,
            )
        )
        context = ToolContext(
            workspace=workspace,
            emit=bus.emit,
            shell_timeout_s=settings.shell_timeout_s,
            output_limit=settings.output_limit,
            env=command_environment(),
        )
        agent = Agent(
            model=request.model,
            toolbox=default_toolbox(),
            context=context,
            emit=bus.emit,
            limits=LoopLimits(settings.max_steps, settings.max_cost),
            retry=RetryPolicy(
                max_attempts=max(settings.retry_attempts, 1),
                base_delay=settings.retry_base_delay_s,
                max_delay=settings.retry_max_delay_s,
            ),
            price=price_for(request.model.name, settings.prices),
            worktree=worktree,
        )
        prompt = system_prompt(
            workspace, SANDBOX_DESCRIPTION, discover(workspace), root is not None
        )
        return run_id, agent.run(prompt, request.task)
    finally:
        connection.close()
