"""`acb map`: the repo map the model would get, for a human to read or a script to use."""

from __future__ import annotations

from pathlib import Path

import click

from autocodebase.cli.options import directory_option


@click.command("map")
@directory_option("Repository to map (default: the current directory).")
@click.option(
    "--budget",
    type=click.IntRange(min=1),
    default=1024,
    show_default=True,
    help="Token budget of the map.",
)
@click.option(
    "--focus", default="", help="What the work is about: a task, file names, identifiers."
)
@click.option(
    "--files",
    "list_files",
    type=click.IntRange(min=1),
    default=None,
    help="Print the N best-ranked files with their scores instead of the map.",
)
@click.option("--stats", is_flag=True, help="Report index and timing figures on stderr.")
def map_command(
    directory: Path, budget: int, focus: str, list_files: int | None, stats: bool
) -> None:
    """Print the definitions that matter most for FOCUS, grouped by file, within a budget."""
    import sqlite3
    import time

    from autocodebase.context.engine import ContextEngine
    from autocodebase.context.tokens import tokenizer_name
    from autocodebase.errors import UsageError

    root = directory
    started = time.perf_counter()
    try:
        with ContextEngine(root) as engine:
            refreshed = engine.refresh()
            if list_files is not None:
                for path, score in engine.rank(focus).files[:list_files]:
                    click.echo(f"{score:8.4f}  {path}")
                return
            repo_map = engine.repo_map(budget=budget, query=focus)
            index_path = engine.index.path
    except (OSError, sqlite3.Error) as exc:
        raise UsageError(f"cannot index {root}: {exc}") from None
    click.echo(repo_map.text, nl=False)
    if stats:
        click.echo(
            f"index: {refreshed.files} files, {refreshed.parsed} parsed, {refreshed.removed} "
            f"removed in {refreshed.seconds:.2f} s ({refreshed.workers} worker(s)) at "
            f"{index_path}; map: "
            f"{repo_map.definitions} definitions from {len(repo_map.files)} files, "
            f"{repo_map.tokens} tokens ({tokenizer_name()}); total "
            f"{time.perf_counter() - started:.2f} s",
            err=True,
        )
