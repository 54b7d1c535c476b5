"""What a run's tests proved about its change, said honestly in one line.

Three answers: `verified` (the whole suite ran to the end, and nothing that passed before
fails now), `partly-verified` (tests chosen for the change ran and passed, the whole suite did
not run: which tests, and why not the rest), `unverified` (why: no test command, the tests
timed out, the sandbox refused them, they fail, the gate was off). A timeout is never a pass.
The same words go to the summary, the `--json` events, the ledger and the commit's
`Acb-Verified:` trailer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from autocodebase.quality.results import TestReport

Status = Literal["verified", "partly-verified", "unverified"]


@dataclass(frozen=True)
class Verification:
    status: Status
    detail: str
    """One line: what ran and with what result, or why nothing proved the change."""
    tests: tuple[str, ...] = field(default_factory=tuple)
    """What ran: `(whole suite)` or the selected test files."""

    def line(self) -> str:
        """`verified (whole suite: 12 passed)`: for the summary and the commit trailer."""
        return f"{self.status} ({self.detail})"

    def record(self) -> dict[str, Any]:
        data = asdict(self)
        data["tests"] = list(self.tests)
        return data


def unverified(why: str) -> Verification:
    return Verification("unverified", why)


GATE_OFF = unverified("the test gate is off ([test] gate = false)")


def of_whole_suite(report: TestReport | None, extra: str = "") -> Verification:
    """What one run of the whole suite proves (`acb tests` measures coverage with one)."""
    if report is None or report.refused:
        why = report.refused if report is not None else "it did not run"
        return unverified(f"the tests could not run: {why}")
    if report.timed_out:
        return unverified(f"the whole suite timed out after {report.duration_s:.0f} s")
    if report.failures or report.exit_code not in (0, None):
        failing = ", ".join(c.name for c in report.failures[:5]) or f"exit {report.exit_code}"
        return unverified(f"tests fail: {failing}")
    counts = f"{len(report.passed)} passed" if report.cases else "exit status 0"
    return Verification("verified", f"whole suite: {counts}{extra}", ("(whole suite)",))
