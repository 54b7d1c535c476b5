"""`acb resume [RUN|--last]`: continue a conversation with its history, plan and approvals."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("resume")
@click.argument("run", required=False)
@click.option("--last", "use_last", is_flag=True, help="The last run in this repository.")
@click.option("-m", "--model", help="Continue with another model.")
def resume(run: str | None, use_last: bool, model: str | None) -> int:
    """Continue the conversation of RUN (an id or unique prefix), or the last one here."""
    from autocodebase.cli.chat import open_conversation
    from autocodebase.cli.runs_cmd import reader
    from autocodebase.errors import UsageError
    from autocodebase.vcs.git import git_root

    ledger = reader()
    if run and use_last:
        raise UsageError("give a RUN or --last, not both")
    if run:
        run_id = ledger.resolve(run)
    else:
        root = git_root(Path.cwd())
        if root is None:
            raise UsageError("not in a git repository: give a run id to resume")
        run_id = ledger.last_in(root)
    workspace = Path(ledger.run(run_id)["workspace"])
    if not workspace.is_dir():
        raise UsageError(f"run {run_id} worked in {workspace}, which no longer exists")
    return open_conversation(workspace, {"model": model, "commit": False}, run_id)
