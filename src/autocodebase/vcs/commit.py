"""Commit exactly what a run changed, with the human as author and the run in the trailers.

The commit is built from HEAD in a private index: for each path the run changed, the run's
version goes in when the user had no uncommitted edits to that path before the run; otherwise
only the run's own hunks are applied on top of HEAD's version (and the path is left out, and
reported, if they do not apply). The user's real index is then updated only for entries that
still matched the old HEAD, so their staged work stays staged and nothing else moves.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from autocodebase.vcs.checkpoint import (
    Entry,
    Snapshotter,
    Tree,
    changed_paths,
    index_entries,
    read_tree,
)
from autocodebase.vcs.git import (
    GitError,
    filtered_paths,
    git,
    git_ok,
    git_text,
    head_commit,
)

NOTES_REF = "refs/notes/acb"


@dataclass
class CommitResult:
    commit: str | None
    """None when every changed path had to be left out (see `left_uncommitted`)."""
    paths: list[str]
    left_uncommitted: list[str] = field(default_factory=list)


def _index_env(scratch: str) -> dict[str, str]:
    return {"GIT_INDEX_FILE": str(Path(scratch) / "index")}


def set_index_entries(
    root: Path, env: dict[str, str] | None, entries: dict[str, Entry | None]
) -> None:
    lines = "".join(
        f"{e.mode} {e.blob}\t{p}\0" if e is not None else f"0 {'0' * 40}\t{p}\0"
        for p, e in entries.items()
    )
    if lines:
        git(
            root,
            "update-index",
            "-z",
            "--index-info",
            input=lines.encode("utf-8", "surrogateescape"),
            env=env,
        )


def commit_run(root: Path, start: Tree, end: Tree, message: str) -> CommitResult | None:
    """Commit the run's changes (start -> end) on HEAD; None when there is nothing to commit.

    Paths with a clean/smudge filter are left uncommitted and reported (`filtered_paths`)."""
    paths = changed_paths(start, end)
    if not paths:
        return None
    head = head_commit(root)
    head_tree = read_tree(root, head) if head else {}
    chosen: dict[str, Entry | None] = {}
    # Checkpoints hold raw bytes; where the project filters a file (LFS), they are not its blob.
    left = filtered_paths(root, [p for p in paths if end.get(p) is not None])
    paths = [p for p in paths if p not in left]
    with tempfile.TemporaryDirectory(prefix="acb-commit-") as scratch:
        env = _index_env(scratch)
        if head:
            git(root, "read-tree", head, env=env)
        snap = Snapshotter(root)
        tree_ids: list[str] = []
        for path in paths:
            if head_tree.get(path) == start.get(path):
                chosen[path] = end.get(path)
                continue
            # The user had uncommitted edits here: apply only the run's hunks to HEAD's version.
            if not tree_ids:
                tree_ids = [snap.write_tree(start), snap.write_tree(end)]
            patch = git(root, "diff", "--binary", "--no-color", *tree_ids, "--", path)
            if not git_ok(
                root, "apply", "--cached", "--whitespace=nowarn", "-", input=patch, env=env
            ):
                left.append(path)
        set_index_entries(root, env, chosen)
        tree = git_text(root, "write-tree", env=env)
    if head and tree == git_text(root, "rev-parse", f"{head}^{{tree}}"):
        return CommitResult(None, [], sorted(left)) if left else None
    parents = ["-p", head] if head else []
    # The message goes on stdin: as an argument, a long one (a model's 1 MB) exceeds the
    # kernel's argument limit and the commit fails.
    created = git(root, "commit-tree", tree, *parents, "-F", "-", input=message.encode())
    commit = created.decode().strip()
    # The old value makes this fail rather than overwrite a commit made meanwhile.
    git(root, "update-ref", "-m", "acb: commit run", "HEAD", commit, *([head] if head else []))
    committed = read_tree(root, commit)
    _sync_user_index(root, head_tree, committed, [p for p in paths if p not in left])
    return CommitResult(commit, [p for p in paths if p not in left], sorted(left))


def _sync_user_index(root: Path, old_head: Tree, new_head: Tree, paths: list[str]) -> None:
    """Bring index entries for committed paths along, where the user had not staged anything."""
    index = index_entries(root, paths)
    updates = {p: new_head.get(p) for p in paths if index.get(p) == old_head.get(p)}
    set_index_entries(root, None, updates)


def attach_note(root: Path, commit: str, record: dict[str, object]) -> None:
    git(
        root,
        "notes",
        "--ref",
        NOTES_REF,
        "add",
        "-f",
        "-m",
        json.dumps(record, sort_keys=True),
        commit,
    )


def read_note(root: Path, commit: str) -> dict[str, object] | None:
    raw = git(root, "notes", "--ref", NOTES_REF, "show", commit, check=False)
    if not raw.strip():
        return None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


__all__ = ["CommitResult", "GitError", "attach_note", "commit_run", "read_note"]
