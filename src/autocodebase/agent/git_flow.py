"""A run's life in git: preflight checks, the start checkpoint, and at the end the end
checkpoint, the commit of exactly the run's changes, and its provenance note."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from autocodebase.agent.commit_message import trailers, write_commit_message
from autocodebase.agent.events import CheckpointTaken, Event, GitRecorded
from autocodebase.agent.loop import RunResult
from autocodebase.config import Settings
from autocodebase.errors import UsageError
from autocodebase.models.base import Model, Usage
from autocodebase.models.retry import RetryPolicy
from autocodebase.vcs.blame import provenance_record
from autocodebase.vcs.checkpoint import Snapshotter, Tree, changed_paths, read_tree
from autocodebase.vcs.commit import attach_note, commit_run
from autocodebase.vcs.git import GitError, git, git_root, git_text, head_commit
from autocodebase.vcs.safety import operation_in_progress


def preflight(workspace: Path, settings: Settings, branch: str | None) -> Path | None:
    """The repository root, after refusing states acb must not edit in; None with --no-git."""
    root = git_root(workspace)
    if root is None:
        if settings.use_git:
            raise UsageError(
                f"{workspace} is not in a git repository: acb checkpoints its changes in git so "
                "they can be undone; run `git init`, or pass --no-git to run without checkpoints"
            )
        return None
    if not settings.use_git:
        return None
    if settings.sandbox_mode != "read-only" and (operation := operation_in_progress(root)):
        raise UsageError(
            f"{operation} is in progress in {root}: finish or abort it before acb edits"
        )
    if branch:
        try:
            git(root, "switch", "-c", branch)
        except GitError as exc:
            raise UsageError(f"cannot start branch {branch!r}: {exc}") from None
    return root


@dataclass
class RunGit:
    root: Path
    run_id: str
    task: str
    model: Model
    retry: RetryPolicy
    settings: Settings
    emit: Callable[[Event], None]
    account: Callable[[Usage], object]
    file_calls: Callable[[], dict[str, list[str]]]
    branch: str | None = None
    snapshots: Snapshotter = field(init=False)
    start_ref: str = ""
    start_tree: Tree = field(default_factory=dict)
    review_findings: Callable[[], list[dict[str, object]]] | None = None
    """What the review gate found on the change: carried in the commit's provenance note."""

    def __post_init__(self) -> None:
        self.snapshots = Snapshotter(self.root)

    def start(self) -> None:
        self.start_ref = self.snapshots.checkpoint(self.run_id, "start")
        self.start_tree = read_tree(self.root, self.start_ref)
        self.emit(CheckpointTaken(ref=self.start_ref))

    def checkpoint(self, name: str) -> str:
        """A further checkpoint of this run (a conversation takes one before every turn)."""
        return self.snapshots.checkpoint(self.run_id, name)

    def commit(self, base: Tree, end_ref: str, diff: str) -> GitRecorded:
        """Commit what changed from `base` to the checkpoint `end_ref`; say what happened."""
        end_tree = read_tree(self.root, end_ref)
        paths = changed_paths(base, end_tree)
        commit = message = source = None
        committed: list[str] = []
        left: list[str] = []
        if paths:
            body, source, usage = write_commit_message(
                self.model, self.retry, self.task, diff, paths
            )
            self.account(usage)
            message = f"{body}\n\n{trailers(self.model.name, self.run_id)}\n"
            parent = head_commit(self.root)
            try:
                outcome = commit_run(self.root, base, end_tree, message)
            except GitError as exc:
                hint = "(set git user.name/user.email?)"
                raise GitError(f"changes left uncommitted: {exc} {hint}") from None
            if outcome is not None:
                commit, committed, left = outcome.commit, outcome.paths, outcome.left_uncommitted
                record = provenance_record(
                    self.root, parent, commit, self.run_id, self.model.name, self.file_calls()
                )
                if self.review_findings is not None:
                    record["review"] = self.review_findings()
                attach_note(self.root, commit, record)
        return GitRecorded(
            checkpoint=self.start_ref,
            end_checkpoint=end_ref,
            commit=commit,
            branch=self.branch or _current_branch(self.root),
            committed=committed,
            left_uncommitted=left,
            message=message,
            message_source=source,
        )

    def finish(self, result: RunResult) -> None:
        end_ref = self.checkpoint("end")
        if result.outcome == "completed" and self.settings.commit:
            self.emit(self.commit(self.start_tree, end_ref, result.diff or ""))
            return
        self.emit(
            GitRecorded(
                checkpoint=self.start_ref,
                end_checkpoint=end_ref,
                commit=None,
                branch=self.branch or _current_branch(self.root),
                committed=[],
                left_uncommitted=changed_paths(self.start_tree, read_tree(self.root, end_ref)),
                message=None,
                message_source=None,
            )
        )


def _current_branch(root: Path) -> str | None:
    name = git_text(root, "rev-parse", "--abbrev-ref", "HEAD") if head_commit(root) else ""
    return name if name and name != "HEAD" else None
