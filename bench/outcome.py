"""What every benchmark does with what it could not measure (issue 25).

A run that failed is shown as failed, with its reason, and never as a number: a failure read as
0 s or 0 tokens is a win for whoever failed. A tool (or page, configuration, instance) the user
asked for that has no measurement makes the command exit non-zero, and keeps the figures out of
docs/benchmarks.md, unless the user passed `--allow-missing`; either way the command says which
and why.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping

from bench.report import write_section

ALLOW_MISSING_HELP = (
    "publish even when something asked for could not be measured (it is shown as failed, "
    "with its reason); without it such a run exits 1 and writes nothing"
)


def add_allow_missing(parser: argparse.ArgumentParser) -> None:
    """The same flag, worded the same, on every benchmark."""
    parser.add_argument("--allow-missing", action="store_true", help=ALLOW_MISSING_HELP)


def one_line(text: str, limit: int = 200) -> str:
    """A reason fit for a table cell: one line, no pipes, the end kept (errors say the most
    useful thing last)."""
    flat = " ".join(str(text).replace("|", "/").split())
    return flat if len(flat) <= limit else "…" + flat[-(limit - 1) :]


def failed(reason: str) -> str:
    """The cell of a figure that does not exist."""
    return f"failed: {one_line(reason) or 'no reason given'}"


def conclude(
    section: str,
    heading: str,
    write: bool,
    missing: Mapping[str, str],
    allow_missing: bool,
    what: str = "tool",
) -> int:
    """Print the section, write it when asked and allowed, name what is missing; the exit code.

    `missing` maps what could not be measured to why. With any of it and no `--allow-missing`
    the section is printed (so the failure can be read) but not written, and the code is 1."""
    print(section)
    for name, reason in missing.items():
        print(f"could not measure {what} {name}: {one_line(reason, 600)}", file=sys.stderr)
    if missing and not allow_missing:
        print(
            f"exit 1: {len(missing)} {what}(s) asked for could not be measured"
            + ("; docs/benchmarks.md left as it was" if write else "")
            + " (--allow-missing publishes without them, shown as failed)",
            file=sys.stderr,
        )
        return 1
    if missing:
        print(f"--allow-missing: {', '.join(missing)} shown as failed", file=sys.stderr)
    if write:
        write_section(heading, section)
    return 0
