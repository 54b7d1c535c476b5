"""Run a project's tests in the sandbox and read back what happened, test by test.

The runner's machine-readable report goes to a directory acb creates outside the workspace
and lends to the sandbox for this one command, so a test run leaves no files in the user's
tree. Under a read-only sandbox nothing can be written, so results come from the output.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path

from autocodebase.quality.detect import OUTPUT_FILE, TestCommand
from autocodebase.quality.results import (
    CaseResult,
    TestReport,
    parse_go_json,
    parse_junit,
    parse_output,
)
from autocodebase.sandbox.gate import CommandGate

OUTPUT_TAIL_CHARS = 6000


def run_test_command(
    command: TestCommand,
    workspace: Path,
    *,
    gate: CommandGate,
    env: Mapping[str, str],
    timeout_s: int,
    selector: str | None = None,
    content: Path | None = None,
) -> TestReport:
    """Run the tests (or the `selector`ed ones) and return per-test results; with `content`,
    on that directory's files shown at the workspace's path (`run_command` says why)."""
    with tempfile.TemporaryDirectory(prefix="acb-tests-") as scratch:
        report_dir = Path(scratch)
        writable = gate.policy.mode != "read-only"
        line, report = command.invocation(str(report_dir), selector)
        if not writable and report in ("junit", "output-file"):
            line, report = command.plain(selector), "output"
        outcome = gate.run(
            line,
            workspace,
            env,
            timeout_s,
            extra_writable=(report_dir,) if writable else (),
            content=content,
        )
        cases: list[CaseResult] = []
        source = "exit-status"
        output = outcome.output
        if report == "output-file":
            output = _read(report_dir / OUTPUT_FILE) or output
        output = _without(output, scratch)
        if report == "junit":
            found = sorted(report_dir.glob("*.xml"))
            cases, source = parse_junit(found, content or workspace, selector), "junit"
        elif report.startswith("junit:"):
            results = (content or workspace) / report[6:]
            cases, source = parse_junit(sorted(results.glob("*.xml"))), "junit"
        elif report == "go-json":
            cases, source = parse_go_json(outcome.output), "go-json"
        if not cases:
            cases, source = parse_output(output), "output"
        return TestReport(
            runner=command.runner,
            command=command.shown(selector),
            exit_code=outcome.exit_code,
            cases=cases,
            source=source if cases else "exit-status",
            output_tail=output[-OUTPUT_TAIL_CHARS:],
            timed_out=outcome.timed_out,
            duration_s=outcome.duration_s,
            refused=outcome.refused,
            selector=selector,
        )


def _without(output: str, scratch: str) -> str:
    """`output` less the lines naming acb's scratch directory (pytest's "generated xml file:
    /tmp/acb-tests-.../junit.xml"): a path that is gone once the tests ran, and that a model
    would only try to read."""
    if scratch not in output:
        return output
    return "".join(line for line in output.splitlines(keepends=True) if scratch not in line)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
