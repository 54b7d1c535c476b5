"""Discover AGENTS.md instructions the way Codex CLI does: from the git root down to the cwd.

Nearer files come later so their instructions win; the total is capped so a huge file cannot
crowd the task out of the context window.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from autocodebase.paths import inside

FILENAMES = ("AGENTS.override.md", "AGENTS.md")
MAX_TOTAL_BYTES = 32 * 1024


@dataclass(frozen=True)
class Instructions:
    path: Path
    text: str
    truncated: bool


def find_root(start: Path) -> Path:
    """The enclosing git work tree's root, or `start` itself when not in a repository."""
    for directory in (start, *start.parents):
        if (directory / ".git").exists():
            return directory
    return start


def discover(cwd: Path, budget: int = MAX_TOTAL_BYTES) -> list[Instructions]:
    """AGENTS.md files from the repository root down to `cwd`, root first, within `budget` bytes."""
    cwd = cwd.resolve()
    root = find_root(cwd)
    chain = [cwd, *cwd.parents]
    directories = list(reversed(chain[: chain.index(root) + 1]))
    found: list[Instructions] = []
    for directory in directories:
        for name in FILENAMES:
            path = directory / name
            if not path.is_file() or not inside(root, path):
                continue  # a symlink out of the repository is not its instructions
            raw = path.read_bytes()
            if budget <= 0:
                break
            text = raw[:budget].decode("utf-8", errors="replace")
            found.append(Instructions(path, text, truncated=len(raw) > budget))
            budget -= len(raw)
            break  # an override replaces the plain file in the same directory
    return found
