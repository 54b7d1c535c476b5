"""`acb tests`: generate tests that earn their place, and report what they bought.

A recorded run like any other (ledger, checkpoint, `acb undo`, a commit with provenance);
every candidate's verdict is an event, and the record of earlier generations teaches the next
one (`quality.testgen_memory`): `--history` shows it, `--forget` sets it aside.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from autocodebase.cli.options import directory_option
from autocodebase.errors import UsageError


@click.command("tests")
@click.argument("paths", nargs=-1)
@directory_option()
@click.option("-m", "--model", help="PROVIDER/NAME, or replay:CASSETTE.")
@click.option(
    "--target-coverage",
    type=click.FloatRange(0, 100),
    default=100.0,
    show_default=True,
    help="Stop once total line+branch coverage reaches P percent.",
)
@click.option(
    "--max-rounds",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Rounds of asking the model for each target module.",
)
@click.option(
    "--mutation",
    is_flag=True,
    help="Also keep tests that kill surviving mutants, "
    "and report the mutation score before and after.",
)
@click.option("--json", "as_json", is_flag=True, help="Print events as JSON lines on stdout.")
@click.option("--commit/--no-commit", default=None, help="Commit the kept tests (default: on).")
@click.option(
    "--history",
    is_flag=True,
    help="Show what earlier generations here learned (per module: verdicts, strategy, lessons) "
    "and exit.",
)
@click.option(
    "--forget",
    is_flag=True,
    help="Set the record aside (for PATHS, or all): later generations start afresh. Nothing is "
    "deleted from the ledger.",
)
def tests_command(
    paths: tuple[str, ...],
    directory: Path,
    model: str | None,
    target_coverage: float,
    max_rounds: int,
    mutation: bool,
    as_json: bool,
    commit: bool | None,
    history: bool,
    forget: bool,
) -> int:
    """Generate tests for PATHS (Python modules; default: the least-covered ones)."""
    from autocodebase.agent.loop import RunResult
    from autocodebase.agent.runner import RunRequest, RunSession
    from autocodebase.cli.exec_cmd import _json_sink, settings_for
    from autocodebase.cli.render import HumanRenderer
    from autocodebase.ledger.store import LedgerReader
    from autocodebase.models.base import ModelError, Usage
    from autocodebase.models.registry import build_model
    from autocodebase.models.retry import RetryPolicy
    from autocodebase.quality.coverage import CoverageUnavailable
    from autocodebase.quality.testgen import TestGenerator
    from autocodebase.quality.testgen_memory import Memory
    from autocodebase.quality.verification import of_whole_suite
    from autocodebase.sandbox.environment import command_environment

    workspace = directory
    targets = []
    for raw in paths:
        target = (workspace / raw).resolve()
        if not target.is_file() or target.suffix != ".py":
            raise UsageError(f"{raw} is not a Python file in {workspace}")
        targets.append(target.relative_to(workspace).as_posix())
    if history and forget:
        raise UsageError("--history and --forget: one at a time")
    if history or forget:
        return _memory_command(workspace, targets, forget)
    settings = settings_for(workspace, {"model": model, "commit": commit})
    task = "acb tests " + " ".join([*paths, *(["--mutation"] if mutation else [])]).strip()
    sink: Any = _json_sink if as_json else HumanRenderer(sys.stderr)
    request = RunRequest(task, workspace, settings, build_model(settings.model, settings), [sink])
    with RunSession(request) as session:
        agent = session.agent
        agent.start("acb tests: coverage-guided test generation")
        generator = TestGenerator(
            workspace=workspace,
            model=request.model,
            gate=session.gate,
            env=command_environment(settings.env_allow),
            emit=session.bus.emit,
            timeout_s=settings.test_timeout_s,
            memory=Memory(
                LedgerReader(session.connection).test_memory(workspace),
                lambda: _has_hypothesis(session.gate, workspace, settings.env_allow),
            ),
            retry=RetryPolicy.from_settings(settings),
            on_model_call=agent.account_step,
        )
        result = RunResult("failed", "", 0, Usage(), None, None, "acb tests did not finish")
        try:
            report = generator.run(targets or None, target_coverage, max_rounds, mutation)
            for path in report.written:
                agent.file_calls.setdefault(path, []).append("acb-tests")
            proved = of_whole_suite(
                report.after.report, "; each kept test passed three runs in a row"
            )
            agent.verification = lambda: proved.record()
            if session.git is not None:
                session.git.verification = lambda: proved
            summary = render_report(report)
            result = RunResult("completed", summary, agent.steps, agent.usage, agent.cost, None)
        except (CoverageUnavailable, ModelError) as exc:
            result = RunResult("failed", "", agent.steps, agent.usage, agent.cost, None, str(exc))
        finally:
            agent.finish(result)
    if not as_json and result.final_message:
        click.echo(result.final_message)
    if result.error and not as_json:
        click.echo(f"acb tests: {result.error}", err=True)
    return result.exit_code


def _memory_command(workspace: Path, targets: list[str], forget: bool) -> int:
    """`--history` or `--forget`: the ledger only, no run."""
    from autocodebase.config import load_settings
    from autocodebase.ledger.store import LedgerReader, connect, forget_test_memory
    from autocodebase.quality.testgen_memory import Memory, history_lines

    connection = connect(load_settings(workspace).ledger_path)
    if forget:
        forget_test_memory(connection, workspace, targets or None)
        what = ", ".join(targets) if targets else "every module"
        click.echo(f"acb tests: the record for {what} no longer teaches later generations")
        return 0
    memory = Memory(LedgerReader(connection).test_memory(workspace), lambda: True)
    click.echo("\n".join(history_lines(memory, targets or None)))
    return 0


def _has_hypothesis(gate: Any, workspace: Path, env_allow: Any) -> bool:
    """Whether the project's Python can import hypothesis (property-based tests need it)."""
    from autocodebase.sandbox.environment import command_environment

    probe = gate.run(
        "python -c 'import hypothesis'", workspace, command_environment(env_allow), timeout_s=60
    )
    return bool(probe.exit_code == 0)


def render_report(report: Any) -> str:
    kept = [c for c in report.candidates if c.verdict == "kept"]
    rejected: dict[str, int] = {}
    for candidate in report.candidates:
        if candidate.verdict != "kept":
            rejected[candidate.category] = rejected.get(candidate.category, 0) + 1
    before, after = report.before, report.after
    lines = [
        f"coverage (lines+branches): {before.percent:.1f}% -> {after.percent:.1f}% "
        f"({before.covered}/{before.total} -> {after.covered}/{after.total})",
    ]
    if report.mutation_before is not None:
        lines.append(
            f"mutation score ({report.mutants} mutants): {report.mutation_before:.0%} -> "
            f"{report.mutation_after:.0%}"
        )
    reasons = ", ".join(f"{n} {c}" for c, n in sorted(rejected.items())) or "none"
    lines.append(f"candidates: {len(report.candidates)}; kept {len(kept)}; rejected: {reasons}")
    lines += [f"  kept for {c.target}: {c.reason}" for c in kept]
    lines.append("written: " + (", ".join(report.written) or "nothing"))
    return "\n".join(lines)
