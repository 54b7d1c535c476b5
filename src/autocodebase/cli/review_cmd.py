"""`acb review`: the static gates on any change, for people, scripts and code-scanning UIs."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("review")
@click.argument("spec", required=False, metavar="[REV | BASE..HEAD]")
@click.option("-C", "--cd", "directory", metavar="DIR", help="Repository (default: current).")
@click.option(
    "--uncommitted", is_flag=True, help="Review the uncommitted changes (and untracked files)."
)
@click.option(
    "--format",
    "output",
    type=click.Choice(["text", "json", "sarif", "markdown"]),
    default="text",
    show_default=True,
)
@click.option(
    "--fail-on",
    type=click.Choice(["high", "medium", "low", "never"]),
    default="high",
    show_default=True,
    help="Exit 1 when a finding is at least this severe.",
)
def review_command(
    spec: str | None, directory: str | None, uncommitted: bool, output: str, fail_on: str
) -> int:
    """Review a change: ruff (bug rules), bandit (security) and detect-secrets on the lines it
    adds or changes. Default: the uncommitted changes if any, else the last commit."""
    import tempfile

    from autocodebase.errors import UsageError
    from autocodebase.quality.review.changes import resolve
    from autocodebase.quality.review.findings import at_least
    from autocodebase.quality.review.render import FORMATS
    from autocodebase.quality.review.static import static_review
    from autocodebase.vcs.git import git_root

    if spec and uncommitted:
        raise UsageError("give a revision or --uncommitted, not both")
    root = git_root(Path(directory or ".").expanduser().resolve())
    if root is None:
        raise UsageError(f"{directory or '.'} is not in a git repository")
    with tempfile.TemporaryDirectory(prefix="acb-review-") as scratch:
        changes = resolve(root, spec, uncommitted, Path(scratch))
        findings = static_review(changes)
    click.echo(FORMATS[output](findings, changes.label), nl=False)
    if fail_on != "never" and at_least(findings, fail_on):
        return 1
    return 0
