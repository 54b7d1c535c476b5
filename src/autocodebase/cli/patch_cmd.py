"""`acb patch apply`: apply a Codex patch or SEARCH/REPLACE blocks from stdin, as the agent would.

The same engine serves the `apply_patch` tool, so what this prints on failure is exactly what a
model would be told.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from autocodebase.cli.options import directory_option


@click.group("patch")
def patch() -> None:
    """Apply edits in the formats models write (Codex patches, SEARCH/REPLACE blocks)."""


@patch.command("apply")
@directory_option("Apply under DIR (default: current).")
@click.option("--check", is_flag=True, help="Only verify that the patch applies; change nothing.")
@click.option("--file", "patch_file", metavar="PATH", help="Read the patch from PATH, not stdin.")
def apply_command(directory: Path, check: bool, patch_file: str | None) -> None:
    """Apply the patch on stdin to DIR and print the unified diff of what changed.

    Exits 0 when every file applied (or would, with --check), 1 with the refusal otherwise.
    """
    from autocodebase.edits.apply import apply_edits
    from autocodebase.edits.model import PatchError
    from autocodebase.edits.parse import parse_edits
    from autocodebase.errors import AcbError, UsageError

    root = directory
    try:
        text = Path(patch_file).read_text(encoding="utf-8") if patch_file else sys.stdin.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the patch: {exc}") from exc
    try:
        applied = apply_edits(root, parse_edits(text), check=check)
    except PatchError as exc:
        raise AcbError(f"patch not applied: {exc}") from exc
    for item in applied:
        click.echo(item.diff, nl=False)
    verb = "would apply" if check else "applied"
    summary = ", ".join(f"{a.change} {a.path}" for a in applied)
    click.echo(f"{verb}: {summary}", err=True)
