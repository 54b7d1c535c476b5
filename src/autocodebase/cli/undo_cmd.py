"""`acb undo [RUN]`: restore the working tree a run started from."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("undo")
@click.argument("run", default="last")
@click.option("--force", is_flag=True, help="Restore even files you changed after the run.")
@click.option("-C", "--cd", "directory", metavar="DIR", help="The repository (default: the run's).")
def undo(run: str, force: bool, directory: str | None) -> None:
    """Undo RUN (an id, a unique prefix, or `last`): its changes go, yours stay."""
    from autocodebase.cli.runs_cmd import reader
    from autocodebase.errors import UsageError
    from autocodebase.vcs.git import git_root
    from autocodebase.vcs.undo import undo_run

    ledger = reader()
    run_id = ledger.resolve(run)
    record = ledger.run(run_id)
    where = Path(directory).expanduser() if directory else Path(record["workspace"])
    root = git_root(where) if where.is_dir() else None
    if root is None:
        raise UsageError(
            f"{where} is not a git repository (the run worked in {record['workspace']})"
        )
    report = undo_run(root, run_id, record.get("commit_sha"), force)
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
