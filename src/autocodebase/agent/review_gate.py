"""The review gate: before acb commits, the static gates review the run's own change. Findings
at or above `[review] block_on` (default high) go back to the model to fix (bounded rounds);
if they remain, the run fails and nothing is committed. Everything found is recorded — in the
ledger (`review_checked`) and in the commit's provenance note.

With `[review] model = true` the run's model also reviews the change once the static gates
pass (two passes, weak findings dropped). Its findings are advisory: shown, recorded and in
the note, but never blocking — a model's opinion should not stop a commit the analysers pass.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from autocodebase.agent.test_gate import GateVerdict
from autocodebase.config import BlockOn
from autocodebase.events import Error, Event, ReviewChecked, announce_if_slow
from autocodebase.models.base import Model, ModelError, Usage
from autocodebase.models.retry import RetryPolicy
from autocodebase.quality.review.changes import ChangeSet, parse_added_lines
from autocodebase.quality.review.findings import Finding, at_least, deduplicate
from autocodebase.quality.review.static import static_review
from autocodebase.vcs.git import GitError, git


@dataclass
class ReviewGate:
    workspace: Path
    emit: Callable[[Event], None]
    changed: Callable[[], list[str]]
    """Workspace-relative paths the run changed."""
    start: Callable[[], tuple[Path, str] | None]
    """(git root, checkpoint ref) of the tree as the run found it; None outside git."""
    block_on: BlockOn = "high"
    rounds: int = 2
    sent_back: int = 0
    findings: list[Finding] = field(default_factory=list)
    """The last review's findings (the git note carries them)."""
    failed: list[str] = field(default_factory=list)
    """The last review's gates whose tool crashed, each as a sentence (reported, in the note)."""
    model_review: Callable[[ChangeSet], list[Finding]] | None = None
    """The model's review of a change; asked once per distinct change, after the static
    gates pass."""
    _model_seen: tuple[tuple[str, tuple[int, ...]], ...] | None = None
    _model_findings: list[Finding] = field(default_factory=list)

    def __call__(self) -> GateVerdict:
        paths = self.changed()
        if not paths:
            return GateVerdict()
        changes = self._changes(paths)
        with announce_if_slow(
            self.emit,
            "review",
            f"reviewing {len(paths)} changed {'file' if len(paths) == 1 else 'files'}",
        ):
            review = static_review(changes)
        self.findings = review.findings
        if review.failed and review.failed != self.failed:
            for why in review.failed:
                self.emit(Error(message=f"review gate: {why}", fatal=False))
        self.failed = review.failed
        blocking = at_least(self.findings, self.block_on) if self.block_on != "never" else []
        if not blocking:
            self.findings = deduplicate(self.findings + self._ask_model(changes))
            self._record("passed" if not self.findings else "passed-with-findings", blocking)
            return GateVerdict()
        if self.sent_back >= self.rounds:
            self._record("gave-up", blocking)
            shown = "; ".join(f"{f.file}:{f.line} {f.tool} {f.rule}" for f in blocking[:5])
            return GateVerdict(
                failure=f"review found {self.block_on}-severity issues left unfixed: {shown}"
            )
        self.sent_back += 1
        self._record("sent-back", blocking)
        listed = "\n".join(
            f"- {f.file}:{f.line} [{f.severity}, {f.tool} {f.rule}] {f.message}"
            + (f" (fix: {f.fix_hint})" if f.fix_hint else "")
            for f in blocking
        )
        return GateVerdict(
            feedback="Before you finish: reviewing your change found problems that block the "
            f"commit:\n{listed}\nFix them, then finish. If one is a false positive, change the "
            "code so the intent is explicit (e.g. usedforsecurity=False for a non-security hash)."
        )

    def _ask_model(self, changes: ChangeSet) -> list[Finding]:
        if self.model_review is None:
            return []
        key = tuple(sorted((f, tuple(sorted(lines))) for f, lines in changes.lines.items()))
        if key != self._model_seen:
            self._model_seen = key
            self._model_findings = self.model_review(changes)
        return self._model_findings

    def _changes(self, paths: list[str]) -> ChangeSet:
        """The run's change as a unified diff against the start checkpoint, and the lines it
        added or changed in each file."""
        start = self.start()
        parts: list[str] = []
        for path in paths:
            target = self.workspace / path
            if not target.is_file():
                continue
            new = target.read_text(errors="replace").splitlines()
            old = self._old(start, path)
            parts += difflib.unified_diff(old, new, f"a/{path}", f"b/{path}", lineterm="")
        diff = "\n".join(parts)
        lines = {f: n for f, n in parse_added_lines(diff).items() if n}
        return ChangeSet("the run's change", self.workspace, lines, diff)

    def _old(self, start: tuple[Path, str] | None, path: str) -> list[str]:
        if start is None:
            return []
        root, ref = start
        relative = (self.workspace / path).resolve().relative_to(root.resolve()).as_posix()
        try:
            return git(root, "show", f"{ref}:{relative}").decode("utf-8", "replace").splitlines()
        except GitError:
            return []

    def _record(self, verdict: str, blocking: list[Finding]) -> None:
        self.emit(
            ReviewChecked(
                findings=[f.record() for f in self.findings],
                blocking=len(blocking),
                block_on=self.block_on,
                verdict=verdict,
                failed_gates=self.failed,
            )
        )


def advisory_model_review(
    model: Model,
    budget: int,
    retry: RetryPolicy,
    account: Callable[[Usage], object],
    emit: Callable[[Event], None],
) -> Callable[[ChangeSet], list[Finding]]:
    """The run's model reviewing the run's change; its cost counts toward the run's, and a
    model that cannot be reached costs the findings, never the run."""

    def review(changes: ChangeSet) -> list[Finding]:
        from autocodebase.quality.review.model_review import review_with_model  # tree-sitter

        try:
            outcome = review_with_model(model, changes, budget, retry)
        except ModelError as error:
            emit(Error(message=f"model review skipped: {error}", fatal=False))
            return []
        account(outcome.usage)
        return outcome.findings

    return review


def chain(*checks: Callable[[], GateVerdict]) -> Callable[[], GateVerdict]:
    """Run the checks in order; the first that objects decides."""

    def check() -> GateVerdict:
        for one in checks:
            verdict = one()
            if verdict.feedback or verdict.failure:
                return verdict
        return GateVerdict()

    return check
