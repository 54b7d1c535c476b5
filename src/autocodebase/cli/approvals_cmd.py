"""`acb approvals`: the commands this project has pre-approved, visible and revocable.

They are kept in acb's per-user state directory, keyed by the project's real path, never in
the project (where anything run there could write them); see `sandbox/approvals.py`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from autocodebase.cli.options import directory_option

if TYPE_CHECKING:
    from autocodebase.sandbox.approvals import ApprovalStore


def _store(directory: Path) -> ApprovalStore:
    from autocodebase.sandbox.approvals import ApprovalStore

    store = ApprovalStore(directory)
    if store.warning:
        click.echo(f"warning: {store.warning}", err=True)
    return store


PROJECT = "The project (default: current)."


@click.group("approvals")
def approvals() -> None:
    """Approvals remembered for a project (kept in your acb state directory, not the project)."""


@approvals.command("list")
@directory_option(PROJECT)
def list_approvals(directory: Path) -> None:
    """Number and describe every approval in force."""
    entries = _store(directory).project()
    if not entries:
        click.echo("no approvals")
    for number, approval in enumerate(entries, start=1):
        click.echo(f"{number}. {approval.describe()} (since {approval.created})")


@approvals.command("add")
@directory_option(PROJECT)
@click.option("--command", "exact", metavar="CMD", help="Approve this exact command line.")
@click.option("--program", metavar="NAME", help="Approve this program with any arguments.")
@click.option("--escalated", is_flag=True, help="Also allow it to run outside the sandbox.")
def add_approval(directory: Path, exact: str | None, program: str | None, escalated: bool) -> None:
    """Pre-approve a command for this project (headless runs cannot ask)."""
    from autocodebase.errors import UsageError
    from autocodebase.sandbox.approvals import Approval

    if bool(exact) == bool(program):
        raise UsageError("give exactly one of --command or --program")
    approval = (
        Approval("command", exact.strip(), escalated)
        if exact
        else Approval("program", str(program), escalated)
    )
    stored = _store(directory).remember(approval)
    click.echo(f"approved: {stored.describe()}")


@approvals.command("revoke")
@directory_option(PROJECT)
@click.argument("number", type=int, required=False)
@click.option("--all", "everything", is_flag=True, help="Revoke every approval.")
def revoke_approval(directory: Path, number: int | None, everything: bool) -> None:
    """Revoke approval NUMBER (from `acb approvals list`), or --all."""
    from autocodebase.errors import UsageError

    store = _store(directory)
    if everything:
        for _ in range(len(store.project())):
            click.echo(f"revoked: {store.revoke(1).describe()}")
        return
    if number is None:
        raise UsageError("give an approval NUMBER or --all")
    click.echo(f"revoked: {store.revoke(number).describe()}")
