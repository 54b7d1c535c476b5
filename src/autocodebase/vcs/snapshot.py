"""Snapshot a git working tree into a tree object without touching the user's index or HEAD.

A private index file (seeded from the real one, so unchanged files are not re-hashed) receives
`git add -A`; `git write-tree` then names the exact state of every tracked and untracked,
not-ignored file. Diffing two such trees tells what a run changed, whoever changed it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

ChangeKind = Literal["added", "modified", "deleted"]


def _git(root: Path, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, env=env, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"git {args[0]} failed: {done.stderr.strip()[:300]}")
    return done.stdout


def git_root(path: Path) -> Path | None:
    """The work tree root containing `path`, or None when git is missing or it is no repository."""
    if shutil.which("git") is None:
        return None
    done = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"],
        cwd=path,
        capture_output=True,
        text=True,
        check=False,
    )
    return Path(done.stdout.strip()) if done.returncode == 0 else None


@dataclass(frozen=True)
class Change:
    path: str
    change: ChangeKind


class WorkTree:
    """Snapshots and diffs of one repository's working tree."""

    def __init__(self, root: Path):
        self.root = root
        self.git_dir = Path(_git(root, "rev-parse", "--absolute-git-dir").strip())

    def snapshot(self) -> str:
        """Tree id of the working tree as it is now."""
        with tempfile.TemporaryDirectory(prefix="acb-index-") as scratch:
            index = Path(scratch) / "index"
            real_index = self.git_dir / "index"
            if real_index.is_file():
                shutil.copyfile(real_index, index)
            env = {**os.environ, "GIT_INDEX_FILE": str(index)}
            _git(self.root, "add", "-A", "--", ".", env=env)
            return _git(self.root, "write-tree", env=env).strip()

    def changes(self, before: str, after: str) -> list[Change]:
        out = _git(self.root, "diff", "--name-status", "--no-renames", "-z", before, after)
        fields = out.split("\0")
        kinds: dict[str, ChangeKind] = {
            "A": "added",
            "M": "modified",
            "D": "deleted",
            "T": "modified",
        }
        return [
            Change(fields[i + 1], kinds.get(fields[i][:1], "modified"))
            for i in range(0, len(fields) - 1, 2)
        ]

    def diff(self, before: str, after: str) -> str:
        return _git(self.root, "diff", "--binary", "--no-color", before, after)
