"""The test gate: before the model may call a task done, the project's tests run; tests that
passed before the run and fail now go back to the model, and a run never reports success over
them.

Tests that already failed before the run are not blamed on it. They are found only when
needed — when something fails now — by running the same tests on the checkpoint of the tree
as the run found it, exported to a scratch directory, so a green suite costs one run.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from autocodebase.agent.events import Event, TestsChecked
from autocodebase.errors import AcbError
from autocodebase.quality.detect import TestCommand, detect
from autocodebase.quality.results import CaseResult, TestReport, failure_digest
from autocodebase.quality.runner import run_tests
from autocodebase.sandbox.environment import command_environment
from autocodebase.tools.base import ToolContext
from autocodebase.tools.shell import default_gate
from autocodebase.vcs.checkpoint import export_tree

WHOLE_SUITE = "(whole suite)"
"""Stands for the suite when the runner gives no per-test results, only an exit status."""


@dataclass(frozen=True)
class Verdict:
    feedback: str | None = None
    """Send this back to the model and let it continue."""
    failure: str | None = None
    """End the turn as failed with this error."""


@dataclass
class TestGate:
    __test__ = False  # not a pytest test class, despite the name

    context: ToolContext
    emit: Callable[[Event], None]
    changed: Callable[[], bool]
    """Whether the run has changed any file (nothing to test otherwise)."""
    baseline_tree: Callable[[], tuple[Path, str] | None]
    """(git root, tree id) of the working tree as the run found it; None outside git."""
    rounds: int = 2
    """How many times failing tests go back to the model before the run gives up."""

    def __post_init__(self) -> None:
        self.sent_back = 0
        self._before: set[str] | None = None

    def __call__(self) -> Verdict:
        if not self.changed():
            return Verdict()
        command = detect(self.context.workspace, self.context.test_command)
        if command is None:
            self._record(None, [], "skipped: no test command found")
            return Verdict()
        report = self._run(command, self.context.workspace)
        self.context.test_reports.append(report)
        if report.refused:
            self._record(report, [], f"skipped: {report.refused}")
            return Verdict()
        failing = _names(report)
        if not failing:
            self._record(report, [], "passed")
            return Verdict()
        before = self._failing_before(command)
        new = [name for name in failing if name not in before]
        if not new:
            self._record(report, failing, "preexisting")
            return Verdict()
        if self.sent_back >= self.rounds:
            self._record(report, [n for n in failing if n in before], "gave-up")
            shown = ", ".join(new[:10]) + (f" and {len(new) - 10} more" if len(new) > 10 else "")
            return Verdict(failure=f"tests that passed before the run now fail: {shown}")
        self.sent_back += 1
        self._record(report, [n for n in failing if n in before], "sent-back")
        return Verdict(feedback=_feedback(report, new, before))

    def _run(self, command: TestCommand, workspace: Path) -> TestReport:
        return run_tests(
            command,
            workspace,
            self.context.commands or default_gate(self.context),
            self.context.env or command_environment(),
            self.context.test_timeout_s,
        )

    def _failing_before(self, command: TestCommand) -> set[str]:
        """Names failing on the tree as the run found it (computed once per run)."""
        if self._before is not None:
            return self._before
        self._before = set()
        found = self.baseline_tree()
        if found is None:
            return self._before
        root, tree = found
        try:
            relative = self.context.workspace.resolve().relative_to(root.resolve())
        except ValueError:
            return self._before
        with tempfile.TemporaryDirectory(prefix="acb-baseline-") as scratch:
            try:
                export_tree(root, tree, Path(scratch))
            except (AcbError, OSError):
                return self._before
            self._before = set(_names(self._run(command, Path(scratch) / relative)))
        return self._before

    def _record(self, report: TestReport | None, preexisting: list[str], verdict: str) -> None:
        self.emit(
            TestsChecked(
                command=report.command if report else "",
                passed=len(report.passed) if report else 0,
                failed=_names(report) if report else [],
                preexisting=preexisting,
                verdict=verdict,
            )
        )


def _names(report: TestReport) -> list[str]:
    if report.failures:
        return [case.name for case in report.failures]
    if report.timed_out or (report.exit_code not in (0, None) and not report.cases):
        return [WHOLE_SUITE]
    return []


def _feedback(report: TestReport, new: list[str], before: set[str]) -> str:
    fresh = replace(
        report,
        cases=[c for c in report.failures if c.name in new] or [CaseResult(WHOLE_SUITE, "failed")],
    )
    old = f"\n({len(before)} other tests were already failing before your change; ignore those.)"
    return (
        "Before you finish: the project's tests fail after your change, and these passed "
        "before it:\n"
        + failure_digest(fresh)
        + (old if before else "")
        + "\nFix the code (or the tests, if the new behaviour is intended), run them with "
        "run_tests, then finish."
    )
