"""The steps of `acb resolve`, in order: plan, run, push, open the pull request.

Kept apart from the command's options (`resolve_cmd.py`); each step says on stderr what it did,
and every failure is one line (`UsageError`, `ForgeError`).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from autocodebase.errors import UsageError

if TYPE_CHECKING:
    from autocodebase.forge.base import Issue
    from autocodebase.forge.pr_body import RunReport
    from autocodebase.forge.refs import ForgeRef
    from autocodebase.forge.tokens import Token


@dataclass
class Plan:
    """What `acb resolve` is about to do (`--dry-run` shows it and stops)."""

    issue: Issue
    ref: ForgeRef | None
    """The issue's forge reference; None for a task file."""
    root: Path
    base: str
    base_commit: str
    branch: str
    worktree: Path
    remote: str | None
    pr_on: ForgeRef | None
    """The project the pull request opens on; None: no pull request."""
    token: Token | None


@dataclass
class RunOutcome:
    run_id: str
    exit_code: int
    report: RunReport


def say(message: str) -> None:
    click.echo(f"acb resolve: {message}", err=True)


def make_plan(
    source: str,
    directory: Path,
    base: str | None,
    branch: str | None,
    remote: str | None,
    worktree: Path | None,
) -> Plan:
    """Read the issue (a forge call for a URL) and decide branch, worktree, remote and base."""
    from autocodebase.config import default_state_dir
    from autocodebase.forge.issues import branch_for, read_task_file
    from autocodebase.forge.refs import parse_forge_url
    from autocodebase.forge.tokens import find_token
    from autocodebase.vcs.git import git_root, git_text
    from autocodebase.vcs.push import push_url

    root = git_root(directory)
    if root is None:
        raise UsageError(f"{directory} is not in a git repository")
    ref: ForgeRef | None = None
    token: Token | None = None
    if "://" in source:
        ref = parse_forge_url(source)
        if ref.kind != "issue":
            raise UsageError(f"{source} is a pull/merge request, not an issue")
        token = find_token(ref.forge, ref.host)
        issue = _fetch_issue(ref, token)
        remote = remote or "origin"
    else:
        issue = read_task_file(Path(source).expanduser())
    pr_on = ref
    if ref is None and remote is not None:
        pr_on = _forge_of_remote(push_url(root, remote))
        token = find_token(pr_on.forge, pr_on.host) if pr_on else None
    elif remote is not None:
        push_url(root, remote)  # a missing remote is said now, before any run
    base = base or _current_branch(root)
    try:
        base_commit = git_text(root, "rev-parse", "--verify", f"{base}^{{commit}}")
    except Exception:
        raise UsageError(f"no branch or commit {base!r} in {root}") from None
    name = branch or branch_for(issue, ref is None)
    place = worktree or default_state_dir() / "worktrees" / root.name / name.replace("/", "-")
    return Plan(issue, ref, root, base, base_commit, name, place.resolve(), remote, pr_on, token)


def _fetch_issue(ref: ForgeRef, token: Token | None) -> Issue:
    from autocodebase.forge.clients import forge_for

    client = forge_for(ref, token)
    try:
        return client.issue(ref.number)
    finally:
        client.close()


def _forge_of_remote(url: str) -> ForgeRef | None:
    """The forge project a remote URL is on, when its host says (github.com, gitlab.*)."""
    from autocodebase.forge.refs import ForgeRef, remote_project

    found = remote_project(url)
    if found is None:
        return None
    host, project = found
    if host == "github.com":
        return ForgeRef("github", "https", host, project, 0, "change")
    if "gitlab" in host:
        return ForgeRef("gitlab", "https", host, project, 0, "change")
    return None


def _current_branch(root: Path) -> str:
    from autocodebase.vcs.git import git_text

    name = git_text(root, "rev-parse", "--abbrev-ref", "HEAD")
    if name == "HEAD":
        raise UsageError("HEAD is detached: name the branch to start from with --base BRANCH")
    return name


