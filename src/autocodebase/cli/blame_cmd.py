"""`acb blame FILE`: git blame, with each line's acb run and model where acb wrote it."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("blame")
@click.argument("file")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def blame(file: str, as_json: bool) -> None:
    """Show, line by line, which acb run (or which human) wrote FILE."""
    import json

    from autocodebase.errors import UsageError
    from autocodebase.vcs.blame import blame as blame_lines
    from autocodebase.vcs.git import GitError, git_root

    path = Path(file).expanduser().resolve()
    root = git_root(path.parent) if path.parent.is_dir() else None
    if root is None or not path.is_file():
        raise UsageError(f"{file} is not a file in a git repository")
    try:
        lines = blame_lines(root, str(path.relative_to(root)))
    except GitError as exc:
        raise UsageError(str(exc)) from None
    width = len(str(len(lines)))
    for line in lines:
        if as_json:
            click.echo(json.dumps(vars(line)))
            continue
        who = f"acb:{line.model} {line.run}" if line.run else line.author
        click.echo(f"{line.commit[:8]} {who[:60]:<60} {line.number:>{width}} | {line.text}")
