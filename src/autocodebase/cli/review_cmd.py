"""`acb review`: the static gates on any change, then (when asked) the model's two-pass review,
for people, scripts and code-scanning UIs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from autocodebase.cli.options import directory_option
from autocodebase.config import BLOCK_ON


@click.command("review")
@click.argument("spec", required=False, metavar="[REV | BASE..HEAD]")
@directory_option("Repository (default: current).")
@click.option(
    "--uncommitted", is_flag=True, help="Review the uncommitted changes (and untracked files)."
)
@click.option(
    "--format",
    "output",
    type=click.Choice(["text", "json", "sarif", "markdown"]),
    default="text",
    show_default=True,
)
@click.option(
    "--fail-on",
    type=click.Choice(BLOCK_ON),
    default="high",
    show_default=True,
    help="Exit 1 when a finding is at least this severe.",
)
@click.option(
    "-m",
    "--model",
    help="Also review with this model (PROVIDER/NAME, or replay:CASSETTE); "
    "`[review] model = true` uses the configured one.",
)
@click.option("--no-model", is_flag=True, help="Static gates only, whatever the config says.")
@click.option(
    "--post",
    metavar="PR_URL",
    help="Also post the findings as a review on this GitHub pull request or GitLab merge "
    "request, each on its line (token: GITHUB_TOKEN/GH_TOKEN, gh's login, or GITLAB_TOKEN).",
)
@click.option(
    "--sarif",
    "sarif_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the findings as SARIF 2.1.0 to this file (for code scanning).",
)
def review_command(
    spec: str | None,
    directory: Path,
    uncommitted: bool,
    output: str,
    fail_on: str,
    model: str | None,
    no_model: bool,
    post: str | None,
    sarif_path: Path | None,
) -> int:
    """Review a change: ruff (bug rules), bandit, semgrep (acb's own rules), detect-secrets,
    shellcheck, workflow schema and zizmor, and a licence check, on the lines it adds or
    changes; then, with a model, a two-pass model review. Default: the uncommitted changes if
    any, else the last commit. Exit 1 per --fail-on; 3 when the model review or a gate's
    tool failed (which is printed; the other findings still are), so that a review that did
    not happen cannot pass a CI job as a clean one."""
    import tempfile

    from autocodebase.cli.exec_cmd import settings_for
    from autocodebase.errors import UsageError
    from autocodebase.models.base import ModelError
    from autocodebase.quality.review.changes import resolve
    from autocodebase.quality.review.findings import at_least, deduplicate
    from autocodebase.quality.review.render import FORMATS
    from autocodebase.quality.review.static import static_review, unavailable_gates
    from autocodebase.vcs.git import git_root

    if spec and uncommitted:
        raise UsageError("give a revision or --uncommitted, not both")
    if model and no_model:
        raise UsageError("give --model or --no-model, not both")
    target = _post_target(post) if post else None
    root = git_root(directory)
    if root is None:
        raise UsageError(f"{directory} is not in a git repository")
    settings = settings_for(root, {"model": model})
    use_model = not no_model and (model is not None or settings.review_model)
    model_failed = False
    with tempfile.TemporaryDirectory(prefix="acb-review-") as scratch:
        changes = resolve(root, spec, uncommitted, Path(scratch))
        review = static_review(changes, honour_suppressions=True)
        findings = review.findings
        if use_model:
            try:
                findings = deduplicate(findings + _model_findings(changes, settings))
            except ModelError as error:
                click.echo(f"acb review: the model review failed ({error}); static only", err=True)
                model_failed = True
    for why in [*unavailable_gates(), *review.failed]:
        click.echo(f"acb review: {why}", err=True)
    click.echo(FORMATS[output](findings, changes.label), nl=False)
    if sarif_path is not None:
        try:
            sarif_path.write_text(FORMATS["sarif"](findings, changes.label), encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write {sarif_path}: {exc.strerror or exc}") from None
    if target is not None:
        _post(target, findings, FORMATS["markdown"](findings, changes.label))
    if fail_on != "never" and at_least(findings, fail_on):
        return 1
    return 3 if model_failed or review.failed else 0


def _post_target(url: str) -> tuple[Any, Any]:
    """The pull/merge request `url` names and the token to post with, both checked before
    any review work is done."""
    from autocodebase.errors import UsageError
    from autocodebase.forge.refs import parse_forge_url
    from autocodebase.forge.tokens import find_token

    ref = parse_forge_url(url)
    if ref.kind != "change":
        raise UsageError(f"{url} is an issue; --post takes a pull or merge request URL")
    token = find_token(ref.forge, ref.host)
    if token is None:
        names = "GITLAB_TOKEN" if ref.forge == "gitlab" else "GH_TOKEN/GITHUB_TOKEN or `gh auth`"
        raise UsageError(f"posting a review needs a token: set {names}")
    return ref, token


def _post(target: tuple[Any, Any], findings: list[Any], summary: str) -> None:
    from autocodebase.forge.clients import forge_for

    ref, token = target
    client = forge_for(ref, token)
    try:
        posted = client.post_review(ref.number, summary, findings)
    finally:
        client.close()
    click.echo(
        f"acb review: posted to {posted.web_url}: {posted.comments} on their lines, "
        f"{posted.in_body} in the summary",
        err=True,
    )


def _model_findings(changes: Any, settings: Any) -> list[Any]:
    from autocodebase.models.registry import build_model
    from autocodebase.models.retry import RetryPolicy
    from autocodebase.quality.review.model_review import review_with_model

    retry = RetryPolicy.from_settings(settings)
    model = build_model(settings.model, settings)
    outcome = review_with_model(model, changes, settings.review_model_tokens, retry)
    diff = outcome.diff
    shown = (
        f"{len(diff.shown)} file(s) in full, {len(diff.summarised)} summarised, "
        f"{len(diff.omitted)} listed, {diff.tokens} tokens"
        if diff
        else "nothing to show"
    )
    click.echo(
        f"acb review: model review ({shown}): {outcome.proposed} proposed, "
        f"{len(outcome.findings)} kept, {len(outcome.dropped)} dropped; "
        f"{outcome.usage.input_tokens} tokens in, {outcome.usage.output_tokens} out",
        err=True,
    )
    for item, why in outcome.dropped:
        where = f"{item.get('file', '?')}:{item.get('line', '?')}"
        click.echo(f"  dropped {where}: {why}", err=True)
    return outcome.findings
