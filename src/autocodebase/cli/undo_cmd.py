"""`acb undo [RUN]`: restore the working tree a run started from."""

from __future__ import annotations

from pathlib import Path

import click

from autocodebase.cli.options import directory_option


@click.command("undo")
@click.argument("run", default="last")
@click.option("--force", is_flag=True, help="Restore even files you changed after the run.")
@directory_option("The repository (default: current).")
def undo(run: str, force: bool, directory: Path) -> None:
    """Undo RUN (an id, a unique prefix, or `last` here): its changes go, yours stay."""
    from autocodebase.cli.runs_cmd import reader
    from autocodebase.errors import UsageError
    from autocodebase.vcs.git import git_root
    from autocodebase.vcs.undo import undo_run

    ledger = reader()
    if run == "last":
        # "last" means the last run in this repository, never one elsewhere on the disk.
        here_root = git_root(directory)
        if here_root is None:
            raise UsageError(f"{directory} is not in a git repository: give a run id, or -C REPO")
        run_id = ledger.last_in(here_root)
    else:
        run_id = ledger.resolve(run)
    record = ledger.run(run_id)
    workspace = Path(record["workspace"])
    source = click.get_current_context().get_parameter_source("directory")
    if run != "last" and source is click.core.ParameterSource.COMMANDLINE:
        # -C REPO says where: a run that worked elsewhere is not undone from here.
        here_root = git_root(directory)
        if here_root is None or not workspace.is_relative_to(here_root.resolve()):
            raise UsageError(
                f"run {run_id} worked in {workspace}, not in {directory}: "
                f"acb undo {run_id} -C {workspace}"
            )
    root = git_root(workspace) if workspace.is_dir() else None
    if root is None:
        raise UsageError(f"run {run_id} worked in {workspace}, which is no longer a git repository")
    report = undo_run(root, run_id, record.get("commit_sha"), force)
    if report.already_undone:
        click.echo(f"nothing to undo: the files run {run_id} changed are as it found them")
        return
    if not report.finished:
        click.echo(
            "note: the run did not finish; every file that differs from its start was restored"
        )
    if report.uncommitted:
        click.echo(f"removed the run's commit {report.uncommitted[:12]} from the branch")
    for path in report.restored:
        click.echo(f"restored {path}")
    if not report.restored:
        click.echo("nothing to undo: the run changed no files")
