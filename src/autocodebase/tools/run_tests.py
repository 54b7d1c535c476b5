"""The `run_tests` tool: the project's own tests, run in the sandbox, read back test by test.

What the model gets is the verdict and, for failures, only what it needs to act: each failing
test, named as this tool's `selector` takes it back, where, the assertion and the last
traceback lines — not pages of log — under the command as the project would run it (not the
options acb adds to read results back).
"""

from __future__ import annotations

from autocodebase.sandbox.environment import command_environment
from autocodebase.tools.base import ToolContext, ToolError, ToolResult, tool
from autocodebase.tools.shell import MAX_TIMEOUT_S, default_gate


@tool
def run_tests(
    context: ToolContext, selector: str | None = None, timeout_s: int | None = None
) -> ToolResult:
    """Run the project's tests; failures come with location and traceback.

    Args:
        selector: Subset: names as reported, pytest ids, -k EXPR, or the runner's filter.
    """
    # The test machinery is imported by the first test run, not by every run's start.
    from autocodebase.quality.detect import detect
    from autocodebase.quality.results import failure_digest
    from autocodebase.quality.runner import run_test_command

    command = detect(context.workspace, context.test_command)
    if command is None:
        raise ToolError(
            "no test command found for this project; run the tests with shell, or ask the "
            "user to set [test] command in .acb/config.toml"
        )
    report = run_test_command(
        command,
        context.workspace,
        gate=context.commands or default_gate(context),
        env=context.env or command_environment(),
        # The user's setting caps what the model asks for, as for shell.
        timeout_s=min(timeout_s or context.test_timeout_s, context.test_timeout_s, MAX_TIMEOUT_S),
        selector=selector,
    )
    context.test_reports.append(report)
    data = {
        "command": report.command,
        "exit_code": report.exit_code,
        "source": report.source,
        "passed": len(report.passed),
        "failed": len(report.failures),
        "skipped": sum(1 for c in report.cases if c.outcome == "skipped"),
        "failing": [c.name for c in report.failures][:50],
        "timed_out": report.timed_out,
    }
    if report.refused:
        return ToolResult(report.refused, is_error=True, data=data)
    if report.ok:
        return ToolResult(f"tests passed: {report.summary()}", data=data)
    return ToolResult(failure_digest(report), data=data)
