"""`acb resolve ISSUE`: an issue becomes a branch, an `acb exec` run, a push and a pull request.

ISSUE is a GitHub or GitLab issue URL, or a local markdown task file. The work happens on a
new branch in a worktree of its own (the user's checkout and its uncommitted work are never
touched), through the same run machinery as `acb exec` (approvals never, test and review gates
on). A forge issue's branch is pushed to `--remote` and a pull/merge request opened whose body
is the run's record; a task file's only with `--remote`. Progress on stderr; the pull request's
URL (or the branch) on stdout. Exit codes: as `acb exec` for the run; 1 when a forge call or
the push fails, 2 for bad usage.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from autocodebase.cli.options import directory_option, sandbox_option

if TYPE_CHECKING:
    from autocodebase.cli.resolve_flow import Plan


@click.command("resolve")
@click.argument("issue")
@directory_option("The repository (default: current).")
@click.option("-m", "--model", help="PROVIDER/NAME, as for acb exec.")
@click.option("--base", metavar="BRANCH", help="Start from and target BRANCH (default: current).")
@click.option("--branch", metavar="NAME", help="Branch name (default: acb/issue-N-<slug>).")
@click.option(
    "--remote",
    metavar="NAME",
    help="Push to this remote (default: origin for a forge issue; a task file: no push).",
)
@click.option(
    "--worktree",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the branch is checked out (default: $ACB_HOME/worktrees/REPO/BRANCH).",
)
@click.option("--draft", is_flag=True, help="Open the pull/merge request as a draft.")
@click.option("--no-pr", is_flag=True, help="Push the branch, open no pull request.")
@click.option("--dry-run", is_flag=True, help="Say what would be created, and stop.")
@click.option("--max-steps", type=click.IntRange(min=1), help="Most model calls allowed.")
@click.option("--max-minutes", type=click.FloatRange(min=0), help="Wall-clock minutes.")
@click.option("--max-cost", type=click.FloatRange(min=0), help="Most USD to spend.")
@sandbox_option(
    "Where the run's commands may write (default: the settings'). full-access runs them "
    "without acb's sandbox: only where something else contains them (a container, a CI job)."
)
@click.option("--json", "as_json", is_flag=True, help="Run events as JSON lines on stderr.")
def resolve_command(
    issue: str,
    directory: Path,
    model: str | None,
    base: str | None,
    branch: str | None,
    remote: str | None,
    worktree: Path | None,
    draft: bool,
    no_pr: bool,
    dry_run: bool,
    max_steps: int | None,
    max_minutes: float | None,
    max_cost: float | None,
    sandbox_mode: str | None,
    as_json: bool,
) -> int:
    """Resolve ISSUE (a GitHub/GitLab issue URL or a markdown task file): branch, run, push,
    pull request."""
    from autocodebase.cli.resolve_flow import make_plan, show_plan

    plan = make_plan(issue, directory, base, branch, remote, worktree)
    if dry_run:
        click.echo(show_plan(plan, model, draft, no_pr, sandbox_mode))
        return 0
    flags: dict[str, Any] = {
        "model": model,
        "max_steps": max_steps,
        "max_minutes": max_minutes,
        "max_cost": max_cost,
        "sandbox_mode": sandbox_mode,
        "approvals": "never",
        "test_gate": True,
        "review_gate": True,
        "commit": True,
        "use_git": True,
    }
    return _resolve(plan, flags, draft, no_pr, as_json)


def _resolve(plan: Plan, flags: dict[str, Any], draft: bool, no_pr: bool, as_json: bool) -> int:
    from autocodebase.cli.resolve_flow import open_request, push, run_issue

    outcome = run_issue(plan, flags, as_json)
    report = outcome.report
    if report.outcome != "completed" or report.commit is None:
        why = f"ended {report.outcome}" if report.outcome != "completed" else "changed nothing"
        click.echo(
            f"acb resolve: nothing pushed: the run {why} (run {outcome.run_id}; "
            f"worktree {plan.worktree})",
            err=True,
        )
        return outcome.exit_code or 1
    if plan.remote is None:
        click.echo(f"acb resolve: committed {report.commit[:12]} on {plan.branch}", err=True)
        click.echo(plan.branch)
        return 0
    push(plan)
    if plan.pr_on is None or no_pr:
        click.echo(plan.branch)
        return 0
    url = open_request(plan, outcome, draft)
    click.echo(url)
    return 0
