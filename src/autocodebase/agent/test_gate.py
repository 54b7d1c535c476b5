"""The test gate: before the model may call a task done, the tests that exercise its change run;
tests that passed before the run and fail now go back to the model, and a run never reports
success over them.

On a large repository the whole suite does not fit the time a run may spend, so the gate runs
first the tests chosen for the change (`quality.selection`), then widens to the whole suite only
when it is known (or estimated from the selection) to fit the budget that is left. What ran is
said as a `Verification`: verified, partly verified (which tests), or unverified (why). A
timeout is never a pass, and never taken for a failure that was there before.

Tests that already failed before the run are not blamed on it. They are found only when
needed — when something fails now — by running the same tests on the checkpoint of the tree
as the run found it, exported to a scratch directory, so a green run costs one test run.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from autocodebase.errors import AcbError
from autocodebase.events import Event, TestsChecked, announce_if_slow
from autocodebase.quality import suite_times
from autocodebase.quality.detect import TestCommand, detect, django_aborts
from autocodebase.quality.removed_tests import RemovedTests, removed_tests
from autocodebase.quality.results import CaseResult, TestReport, failure_digest
from autocodebase.quality.runner import run_test_command
from autocodebase.quality.selection import Selection, file_of, is_test_file, select_tests
from autocodebase.quality.verification import Verification, unverified
from autocodebase.sandbox.environment import command_environment
from autocodebase.tools.base import ToolContext
from autocodebase.tools.shell import default_gate
from autocodebase.vcs.checkpoint import export_tree
from autocodebase.vcs.git import git, worktree_files

WHOLE_SUITE = "(whole suite)"
"""Stands for the suite when the runner gives no per-test results, only an exit status."""
SELECTING_RUNNERS = ("pytest", "unittest", "django")
"""Runners whose tests can be chosen by file (`run_test_command(..., selector=files)`; Django's
runner gets them as labels, see `TestCommand.invocation`)."""
RERUN_NAMED = 5
"""Up to this many failing tests, the feedback spells out the selector that reruns them."""
SMALL_SUITE_FILES = 30
"""A suite of no more test files than this runs whole straight away: choosing would save
little, and the whole suite says more."""


@dataclass(frozen=True)
class GateVerdict:
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
    changed_paths: Callable[[], list[str]] = lambda: []
    """Workspace-relative paths the run changed: what the selection starts from."""
    budget_s: int | None = None
    """Seconds the gate may spend on one check; None: the test timeout."""

    def __post_init__(self) -> None:
        self.sent_back = 0
        self._before: dict[str, set[str]] = {}
        self._sent_names: list[str] = []
        self._told_of_removal = False
        self.verification: Verification | None = None
        """What the last check proved; None before any check (or when nothing changed)."""

    def __call__(self) -> GateVerdict:
        if not self.changed():
            return GateVerdict()
        removed = self._removed_tests()
        if removed and not self._told_of_removal:
            self._told_of_removal = True
            return GateVerdict(
                feedback=(
                    f"Your change removes tests: {removed.describe()}. A removed test no longer "
                    "checks anything, so passing without it proves less: restore it, unless "
                    "removing it is part of the task; then say why in your final message. The "
                    "run is recorded as partly verified either way."
                )
            )
        verdict = self._check()
        if removed and self.verification is not None and self.verification.status != "unverified":
            self.verification = Verification(
                "partly-verified",
                f"{self.verification.detail}; the change removes tests: {removed.describe()}",
                self.verification.tests,
            )
        return verdict

    def _removed_tests(self) -> RemovedTests:
        """Test files and functions the change removes, against the tree as the run found it."""
        found = self.baseline_tree()
        if found is None:
            return RemovedTests()
        root, ref = found
        workspace = self.context.workspace

        def before(path: str) -> str | None:
            repo_path = os.path.relpath(workspace / path, root)
            done = git(root, "cat-file", "blob", f"{ref}:{repo_path}", check=False)
            return done.decode("utf-8", "replace") if done else None

        def after(path: str) -> str | None:
            try:
                return (workspace / path).read_text(encoding="utf-8", errors="replace")
            except OSError:
                return None

        return removed_tests(self.changed_paths(), before, after)

    def _check(self) -> GateVerdict:
        command = detect(self.context.workspace, self.context.test_command)
        if command is None:
            self.verification = unverified("no test command found")
            self._record(None, [], "skipped: no test command found")
            return GateVerdict()
        started = time.monotonic()
        budget = self.budget_s or self.context.test_timeout_s
        selection, total = self._selection(command)
        if selection and not self._whole_suite_first(command, selection, total, budget):
            near, rest = selection.split()
            first = near if near and rest else selection
            report = self._run(command, self.context.workspace, first, budget)
            verdict = self._judge(command, report, first)
            if verdict is not None:
                return verdict
            if first is near:
                left = budget - (time.monotonic() - started)
                more = self._run(command, self.context.workspace, rest, max(int(left), 1))
                verdict = self._judge(command, more, rest)
                if more.timed_out or more.refused or _ran_nothing(verdict, more):
                    # What the nearest tests proved still stands (Django's runner aborts the
                    # whole run on one label it cannot set up).
                    if more.timed_out:
                        how = f"did not finish in {more.duration_s:.0f} s"
                    elif more.refused:
                        how = f"could not run: {more.refused}"
                    else:
                        how = "could not run here, before the run either"
                    why_not = (
                        f"was not run (the {len(rest.files)} chosen files that import the "
                        f"change {how})"
                    )
                    self.verification = _partly(report, near, total, why_not)
                    return GateVerdict()
                if verdict is not None:
                    return verdict
                report = _combined(report, more)
            left = budget - (time.monotonic() - started)
            if not self._widen(command, report, selection, total, left):
                why_not = f"was not run: it is not known to fit in {budget} s"
                self.verification = _partly(report, selection, total, why_not)
                return GateVerdict()
            whole = self._run(command, self.context.workspace, Selection(), int(left))
            verdict = self._judge(command, whole, Selection())
            if whole.timed_out:
                # The chosen tests passed; the whole suite could not finish: still partly.
                why_not = f"did not finish in {whole.duration_s:.0f} s"
                self.verification = _partly(report, selection, total, why_not)
            return verdict or GateVerdict()
        report = self._run(command, self.context.workspace, Selection(), budget)
        return self._judge(command, report, Selection()) or GateVerdict()

    # -- choosing what to run ---------------------------------------------------------------

    def _selection(self, command: TestCommand) -> tuple[Selection, int]:
        """The tests chosen for the change, and how many test files the project has."""
        if command.runner not in SELECTING_RUNNERS:
            return Selection(), 0
        files = worktree_files(self.context.workspace) or []
        workspace = self.context.workspace

        def read(path: str) -> str:
            try:
                return (workspace / path).read_text(encoding="utf-8", errors="replace")
            except OSError:
                return ""

        asked = [
            part
            for report in self.context.test_reports
            for part in (report.selector or "").split()
            if not part.startswith("-")
        ]
        failed = [name for name in self._sent_names if name != WHOLE_SUITE]
        known = set(files)
        earlier = [file_of(name, known) for name in failed]
        selection = select_tests(
            files, self.changed_paths(), read, asked, [e for e in earlier if e]
        )
        if command.runner == "django":
            selection = _runnable_by_django(selection)
        return selection, sum(1 for f in files if is_test_file(f))

    def _whole_suite_first(
        self, command: TestCommand, selection: Selection, total: int, budget: int
    ) -> bool:
        """Run the whole suite straight away when it is small or known to fit."""
        if total <= SMALL_SUITE_FILES:
            return True
        learned = suite_times.known(self.context.workspace, command.command)
        return bool(learned and learned.fits(budget))

    def _widen(
        self,
        command: TestCommand,
        report: TestReport,
        selection: Selection,
        total: int,
        left: float,
    ) -> bool:
        """Whether the whole suite can run in the time left: known to fit, or estimated from
        the selection's own time per file."""
        learned = suite_times.known(self.context.workspace, command.command)
        if learned is not None:
            fits = learned.fits(left)
            if fits is not None:
                return fits
        estimate = report.duration_s * total / max(len(selection.files), 1)
        return estimate <= left * 0.8

    # -- running and judging ----------------------------------------------------------------

    def _run(
        self,
        command: TestCommand,
        workspace: Path,
        selection: Selection,
        timeout_s: int,
        content: Path | None = None,
    ) -> TestReport:
        scope = selection.describe() if selection else "the whole suite"
        what = "the tree as the run found it" if content is not None else "the change"
        with announce_if_slow(
            self.emit, "tests", f"testing {what}: {scope} (at most {max(int(timeout_s), 1)} s)"
        ):
            report = run_test_command(
                command,
                workspace,
                gate=self.context.commands or default_gate(self.context),
                env=self.context.env or command_environment(),
                timeout_s=max(int(timeout_s), 1),
                selector=" ".join(selection.files) or None,
                content=content,
            )
        if not selection and content is None and not report.refused:
            suite_times.learn(workspace, command.command, report.duration_s, not report.timed_out)
        return report

    def _judge(
        self, command: TestCommand, report: TestReport, selection: Selection
    ) -> GateVerdict | None:
        """The verdict when the model must hear of it or the gate is done; None when the tests
        passed and the gate may go on (widen, or say what was verified)."""
        self.context.test_reports.append(report)
        scope = selection.describe() if selection else WHOLE_SUITE
        if report.refused:
            self.verification = unverified(f"the tests could not run: {report.refused}")
            self._record(report, [], f"skipped: {report.refused}", selection)
            return GateVerdict()
        if report.timed_out:
            self.verification = unverified(
                f"the tests ({scope}) timed out after {report.duration_s:.0f} s"
            )
            self._record(report, [], "timed-out", selection)
            return GateVerdict()
        failing = _names(report)
        if not failing:
            if not selection:
                self.verification = Verification(
                    "verified", f"whole suite: {_counts(report)}", (WHOLE_SUITE,)
                )
                self._record(report, [], "passed", selection)
                return GateVerdict()
            self._record(report, [], "passed", selection)
            return None
        before = self._failing_before(command, selection)
        if before is None:
            self.verification = unverified(
                "tests fail, and the same tests on the tree as the run found it timed out, so "
                "whether they failed before is not known"
            )
            before = set()
        new = [name for name in failing if name not in before]
        if not new and not report.passed:
            # Failing as a whole before and after (a collection error, a broken environment):
            # nothing ran, so nothing is proved, and nothing is the run's to fix either.
            self.verification = unverified(
                f"no test passed ({scope}: {_counts(report)}, the same before the run): the "
                "tests do not run here"
            )
            self._record(report, failing, "preexisting", selection)
            return GateVerdict()
        if not new:
            kept = [n for n in failing if n in before]
            if selection:
                self._record(report, kept, "preexisting", selection)
                return None
            self.verification = Verification(
                "verified",
                f"whole suite: {_counts(report)}; {len(kept)} failing before the run too",
                (WHOLE_SUITE,),
            )
            self._record(report, kept, "preexisting", selection)
            return GateVerdict()
        self.verification = unverified(f"tests fail: {', '.join(new[:5])}")
        if self.sent_back >= self.rounds:
            self._record(report, [n for n in failing if n in before], "gave-up", selection)
            shown = ", ".join(new[:10]) + (f" and {len(new) - 10} more" if len(new) > 10 else "")
            return GateVerdict(failure=f"tests that passed before the run now fail: {shown}")
        self.sent_back += 1
        self._sent_names = new
        self._record(report, [n for n in failing if n in before], "sent-back", selection)
        return GateVerdict(feedback=_feedback(report, new, before))

    def _failing_before(self, command: TestCommand, selection: Selection) -> set[str] | None:
        """Names failing on the tree as the run found it (once per selection); None when that
        run timed out, so nothing is known."""
        key = " ".join(selection.files)
        if key in self._before:
            return self._before[key]
        found = self.baseline_tree()
        if found is None:
            return self._before.setdefault(key, set())
        root, tree = found
        try:
            relative = self.context.workspace.resolve().relative_to(root.resolve())
        except ValueError:
            return self._before.setdefault(key, set())
        with tempfile.TemporaryDirectory(prefix="acb-baseline-") as scratch:
            try:
                export_tree(root, tree, Path(scratch))
            except (AcbError, OSError):
                return self._before.setdefault(key, set())
            present = Selection(
                tuple(f for f in selection.files if (Path(scratch) / relative / f).is_file())
            )
            if selection and not present:
                return self._before.setdefault(key, set())  # the selected tests are all new
            # Shown at the workspace's own path: a project installed editable imports from
            # there, and must find the tree as it was, not the run's change.
            report = self._run(
                command,
                self.context.workspace,
                present,
                self.budget_s or self.context.test_timeout_s,
                content=Path(scratch) / relative,
            )
        if report.timed_out:
            return None
        return self._before.setdefault(key, set(_names(report)))

    def _record(
        self,
        report: TestReport | None,
        preexisting: list[str],
        verdict: str,
        selection: Selection | None = None,
    ) -> None:
        self.emit(
            TestsChecked(
                command=report.command if report else "",
                passed=len(report.passed) if report else 0,
                failed=_names(report) if report else [],
                preexisting=preexisting,
                verdict=verdict,
                selected=list(selection.files) if selection else [],
                duration_s=round(report.duration_s, 2) if report else 0.0,
            )
        )


