"""Merging a finished branch into its base without putting anyone's uncommitted work at risk.

`acb autopilot` merges on its own (`--merge auto`) or when a person approves. The merge is
computed in git's object store (`git merge-tree --write-tree`, then `commit-tree`), touching no
working tree, and lands by moving the base branch's ref with a compare-and-swap
(`update-ref NEW OLD`): a branch that moved meanwhile is not overwritten.

When the base branch is checked out somewhere (usually the user's own checkout), moving its ref
alone would leave that checkout's files behind its HEAD. Then the checkout is fast-forwarded to
the merged commit with git's own `merge --ff-only`, and only when it has no uncommitted
change to tracked files; otherwise nothing moves and the reason says what to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from autocodebase.vcs.git import GitError, git, git_ok, git_run, git_text


@dataclass(frozen=True)
class MergeResult:
    merged: bool
    how: str
    """`fast-forward`, `merge commit`, `already merged`, or why not (when not merged)."""
    commit: str | None = None
    """The base branch's head after the merge."""


def checked_out_in(root: Path, branch: str) -> Path | None:
    """The worktree (the main checkout or another) that has `branch` checked out, if any."""
    listing = git_text(root, "worktree", "list", "--porcelain")
    place: Path | None = None
    for line in listing.splitlines():
        if line.startswith("worktree "):
            place = Path(line[len("worktree ") :])
        elif line == f"branch refs/heads/{branch}" and place is not None:
            return place
    return None


def has_tracked_changes(worktree: Path) -> bool:
    """Staged or unstaged changes to tracked files (untracked files are git's to protect:
    a merge that would overwrite one is refused by git itself)."""
    status = git_text(worktree, "status", "--porcelain", "--untracked-files=no")
    return bool(status.strip())


def merge_commit(root: Path, base: str, commit: str, message: str) -> MergeResult:
    """Merge `commit` into the branch `base`: fast-forward when possible, else a merge commit
    with `message`; a conflict merges nothing and names the conflicting files."""
    ref = f"refs/heads/{base}"
    old = git_text(root, "rev-parse", "--verify", f"{ref}^{{commit}}")
    if git_ok(root, "merge-base", "--is-ancestor", commit, old):
        return MergeResult(True, "already merged", old)
    if git_ok(root, "merge-base", "--is-ancestor", old, commit):
        new, how = commit, "fast-forward"
    else:
        done = git_run(root, "merge-tree", "--write-tree", "--name-only", old, commit)
        lines = done.stdout.decode("utf-8", "replace").splitlines()
        if done.returncode == 1:
            names = lines[1 : lines.index("")] if "" in lines else lines[1:]
            files = names[:5]
            return MergeResult(False, f"conflicts with {base} in {', '.join(files) or '?'}")
        if done.returncode != 0 or not lines:
            error = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["?"]
            return MergeResult(False, f"git merge-tree failed: {error[0]}")
        tree = lines[0].strip()
        new = git_text(root, "commit-tree", tree, "-p", old, "-p", commit, "-m", message)
        how = "merge commit"
    return _land(root, base, old, new, how)


def _land(root: Path, base: str, old: str, new: str, how: str) -> MergeResult:
    holder = checked_out_in(root, base)
    try:
        if holder is None:
            git(root, "update-ref", "-m", f"acb autopilot: {how}", f"refs/heads/{base}", new, old)
            return MergeResult(True, how, new)
        if has_tracked_changes(holder):
            return MergeResult(
                False,
                f"{base} is checked out in {holder} with uncommitted changes; commit or stash "
                "them, then approve again",
            )
        if git_text(holder, "rev-parse", "HEAD") != old:
            return MergeResult(False, f"{base} moved in {holder} while merging; approve again")
        git(holder, "merge", "--ff-only", "--quiet", new)
    except GitError as exc:
        return MergeResult(False, f"{base} not moved: {exc}")
    return MergeResult(True, f"{how} (checkout {holder} fast-forwarded)", new)