def show_plan(
    plan: Plan, model: str | None, draft: bool, no_pr: bool, sandbox_mode: str | None = None
) -> str:
    """The plan in words, for `--dry-run`."""
    sandbox = f"sandbox {sandbox_mode}, " if sandbox_mode else ""
    lines = [
        f"issue:    {plan.issue.title} ({plan.issue.web_url})",
        f"branch:   {plan.branch} from {plan.base} ({plan.base_commit[:12]})",
        f"worktree: {plan.worktree}",
        f"run:      acb exec with {model or 'the configured model'}, {sandbox}approvals never, "
        "test and review gates on, commit on",
    ]
    if plan.remote is None:
        lines.append("push:     none (a task file is pushed only with --remote)")
    else:
        lines.append(f"push:     {plan.branch} to {plan.remote}")
    if plan.pr_on is None or plan.remote is None or no_pr:
        lines.append("request:  none")
    else:
        kind = "merge request" if plan.pr_on.forge == "gitlab" else "pull request"
        lines.append(
            f"request:  {'draft ' if draft else ''}{kind} on {plan.pr_on.host}/"
            f"{plan.pr_on.project} into {plan.base}: {plan.issue.title!r}"
        )
    lines.append(f"token:    {plan.token.source if plan.token else 'none found'}")
    return "\n".join(lines)


def run_issue(plan: Plan, flags: dict[str, Any], as_json: bool) -> RunOutcome:
    """The worktree, then an `acb exec` run there on the issue; what its record says."""
    from autocodebase.agent.runner import RunRequest, execute
    from autocodebase.cli.exec_cmd import settings_for
    from autocodebase.cli.render import HumanRenderer
    from autocodebase.forge.issues import task_text
    from autocodebase.forge.pr_body import report_from_events
    from autocodebase.ledger.store import LedgerReader, connect
    from autocodebase.models.registry import build_model
    from autocodebase.signals import terminating_signals
    from autocodebase.vcs.worktree import add_worktree

    add_worktree(plan.root, plan.worktree, plan.branch, plan.base_commit)
    say(f"branch {plan.branch} in {plan.worktree}")
    settings = settings_for(plan.worktree, flags)
    model = build_model(settings.model, settings)
    secrets = {plan.token.source.replace(" ", "_").upper(): plan.token.value} if plan.token else {}
    sink = _json_sink if as_json else HumanRenderer(sys.stderr)
    text = task_text(plan.issue, plan.ref is None)
    request = RunRequest(text, plan.worktree, settings, model, [sink], secrets=secrets)
    with terminating_signals() as caught:
        run_id, result = execute(request)
    if caught.signum is not None:
        raise SystemExit(128 + caught.signum)
    connection = connect(settings.ledger_path)
    try:
        events = LedgerReader(connection).events(run_id)
    finally:
        connection.close()
    return RunOutcome(run_id, result.exit_code, report_from_events(run_id, events))


def _json_sink(event: dict[str, Any]) -> None:
    import json

    if not event.get("transient"):
        sys.stderr.write(json.dumps(event, ensure_ascii=False) + "\n")


def push(plan: Plan) -> None:
    from autocodebase.forge.deliver import push_to_forge

    assert plan.remote is not None
    url = push_to_forge(plan.worktree, plan.remote, plan.branch, plan.pr_on, plan.token)
    say(f"pushed {plan.branch} to {plan.remote} ({_shown(url)})")


def _shown(url: str) -> str:
    from autocodebase.redact import Redactor

    return Redactor().text(url)


def open_request(plan: Plan, outcome: RunOutcome, draft: bool) -> str:
    """The pull/merge request for the pushed branch; its URL."""
    from autocodebase.forge.deliver import change_body, open_change

    assert plan.pr_on is not None and plan.remote is not None
    closes = f"#{plan.issue.number}" if plan.ref is not None else None
    body = change_body(plan.worktree, plan.base_commit, outcome.report, closes, "acb resolve")
    opened = open_change(
        plan.pr_on, plan.token, plan.root, plan.remote, plan.branch, plan.base,
        plan.issue.title, body, draft,
    )  # fmt: skip
    kind = "merge request" if plan.pr_on.forge == "gitlab" else "pull request"
    say(f"opened {kind} !{opened.number}" if kind[0] == "m" else f"opened {kind} #{opened.number}")
    return opened.web_url