def _partly(report: TestReport, selection: Selection, total: int, why_not: str) -> Verification:
    """The chosen tests passed; the whole suite `why_not` (was not run ..., did not finish)."""
    reasons = sorted(set(selection.reasons.values()))[:3]
    why = f"; chosen as {', '.join(reasons)}" if reasons else ""
    rest = f"the whole suite ({total} test files) {why_not}"
    return Verification(
        "partly-verified",
        f"{_counts(report)} in {selection.describe()}{why}; {rest}",
        selection.files,
    )


def _runnable_by_django(selection: Selection) -> Selection:
    """The selection less the files Django's runner would leave out (`django_aborts`), so that
    what is said to have run is what ran."""
    kept = tuple(f for f in selection.files if not django_aborts(f))
    if not kept or len(kept) == len(selection.files):
        return selection
    return Selection(kept, {f: selection.reasons[f] for f in kept if f in selection.reasons})


def _ran_nothing(verdict: GateVerdict | None, report: TestReport) -> bool:
    """A run the gate is done with (nothing to send back) in which no test passed: it failed
    as a whole, the same as before the run, so it proves nothing either way."""
    done = verdict is not None and verdict.feedback is None and verdict.failure is None
    return done and not report.passed and not report.timed_out


def _combined(first: TestReport, second: TestReport) -> TestReport:
    """Two passing runs of parts of one selection, as one (for the verification's counts and
    the estimate of the whole suite's time)."""
    selectors = " ".join(s for s in (first.selector, second.selector) if s)
    return replace(
        first,
        cases=[*first.cases, *second.cases],
        duration_s=first.duration_s + second.duration_s,
        selector=selectors or None,
    )


