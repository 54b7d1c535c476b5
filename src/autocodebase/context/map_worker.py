"""Child process that builds the start-of-run repo map: `python -m
autocodebase.context.map_worker ROOT BUDGET QUERY` prints the map (see `BackgroundMap`)."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

from autocodebase.context.engine import ContextEngine


def main(argv: list[str]) -> int:
    root, budget, query = Path(argv[0]), int(argv[1]), argv[2]
    try:
        with ContextEngine(root) as engine:
            engine.refresh()
            sys.stdout.write(engine.repo_map(budget=budget, query=query).text)
    except (OSError, sqlite3.Error, RuntimeError) as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
