"""A new branch in a worktree of its own, so a run never touches the checkout a person is in.

`acb resolve` works there: the user's uncommitted work stays where it is, in their working
tree, untouched and unmixed with the run's change (`acb exec --branch` instead switches the
current tree, carrying uncommitted files along). The worktree is kept afterwards, for
inspection; `git worktree remove PATH` takes it away.
"""

from __future__ import annotations

from pathlib import Path

from autocodebase.errors import UsageError
from autocodebase.vcs.git import GitError, git, git_ok


def branch_exists(root: Path, branch: str) -> bool:
    return git_ok(root, "rev-parse", "--verify", "-q", f"refs/heads/{branch}")


def add_worktree(root: Path, path: Path, branch: str, base: str) -> Path:
    """A worktree at `path` on the new `branch`, starting at `base`; `path`."""
    if not git_ok(root, "check-ref-format", "--branch", branch):
        raise UsageError(f"not a valid branch name: {branch!r}")
    if branch_exists(root, branch):
        raise UsageError(
            f"branch {branch} exists already: delete it (git branch -D {branch}) or pass --branch"
        )
    if path.exists() and any(path.iterdir()):
        raise UsageError(f"{path} exists and is not empty: remove it or pass --worktree DIR")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        git(root, "worktree", "add", "--quiet", "-b", branch, str(path), base)
    except GitError as exc:
        raise UsageError(f"cannot create the worktree for {branch}: {exc}") from None
    return path


def discard_worktree(root: Path, path: Path, branch: str) -> None:
    """Remove a worktree and branch acb made earlier for the same task (a failed or interrupted
    attempt), so the next attempt starts from the base again. Only acb's own names reach here."""
    if path.exists():
        git(root, "worktree", "remove", "--force", str(path), check=False)
    git(root, "worktree", "prune", check=False)
    if branch_exists(root, branch):
        git(root, "branch", "-D", branch, check=False)
