"""A run's life in git: preflight checks, the start checkpoint, and at the end the end
checkpoint, the commit of exactly the run's changes, and its provenance note."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from autocodebase.agent.loop import RunResult
from autocodebase.config import Settings
from autocodebase.errors import UsageError
from autocodebase.events import Checkpoint, Error, Event, Git
from autocodebase.models.base import Model, Usage
from autocodebase.models.retry import RetryPolicy
from autocodebase.quality.verification import Verification
from autocodebase.vcs.checkpoint import Snapshotter, Tree, changed_paths, read_tree
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
    start_nested: frozenset[str] = frozenset()
    """Repositories inside the work tree before the run: only new ones are the run's doing."""
    warned: set[str] = field(default_factory=set)
    """New repositories already reported (a conversation commits every turn: say it once)."""
    review_findings: Callable[[], list[dict[str, object]]] | None = None
    """What the review gate found on the change: carried in the commit's provenance note."""
    review_failed: Callable[[], list[str]] | None = None
    """Review gates whose tool crashed on the change: the note says the change went
    unchecked by them, rather than letting their silence read as a pass."""
    verification: Callable[[], Verification | None] | None = None
    """What the tests proved of the change: the commit's `Acb-Verified:` trailer and note."""

    def __post_init__(self) -> None:
        self.snapshots = Snapshotter(self.root)

    def start(self) -> None:
        self.start_ref = self.snapshots.checkpoint(self.run_id, "start")
        self.start_tree = read_tree(self.root, self.start_ref)
        self.start_nested = frozenset(self.snapshots.nested)
        self.emit(Checkpoint(ref=self.start_ref))

    def checkpoint(self, name: str) -> str:
        """A further checkpoint of this run (a conversation takes one before every turn)."""
        return self.snapshots.checkpoint(self.run_id, name)

    def commit(self, base: Tree, end_ref: str, diff: str) -> Git:
        """Commit what changed from `base` to the checkpoint `end_ref`; say what happened."""
        # Needed once, at the end of a run: not imported by every run's start.
        from autocodebase.agent.commit_message import trailers, write_commit_message
        from autocodebase.vcs.blame import provenance_record
        from autocodebase.vcs.commit import attach_note, commit_run

        end_tree = read_tree(self.root, end_ref)
        end_tree, left = held_back(base, end_tree, self._warn(base, end_tree))
        paths = changed_paths(base, end_tree)
        commit = message = source = None
        committed: list[str] = []
        if paths:
            body, source, usage = write_commit_message(
                self.model, self.retry, self.task, diff, paths
            )
            self.account(usage)
            proved = self.verification() if self.verification is not None else None
            verified = proved.line() if proved is not None else None
            message = f"{body}\n\n{trailers(self.model.name, self.run_id, verified)}\n"
            parent = head_commit(self.root)
            try:
                outcome = commit_run(self.root, base, end_tree, message)
            except GitError as exc:
                hint = "(set git user.name/user.email?)"
                raise GitError(f"changes left uncommitted: {exc} {hint}") from None
            if outcome is not None:
                commit, committed = outcome.commit, outcome.paths
                left = sorted([*left, *outcome.left_uncommitted])
            if commit is not None:
                record = provenance_record(
                    self.root, parent, commit, self.run_id, self.model.name, self.file_calls()
                )
                if self.review_findings is not None:
                    record["review"] = self.review_findings()
                if self.review_failed is not None and (failed := self.review_failed()):
                    record["review_gates_failed"] = failed
                if proved is not None:
                    record["verification"] = proved.record()
                attach_note(self.root, commit, record)
        return Git(
            checkpoint=self.start_ref,
            end_checkpoint=end_ref,
            commit=commit,
            branch=self.branch or _current_branch(self.root),
            committed=committed,
            left_uncommitted=left,
            message=message,
            message_source=source,
        )

    def _warn(self, base: Tree, end: Tree) -> list[str]:
        """Say what the run changed that makes git run code or pick up another repository
        (each new repository once); return the repositories the run created."""
        created = sorted(set(self.snapshots.nested) - self.start_nested)
        if fresh := [c for c in created if c not in self.warned]:
            self.warned.update(fresh)
            self.emit(Error(message=_created_message(fresh), fatal=False))
        steering = [p for p in changed_paths(base, end) if p.rpartition("/")[2] in STEERING]
        if steering:
            self.emit(Error(message=_steering_message(steering), fatal=False))
        return created

    def finish(self, result: RunResult) -> None:
        end_ref = self.checkpoint("end")
        if result.outcome == "completed" and self.settings.commit:
            self.emit(self.commit(self.start_tree, end_ref, result.diff or ""))
            return
        self._warn(self.start_tree, read_tree(self.root, end_ref))
        self.emit(
            Git(
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


STEERING = frozenset({".gitattributes", ".gitmodules"})
"""Files that choose which filters, diff drivers and submodules git uses on a checkout."""


def held_back(base: Tree, end: Tree, repositories: list[str]) -> tuple[Tree, list[str]]:
    """`end` with every path inside `repositories` as it was in `base`, so the commit leaves
    them out (a nested repository is never committed, as a gitlink or as files); and those."""
    held = [
        path
        for path in changed_paths(base, end)
        if any(path == r or path.startswith(r.rstrip("/") + "/") for r in repositories)
    ]
    kept = {p: e for p, e in end.items() if p not in held}
    kept.update({p: base[p] for p in held if p in base})
    return kept, held


def _created_message(created: list[str]) -> str:
    listed = ", ".join(created[:5]) + (f" and {len(created) - 5} more" if len(created) > 5 else "")
    return (
        f"the run created a git repository inside the work tree ({listed}): acb did not commit "
        "it; git run inside it obeys its own hooks and config, so inspect it before you do"
    )


def _steering_message(paths: list[str]) -> str:
    return (
        f"the run changed {', '.join(paths)}: they choose the filters, diff drivers and "
        "submodules your git will use (acb's own git uses none), so review them before you "
        "next check out, pull or update submodules here"
    )


def _current_branch(root: Path) -> str | None:
    name = git_text(root, "rev-parse", "--abbrev-ref", "HEAD") if head_commit(root) else ""
    return name if name and name != "HEAD" else None
