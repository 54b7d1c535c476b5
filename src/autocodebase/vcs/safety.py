"""Rails around the user's repository: states in which acb must not start editing."""

from __future__ import annotations

from pathlib import Path

from autocodebase.vcs.git import git_text

IN_PROGRESS = {
    "MERGE_HEAD": "a merge",
    "rebase-merge": "a rebase",
    "rebase-apply": "a rebase or am",
    "CHERRY_PICK_HEAD": "a cherry-pick",
    "REVERT_HEAD": "a revert",
    "BISECT_LOG": "a bisect",
}


def operation_in_progress(root: Path) -> str | None:
    """'a merge', 'a rebase', ... when one is under way in this repository, else None."""
    git_dir = Path(git_text(root, "rev-parse", "--absolute-git-dir"))
    for marker, name in IN_PROGRESS.items():
        if (git_dir / marker).exists():
            return name
    return None
