"""`acb undo`: put back the working tree a run started from, without touching anyone else's work.

Only paths the run changed are restored. A path the user has changed again since the run ended is
a conflict: undo refuses (naming the paths) unless forced. If the run committed and its commit is
still HEAD, the branch moves back to the parent, and index entries the commit had set are reset.
A run that was killed left no end checkpoint; undo then restores every path that differs from
the start checkpoint, and says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from autocodebase.errors import AcbError
from autocodebase.vcs.checkpoint import (
    REF_PREFIX,
    Snapshotter,
    changed_paths,
    index_entries,
    read_tree,
    write_entry,
)
from autocodebase.vcs.commit import set_index_entries
from autocodebase.vcs.git import git, git_ok, git_text, head_commit


class UndoRefused(AcbError):
    exit_code = 1


@dataclass(frozen=True)
class UndoReport:
    restored: list[str]
    finished: bool
    uncommitted: str | None = None
    """The commit taken off the branch, if the run had committed."""
    already_undone: bool = False


def ref_exists(root: Path, ref: str) -> bool:
    return git_ok(root, "rev-parse", "--verify", "-q", ref)


def undo_run(root: Path, run_id: str, commit: str | None, force: bool = False) -> UndoReport:
    start_ref = f"{REF_PREFIX}/{run_id}/start"
    end_ref = f"{REF_PREFIX}/{run_id}/end"
    if not ref_exists(root, start_ref):
        raise UndoRefused(
            f"run {run_id} has no checkpoint in {root} (was it run elsewhere, or with --no-git?)"
        )
    start = read_tree(root, start_ref)
    current = Snapshotter(root).entries()
    if not start and not force and head_commit(root) and read_tree(root, "HEAD"):
        # An empty undo point in a repository whose last commit has files is a damaged
        # checkpoint (a run cannot start from less than its commit): restoring it would
        # delete every file.
        raise UndoRefused(
            f"run {run_id}'s start checkpoint is empty while HEAD has files: it looks damaged, "
            "and undoing it would delete them all (use --force to restore it anyway)"
        )
    finished = ref_exists(root, end_ref)
    end = read_tree(root, end_ref) if finished else current
    paths = changed_paths(start, end)
    if paths and all(current.get(p) == start.get(p) for p in paths) and head_commit(root) != commit:
        return UndoReport([], finished, None, already_undone=True)
    conflicts = [p for p in paths if current.get(p) != end.get(p)]
    if conflicts and not force:
        listed = ", ".join(conflicts[:8]) + (" ..." if len(conflicts) > 8 else "")
        raise UndoRefused(
            f"you changed {len(conflicts)} file(s) the run also changed since it ended: {listed}; "
            "undo would overwrite your edits (use --force to restore them anyway)"
        )
    taken_off = None
    if commit:
        head = head_commit(root)
        if head == commit:
            parent = (
                git_text(root, "rev-parse", f"{commit}^")
                if git_ok(root, "rev-parse", "-q", "--verify", f"{commit}^")
                else None
            )
            if parent is None:
                raise UndoRefused(
                    "the run's commit is the repository's first commit; remove it with git yourself"
                )
            committed, before = read_tree(root, commit), read_tree(root, parent)
            git(root, "update-ref", "-m", f"acb undo {run_id}", "HEAD", parent, commit)
            staged = index_entries(root, paths)
            set_index_entries(
                root, None, {p: before.get(p) for p in paths if staged.get(p) == committed.get(p)}
            )
            taken_off = commit
        elif not force:
            raise UndoRefused(
                f"the run's commit {commit[:12]} is no longer HEAD (there are commits after it): "
                f"revert it with `git revert {commit[:12]}`, or --force to restore the files only"
            )
    for path in paths:
        write_entry(root, path, start.get(path))
    return UndoReport(paths, finished, taken_off)


def restore_to(root: Path, ref: str) -> list[tuple[str, str]]:
    """Put back every path that differs between checkpoint `ref` and now (a turn's undo):
    (path, "restored") for a file brought back as it was, (path, "removed") for one the turn
    created."""
    start = read_tree(root, ref)
    paths = changed_paths(start, Snapshotter(root).entries())
    for path in paths:
        write_entry(root, path, start.get(path))
    return [(path, "restored" if path in start else "removed") for path in paths]
