"""`acb ci`'s engine: write a workflow (template, or the model when no template fits), then prove
it — validate (schema, zizmor) and run its steps locally — and when either fails, show the model
the failure and take its corrected file, for a bounded number of rounds. Nothing is trusted, or
written to the project, before it has passed both.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from autocodebase.delivery.ci_templates import (
    NoTemplate,
    known_pins,
    pin_lines,
    render,
    workflow_path,
)
from autocodebase.delivery.plan import ProjectPlan, render_plan
from autocodebase.delivery.prove import Proof, StepResult, prove
from autocodebase.models.base import Message, Model, Usage
from autocodebase.models.retry import RetryPolicy, call_with_retries
from autocodebase.quality.model_text import fences, strip_thinking
from autocodebase.quality.review.findings import Finding
from autocodebase.quality.review.workflows import validate

SYSTEM = """You write and repair CI configuration. Rules: pin every third-party action to a full
commit SHA; least privilege (`permissions: contents: read`); `persist-credentials: false` on
checkout; never expand ${{ ... }} expressions inside `run:` scripts (pass them through `env:`);
a timeout on every job. Reply with the whole file in one ```yaml block and nothing else."""


@dataclass
class Attempt:
    source: str
    """template, model or model-repair."""
    problem: str = ""
    """Why it was not good enough; empty for the one that passed."""


@dataclass
class CiOutcome:
    provider: str
    path: str
    text: str = ""
    proof: Proof | None = None
    findings: list[Finding] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)

    @property
    def proven(self) -> bool:
        return bool(self.attempts) and not self.attempts[-1].problem


def build_ci(
    root: Path,
    plan: ProjectPlan,
    provider: str,
    model: Model | None = None,
    rounds: int = 2,
    network: bool = False,
    timeout_s: int = 900,
    branch: str = "main",
    run_steps: bool = True,
    on_step: Callable[[StepResult], None] | None = None,
) -> CiOutcome:
    outcome = CiOutcome(provider, workflow_path(provider))
    try:
        text, source = render(plan, provider, branch), "template"
    except NoTemplate as why:
        if model is None:
            raise
        text, source = _ask(model, outcome, _draft_prompt(plan, provider, str(why))), "model"
    for round_number in range(rounds + 1):
        attempt = Attempt(source)
        outcome.attempts.append(attempt)
        outcome.text = text
        outcome.findings = _validate(outcome.path, text) + unknown_actions(text, outcome.path)
        if outcome.findings:
            attempt.problem = "validation failed:\n" + "\n".join(
                f"- line {f.line}: [{f.tool} {f.rule}] {f.message}" for f in outcome.findings
            )
        elif run_steps:
            outcome.proof = prove(root, outcome.path, text, provider, network, timeout_s, on_step)
            attempt.problem = outcome.proof.failure()
        if not attempt.problem or model is None or round_number == rounds:
            return outcome
        text = _ask(model, outcome, _repair_prompt(plan, provider, text, attempt.problem))
        source = "model-repair"
    return outcome


USES = re.compile(r"^\s*(?:-\s*)?uses:\s*['\"]?([^@'\"\s]+)@([^'\"\s#]+)")
"""A step's `uses: owner/action@ref` (quoted or not, a comment after it)."""


def _validate(path: str, text: str) -> list[Finding]:
    """Schema and zizmor findings at medium or above, on the file in a scratch directory."""
    with tempfile.TemporaryDirectory(prefix="acb-ci-validate-") as scratch:
        target = Path(scratch) / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        return validate(Path(scratch), [path], fail_at="medium")


def unknown_actions(text: str, path: str = "") -> list[Finding]:
    """`uses:` lines acb cannot vouch for: an action it knows at another ref (a tag, or a SHA
    a model made up, which the schema and zizmor both accept), or an action it does not know."""
    pins = known_pins()
    findings = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = USES.match(line)
        if match is None or match.group(1).startswith(("./", "docker://")):
            continue
        action, ref = match.group(1), match.group(2)
        if pins.get(action) == ref:
            continue
        known = f"use {action}@{pins[action]}" if action in pins else "use one of the known actions"
        findings.append(
            Finding(
                tool="acb",
                rule="unknown-action-pin",
                severity="high",
                file=path,
                line=number,
                message=f"{action}@{ref} is not a commit acb knows to exist: {known}",
            )
        )
    return findings


def _ask(model: Model, outcome: CiOutcome, prompt: str) -> str:
    messages = [Message("system", SYSTEM), Message("user", prompt)]
    response = call_with_retries(lambda: model.complete(messages, []), RetryPolicy())
    outcome.usage = outcome.usage + response.usage
    answer = strip_thinking(response.message.content)
    blocks = [f.body for f in fences(answer) if f.language in ("", "yaml", "yml")]
    return blocks[0] if blocks else answer


def _draft_prompt(plan: ProjectPlan, provider: str, why: str) -> str:
    return (
        f"Write the {provider} CI file ({workflow_path(provider)}) for this project. The "
        f"templates do not cover it: {why}.\n\nWhat acb found in the project:\n"
        f"{render_plan(plan)}\n\nPin actions to these commits, the only ones acb knows to "
        f"exist:\n{pin_lines()}"
    )


def _repair_prompt(plan: ProjectPlan, provider: str, text: str, problem: str) -> str:
    return (
        f"This {provider} CI file ({workflow_path(provider)}) did not pass. Fix it.\n\n"
        f"The problem:\n{problem}\n\nThe file:\n```yaml\n{text}```\n\n"
        f"What acb found in the project:\n{render_plan(plan)}\n\n"
        f"Actions must be pinned to these commits, the only ones acb knows to exist:\n"
        f"{pin_lines()}"
    )


def ci_docs(plan: ProjectPlan, outcome: CiOutcome) -> str:
    """docs/ci.md: what the pipeline does, why it is shaped that way, and how it was proven."""
    proof = outcome.proof
    steps = (
        "\n".join(
            f"{n}. **{r.name}**: `{r.script.splitlines()[0]}`"
            for n, r in enumerate(proof.results, start=1)
        )
        if proof
        else "(the steps were not run locally)"
    )
    lang = plan.primary
    toolchain = f"{lang.name} {lang.version} ({lang.version_source})" if lang else "unknown"
    not_run = "\n".join(f"- {item}" for item in (proof.not_run if proof else [])) or "- nothing"
    return f"""# Continuous integration

`{outcome.path}` runs on every push to the default branch and on every pull request
({outcome.provider}). It was written by `acb ci` from what the project's own files say
(`acb ci --plan` prints it) and proven before it was saved: validated against the
{outcome.provider} schema and by zizmor (workflow security), and its steps run on a clean copy
of the repository in acb's sandbox.

## What it does

Toolchain: {toolchain}; package manager: {lang.package_manager if lang else "unknown"}.
Services: {", ".join(plan.services) or "none"}.

{steps}

The test step is the project's own test command (`{plan.test_command}`, found from
{plan.test_reason or "the project's files"}); a red test fails the pipeline.

## Why it looks like this

- Actions are pinned to full commit SHAs (a moved tag cannot change what runs), the job token
  is read-only (`permissions: contents: read`), checkout does not keep credentials on disk, and
  no `${{{{ }}}}` expression is expanded inside a script (no template injection).
- Every job has a timeout; a newer push cancels the run it replaces.

## What the local proof could not run

{not_run}

## Changing it

Edit the file by hand, or change the project (dependencies, test command, `[test] command` in
`.acb/config.toml`) and run `acb ci --overwrite` again: it proves the new file before writing it.
"""
