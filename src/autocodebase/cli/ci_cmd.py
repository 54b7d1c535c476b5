"""`acb ci`: a CI workflow for the project, proven before it is written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from autocodebase.cli.options import directory_option
from autocodebase.errors import UsageError


@click.command("ci")
@directory_option("Project (default: current).")
@click.option(
    "--provider", type=click.Choice(["github", "gitlab"]), default="github", show_default=True
)
@click.option("--plan", "plan_only", is_flag=True, help="Print what was detected and stop.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--docs", is_flag=True, help="Also write docs/ci.md explaining the pipeline.")
@click.option("-m", "--model", help="Model that repairs (or writes) the workflow when needed.")
@click.option(
    "--rounds",
    type=click.IntRange(min=0),
    default=2,
    show_default=True,
    help="Repair rounds with the model.",
)
@click.option(
    "--network",
    is_flag=True,
    help="Let the local run of the steps use the network (fresh installs from the index).",
)
@click.option("--no-run", is_flag=True, help="Validate only; do not run the steps locally.")
@click.option("--overwrite", is_flag=True, help="Replace an existing workflow file.")
def ci_command(
    directory: Path,
    provider: str,
    plan_only: bool,
    as_json: bool,
    docs: bool,
    model: str | None,
    rounds: int,
    network: bool,
    no_run: bool,
    overwrite: bool,
) -> int:
    """Write the project's CI workflow from what its files say, validate it (schema, zizmor),
    run its install and test steps in the sandbox on a clean copy, and only then save it.
    Exit 1 when it could not be proven (nothing is written)."""
    from autocodebase.cli.exec_cmd import settings_for
    from autocodebase.delivery.ci import build_ci, ci_docs
    from autocodebase.delivery.ci_templates import NoTemplate, workflow_path
    from autocodebase.delivery.plan import detect_plan, render_plan
    from autocodebase.models.base import ModelError
    from autocodebase.vcs.git import git_text

    root = directory
    settings = settings_for(root, {"model": model})
    plan = detect_plan(root, settings.test_command)
    if plan_only:
        click.echo(json.dumps(plan.record(), indent=2) if as_json else render_plan(plan), nl=False)
        return 0
    target = root / workflow_path(provider)
    if target.exists() and not overwrite:
        raise UsageError(f"{workflow_path(provider)} exists; pass --overwrite to replace it")
    built_model = None
    if model:
        from autocodebase.models.registry import build_model

        built_model = build_model(settings.model, settings)
    branch = "main"
    if (root / ".git").exists():
        branch = git_text(root, "rev-parse", "--abbrev-ref", "HEAD").strip() or "main"
        branch = "main" if branch == "HEAD" else branch
    say = (lambda _: None) if as_json else _progress
    try:
        outcome = build_ci(
            root,
            plan,
            provider,
            built_model,
            rounds,
            network,
            settings.test_timeout_s,
            branch,
            not no_run,
            say,
        )
    except NoTemplate as why:
        raise UsageError(
            f"no template fits this project ({why}); give --model to have one written"
        ) from None
    except ModelError as error:
        click.echo(f"acb ci: the model could not be reached ({error}); nothing written", err=True)
        return 1
    written: list[str] = []
    if outcome.proven:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(outcome.text)
        written.append(outcome.path)
        if docs:
            (root / "docs").mkdir(exist_ok=True)
            (root / "docs/ci.md").write_text(ci_docs(plan, outcome))
            written.append("docs/ci.md")
    if as_json:
        click.echo(json.dumps(_record(outcome, written), indent=2))
    else:
        _report(outcome, written, no_run)
    return 0 if outcome.proven else 1


def _progress(result: Any) -> None:
    mark = "ok" if result.passed else f"FAILED (exit {result.exit_code})"
    click.echo(f"  ran {result.name}: {mark} in {result.duration_s:.1f} s", err=True)


def _report(outcome: Any, written: list[str], no_run: bool) -> None:
    for number, attempt in enumerate(outcome.attempts, start=1):
        verdict = "passed" if not attempt.problem else attempt.problem.splitlines()[0]
        click.echo(f"attempt {number} ({attempt.source}): {verdict}", err=True)
    if outcome.proof is not None:
        for item in outcome.proof.not_run:
            click.echo(f"  not run locally: {item}", err=True)
    if outcome.proven:
        how = "validated" if no_run else "validated and its steps passed locally"
        click.echo(f"{outcome.path}: {how}; written: {', '.join(written)}")
    else:
        problem = outcome.attempts[-1].problem if outcome.attempts else "nothing was tried"
        click.echo(f"acb ci: not written, the workflow could not be proven:\n{problem}", err=True)


def _record(outcome: Any, written: list[str]) -> dict[str, Any]:
    proof = outcome.proof
    return {
        "provider": outcome.provider,
        "path": outcome.path,
        "proven": outcome.proven,
        "written": written,
        "attempts": [{"source": a.source, "problem": a.problem} for a in outcome.attempts],
        "findings": [f.record() for f in outcome.findings],
        "steps": [
            {"name": r.name, "exit_code": r.exit_code, "duration_s": round(r.duration_s, 2)}
            for r in (proof.results if proof else [])
        ],
        "not_run": proof.not_run if proof else [],
        "usage": vars(outcome.usage),
    }
