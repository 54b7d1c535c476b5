"""Line and branch coverage of a Python project's own code, measured with coverage.py.

The tests run under `python -m coverage run --branch` in the sandbox, writing the data file to
a directory lent for that one command; the numbers are then read in-process with coverage's
API, so the percentages are exactly the ones `coverage report` would print.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from autocodebase.quality.detect import TestCommand
from autocodebase.quality.results import TestReport, parse_junit, parse_output
from autocodebase.sandbox.gate import CommandGate

TEST_PATTERNS = (
    "tests/*",
    "test/*",
    "*/tests/*",
    "test_*.py",
    "*/test_*.py",
    "*_test.py",
    "conftest.py",
    "*/conftest.py",
)


@dataclass(frozen=True)
class FileCoverage:
    path: str
    statements: int
    missing_lines: list[int]
    branches: int
    missing_branches: list[tuple[int, int]]

    @property
    def covered(self) -> int:
        return (
            self.statements - len(self.missing_lines) + self.branches - len(self.missing_branches)
        )

    @property
    def total(self) -> int:
        return self.statements + self.branches


@dataclass
class Coverage:
    files: dict[str, FileCoverage] = field(default_factory=dict)
    percent: float = 0.0
    """coverage.py's own total (lines and branches), as `coverage report` prints it."""
    report: TestReport | None = None

    @property
    def covered(self) -> int:
        return sum(f.covered for f in self.files.values())

    @property
    def total(self) -> int:
        return sum(f.total for f in self.files.values())

    def uncovered_segments(self, path: str) -> list[tuple[int, int]]:
        """Runs of consecutive missing lines (and lines with a missing branch), as ranges."""
        found = self.files.get(path)
        if found is None:
            return []
        lines = sorted(set(found.missing_lines) | {src for src, _ in found.missing_branches})
        segments: list[tuple[int, int]] = []
        for line in lines:
            if segments and line <= segments[-1][1] + 1:
                segments[-1] = (segments[-1][0], line)
            else:
                segments.append((line, line))
        return segments


class CoverageUnavailable(Exception):
    """coverage.py is not installed in the project's environment, or the run produced no data."""


def measure(
    workspace: Path,
    gate: CommandGate,
    env: Mapping[str, str],
    timeout_s: int,
    tests: list[str] | None = None,
    python: str = "python",
) -> Coverage:
    """Run pytest (on `tests`, default all) under coverage and read the result."""
    with tempfile.TemporaryDirectory(prefix="acb-coverage-") as scratch:
        data = Path(scratch) / "coverage.data"
        omit = ",".join(TEST_PATTERNS)
        under_coverage = TestCommand(
            "pytest",
            f"{python} -m coverage run --branch --data-file={data} --source=. --omit='{omit}' "
            "-m pytest -q",
            "acb tests",
        )
        # The same pytest invocation as any test run: its JUnit report lands in `scratch` too.
        command, _ = under_coverage.invocation(scratch, " ".join(tests) if tests else None)
        junit = Path(scratch) / "junit.xml"
        outcome = gate.run(command, workspace, env, timeout_s, extra_writable=(Path(scratch),))
        if "No module named coverage" in outcome.output:
            raise CoverageUnavailable(
                "coverage.py is not installed in the project's environment (pip install coverage)"
            )
        cases = parse_junit([junit]) or parse_output(outcome.output)
        report = TestReport(
            runner="pytest",
            command=command,
            exit_code=outcome.exit_code,
            cases=cases,
            source="junit",
            output_tail=outcome.output[-4000:],
            timed_out=outcome.timed_out,
            duration_s=outcome.duration_s,
            refused=outcome.refused,
        )
        if not data.exists():
            raise CoverageUnavailable(f"no coverage data: {report.summary()}")
        return _read(data, workspace, report)


def _read(data: Path, workspace: Path, report: TestReport) -> Coverage:
    import coverage

    # config_file=False: reading runs on the host, and a repository's .coveragerc (or
    # setup.cfg, pyproject.toml) may name plugins, which coverage imports as it loads.
    cov = coverage.Coverage(data_file=str(data), config_file=False)
    cov.load()
    json_path = data.with_suffix(".json")
    cov.json_report(outfile=str(json_path), pretty_print=False)
    import json

    raw = json.loads(json_path.read_text())
    files: dict[str, FileCoverage] = {}
    for name, entry in raw.get("files", {}).items():
        # coverage names files relative to the reporting process's directory, or absolute.
        path = Path(name) if Path(name).is_absolute() else Path.cwd() / name
        try:
            relative = path.resolve().relative_to(workspace.resolve()).as_posix()
        except ValueError:
            continue
        summary = entry["summary"]
        files[relative] = FileCoverage(
            path=relative,
            statements=int(summary["num_statements"]),
            missing_lines=[int(n) for n in entry.get("missing_lines", [])],
            branches=int(summary.get("num_branches", 0)),
            missing_branches=[(int(a), int(b)) for a, b in entry.get("missing_branches", [])],
        )
    percent = float(raw.get("totals", {}).get("percent_covered", 0.0))
    return Coverage(files=files, percent=percent, report=report)
