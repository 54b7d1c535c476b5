"""What a run changed in the working tree, and which tool call changed it.

The loop asks this tracker for a snapshot before a call that may change files and hands it
back afterwards; the tracker compares, attributes each changed path to the call (provenance
notes and the review read this), and keeps the baseline the run's final diff is taken
against. Snapshots are the checkpoint code's (`Snapshotter`): raw blob ids, so a change is
seen whatever git's filters or the user's config would make of it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from autocodebase.errors import AcbError
from autocodebase.events import ChangeKind
from autocodebase.vcs.checkpoint import Snapshotter, Tree, changed_paths
from autocodebase.vcs.git import git


@dataclass(frozen=True)
class Change:
    path: str
    """Relative to the repository's root (what provenance records)."""
    shown: str
    """Relative to the workspace (what the model and the user see)."""
    kind: ChangeKind


@dataclass
class ChangeTracker:
    """Snapshots around file-changing calls, per-file attribution and the run's diff.

    Without a snapshotter (no git, or `use_git` off) it tracks nothing and every answer is
    empty: the run works, it just cannot say what changed.
    """

    workspace: Path
    snapshots: Snapshotter | None = None
    warn: Callable[[str], None] | None = None
    """Told when a snapshot fails: the run goes on without that attribution."""
    baseline: Tree | None = None
    file_calls: dict[str, list[str]] = field(default_factory=dict)
    """Repository path -> ids of the tool calls that changed it, in order."""

    def start(self) -> None:
        """Take the baseline the run's final diff is against."""
        self.baseline = self.snapshot()

    def snapshot(self) -> Tree | None:
        if self.snapshots is None:
            return None
        try:
            return self.snapshots.entries()
        except AcbError as exc:
            if self.warn is not None:
                self.warn(f"workspace snapshot failed: {exc}")
            return None

    def repo_path(self, workspace_path: str) -> str:
        """A path the tool reported (workspace-relative) as the repository names it."""
        assert self.snapshots is not None
        return os.path.relpath(self.workspace / workspace_path, self.snapshots.root)

    def attribute(self, call_id: str, before: Tree | None) -> list[Change]:
        """Every path that differs from `before` now, remembered as changed by `call_id`."""
        after = self.snapshot()
        if self.snapshots is None or before is None or after is None:
            return []
        changes: list[Change] = []
        for path in changed_paths(before, after):
            self.file_calls.setdefault(path, []).append(call_id)
            kind: ChangeKind = "modified"
            if path not in before:
                kind = "added"
            elif path not in after:
                kind = "deleted"
            shown = os.path.relpath(self.snapshots.root / path, self.workspace)
            changes.append(Change(path, shown, kind))
        return changes

    def diff_since(self, baseline: Tree | None = None) -> str | None:
        """The working tree's diff against `baseline` (default: the run's start); None when
        nothing is tracked."""
        baseline = baseline if baseline is not None else self.baseline
        after = self.snapshot()
        if self.snapshots is None or baseline is None or after is None:
            return None
        if baseline == after:
            return ""
        ids = [self.snapshots.write_tree(baseline), self.snapshots.write_tree(after)]
        return git(self.snapshots.root, "diff", "--binary", "--no-color", *ids).decode(
            "utf-8", "replace"
        )