def _counts(report: TestReport) -> str:
    if report.cases:
        return f"{len(report.passed)} passed, {len(report.failures)} failed"
    return f"exit status {report.exit_code}, no per-test results"


def _names(report: TestReport) -> list[str]:
    """What failed: the failing tests, or the run as a whole when it failed with none to name
    (no per-test results, or a runner that died after its passing tests: Django's aborts)."""
    if report.failures:
        return [case.name for case in report.failures]
    if report.exit_code not in (0, None):
        return [WHOLE_SUITE]
    return []


def _feedback(report: TestReport, new: list[str], before: set[str]) -> str:
    """The failing tests as the model can act on them: each named as run_tests takes it (a
    pytest node id, a unittest or Django label), and the selector that reruns just them."""
    fresh = replace(
        report,
        cases=[c for c in report.failures if c.name in new] or [CaseResult(WHOLE_SUITE, "failed")],
    )
    old = f"\n({len(before)} other tests were already failing before your change; ignore those.)"
    named = [n for n in new if n != WHOLE_SUITE]
    rerun = "run them with run_tests"
    if report.runner in SELECTING_RUNNERS and named and len(named) <= RERUN_NAMED:
        rerun = f'rerun them with run_tests (selector "{" ".join(named)}")'
    return (
        "Before you finish: the project's tests fail after your change, and these passed "
        "before it:\n"
        + failure_digest(fresh)
        + (old if before else "")
        + f"\nFix the code (or the tests, if the new behaviour is intended), {rerun}, then "
        "finish."
    )
