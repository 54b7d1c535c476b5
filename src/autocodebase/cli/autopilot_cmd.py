"""`acb autopilot`: work the repository's task queue, each task through a run, its gates and
the merge decision the user chose; `status`, `approve`, `reject`, `pause`, `resume`.

Progress goes to stderr, the task table to stdout. Exit codes of a pass: 0 when every task is
done or waits on a person's approval (or the pass was paused or hit a budget), 1 when a task
stopped in `needs-person` during it, 2 for bad usage (a bad task file, an unknown task).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from autocodebase.cli.options import directory_option
from autocodebase.errors import UsageError

if TYPE_CHECKING:
    from autocodebase.autopilot.changes import ChangeGate
    from autocodebase.autopilot.deploy_local import LocalDeployer
    from autocodebase.autopilot.forge_tasks import ForgeTasks
    from autocodebase.autopilot.gates import Policy
    from autocodebase.autopilot.state import AutopilotState


def say(message: str) -> None:
    click.echo(f"acb autopilot: {message}", err=True)


def _open(directory: Path) -> tuple[Path, AutopilotState]:
    """The repository's root and its autopilot state in the run ledger."""
    from autocodebase.autopilot.state import AutopilotState
    from autocodebase.config import load_settings
    from autocodebase.ledger.store import connect
    from autocodebase.vcs.git import git_root

    root = git_root(directory)
    if root is None:
        raise UsageError(f"{directory} is not in a git repository")
    root = root.resolve()
    connection = connect(load_settings(root).ledger_path)
    return root, AutopilotState(connection, root)


@click.group("autopilot", invoke_without_command=True)
@directory_option("The repository (default: current).")
@click.option(
    "--source",
    type=click.Choice(["tasks", "github", "gitlab"]),
    default="tasks",
    show_default=True,
    help="Where tasks come from: .acb/tasks/*.md and .acb/tasks.toml, or the open issues "
    "with --label on the forge --remote points at (passed tasks become pull/merge requests).",
)
@click.option(
    "--label", default="acb", show_default=True, help="With a forge source: the issues' label."
)
@click.option(
    "--repo",
    metavar="OWNER/NAME",
    help="With a forge source: the project (GitLab: GROUP/.../PROJECT) on the remote's host, "
    "when it is not the remote's own.",
)
@click.option(
    "--remote",
    default="origin",
    show_default=True,
    help="With a forge source: the remote branches are pushed to (its host is the forge's).",
)
@click.option(
    "--merge",
    type=click.Choice(["ask", "auto", "never"]),
    default="ask",
    show_default=True,
    help="A branch that passed: merge it, wait for `approve`, or leave it.",
)
@click.option(
    "--accept",
    type=click.Choice(["verified", "partly-verified", "unverified"]),
    default="verified",
    show_default=True,
    help="The weakest verification that counts as passed.",
)
@click.option(
    "--deploy",
    type=click.Choice(["ask", "auto", "never"]),
    default="never",
    show_default=True,
    help="After a merge: release it (acb deploy, local target) and watch it, wait for "
    "`approve`, or leave it. An anomaly rolls it back and queues a fix task.",
)
@click.option(
    "--watch",
    "watch_s",
    type=click.FloatRange(min=1),
    default=60,
    show_default=True,
    help="With --deploy: seconds the monitor watches a release, at most.",
)
@click.option(
    "--watch-requests",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="With --deploy: end the watch early once the release served this many client "
    "requests without an anomaly (0: watch the whole --watch).",
)
@click.option("--base", metavar="BRANCH", help="Branch tasks start from and merge into.")
@click.option("--max-tasks", type=click.IntRange(min=1), help="Tasks to start, at most.")
@click.option("--max-cost", type=click.FloatRange(min=0), help="USD to spend, summed over runs.")
@click.option(
    "--max-attempts",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Runs a task gets before it needs a person.",
)
@click.option("--max-steps", type=click.IntRange(min=1), help="Model calls per run, at most.")
@click.option("--once", is_flag=True, help="Work what is ready and exit (for cron or CI).")
@click.option(
    "--poll",
    type=click.FloatRange(min=1),
    default=60,
    show_default=True,
    help="Without --once: seconds between looks at the queue.",
)
@click.option("-m", "--model", help="PROVIDER/NAME, as for acb exec.")
@click.option("--json", "as_json", is_flag=True, help="Run events as JSON lines on stderr.")
@click.pass_context
def autopilot_command(
    context: click.Context,
    directory: Path,
    source: str,
    label: str,
    repo: str | None,
    remote: str,
    merge: str,
    accept: str,
    deploy: str,
    watch_s: float,
    watch_requests: int,
    base: str | None,
    max_tasks: int | None,
    max_cost: float | None,
    max_attempts: int,
    max_steps: int | None,
    once: bool,
    poll: float,
    model: str | None,
    as_json: bool,
) -> int:
    """Work the task queue: each task on its own branch and worktree, an `acb exec` run with
    the gates on, the CI workflow proven on the branch, then merged, waiting for approval, or
    left, per --merge. Every decision is in the ledger; run it again and it continues."""
    context.obj = directory
    if context.invoked_subcommand is not None:
        return 0
    from autocodebase.autopilot.gates import Policy

    if source != "tasks" and deploy != "never":
        raise UsageError(
            f"--deploy releases local merges; with --source {source} merges happen on the forge"
        )
    if deploy != "never" and merge == "never":
        raise UsageError(f"--deploy {deploy} releases merges, and --merge never merges nothing")
    policy = Policy(merge, accept, deploy, max_attempts, max_tasks, max_cost)  # type: ignore[arg-type]
    watch = (watch_s, watch_requests)
    forge = (source, label, repo, remote) if source != "tasks" else None
    return _run(directory, policy, base, model, max_steps, once, poll, as_json, watch, forge)


def _run(
    directory: Path,
    policy: Policy,
    base: str | None,
    model: str | None,
    max_steps: int | None,
    once: bool,
    poll: float,
    as_json: bool,
    watch: tuple[float, int],
    forge: tuple[str, str, str | None, str] | None = None,
) -> int:
    from autocodebase.autopilot.ci_check import prove_branch
    from autocodebase.autopilot.lock import Busy, WorkspaceLock
    from autocodebase.autopilot.loop import Autopilot
    from autocodebase.autopilot.tasks import LocalTasks, Source
    from autocodebase.cli.autopilot_run import ResolveRunner
    from autocodebase.cli.resolve_flow import _current_branch
    from autocodebase.config import default_state_dir
    from autocodebase.forge.http import ForgeError

    root, state = _open(directory)
    base = base or _current_branch(root)
    runner = ResolveRunner(root, model, as_json, max_steps)
    tasks: Source = LocalTasks(root)
    changes = None
    if forge is not None:
        tasks, changes = _forge_source(root, state, forge)
        runner.forge, runner.token = changes.project, changes.token
    else:
        tasks.tasks()  # a bad task file: one line and exit 2, before anything else
    deployer = _deployer(root, watch) if policy.deploy != "never" else None
    worktrees = default_state_dir() / "worktrees" / root.name
    pilot = Autopilot(
        root, base, state, tasks, policy, runner, prove_branch, worktrees, say, deployer, changes
    )
    try:
        with WorkspaceLock(default_state_dir(), root):
            pilot.recover()
            while True:
                try:
                    summary = pilot.run_pass()
                except ForgeError as exc:
                    if once:
                        raise
                    say(f"the forge did not answer this pass ({exc}); trying again later")
                    time.sleep(poll)
                    continue
                if summary.stopped:
                    say(f"stopped: {summary.stopped}")
                if once:
                    click.echo(render_table(state))
                    return 1 if summary.failed else 0
                time.sleep(poll)
    except Busy as busy:
        say(f"another autopilot is working in {root} (pid {busy}); leaving it to that one")
        return 0


def _forge_source(
    root: Path, state: AutopilotState, forge: tuple[str, str, str | None, str]
) -> tuple[ForgeTasks, ChangeGate]:
    """The issues source and the pull/merge request gate for `--source github|gitlab`; a bad
    remote, project, label or a missing token is one line and exit 2, before any run."""
    from autocodebase.autopilot.changes import ChangeGate
    from autocodebase.autopilot.forge_tasks import ForgeTasks, forge_project

    kind, label, repo, remote = forge
    project, token = forge_project(root, kind, remote, repo)  # type: ignore[arg-type]
    source = ForgeTasks(project, token, label)
    return source, ChangeGate(root, state, project, token, remote, say)


def _deployer(root: Path, watch: tuple[float, int]) -> LocalDeployer:
    """`acb deploy --target local`'s machinery for the default environment, configured once
    now (a bad or missing .acb/deploy.toml is one line and exit 2, before any task runs)."""
    from autocodebase.autopilot.deploy_local import LocalDeployer
    from autocodebase.cli.exec_cmd import settings_for
    from autocodebase.delivery.local import load_config

    config = load_config(root)
    if config.target != "local":
        raise UsageError(
            f"--deploy releases to the local target; .acb/deploy.toml's target is {config.target}"
        )
    settings = settings_for(root)
    return LocalDeployer(
        root,
        config,
        settings.ledger_path,
        network=settings.network,
        unsandboxed=settings.sandbox_fallback == "none",
        watch_s=watch[0],
        watch_requests=watch[1],
    )


@autopilot_command.command("status")
@click.argument("task", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def status_command(directory: Path, task: str | None, as_json: bool) -> int:
    """Each task's state, attempts, cost, run and the reason; with TASK, its history."""
    from dataclasses import asdict

    _root, state = _open(directory)
    if task is not None:
        record = state.require(task)
        history = state.history(task)
        if as_json:
            data = {**asdict(record), "history": [asdict(t) for t in history]}
            click.echo(json.dumps(data, indent=2))
            return 0
        click.echo(render_task(record, history))
        return 0
    if as_json:
        paused = state.paused()
        records = [asdict(r) for r in state.all()]
        click.echo(json.dumps({"paused": paused, "tasks": records}, indent=2))
        return 0
    _sync(_root, state)
    click.echo(render_table(state))
    return 0


def _sync(root: Path, state: AutopilotState) -> None:
    """Record task files added since the last pass, so status shows them queued; a bad one is
    said, not fatal, here."""
    from autocodebase.autopilot.tasks import LocalTasks, TaskFileError

    try:
        state.sync(LocalTasks(root).tasks())
    except TaskFileError as exc:
        say(f"warning: {exc}")


@autopilot_command.command("approve")
@click.argument("task")
@click.pass_obj
def approve_command(directory: Path, task: str) -> int:
    """A person's yes to a task that waits: merge its branch into its base, or, when it
    waits for its release, let the next pass release it."""
    from autocodebase.autopilot.loop import approve

    root, state = _open(directory)
    click.echo(f"{task}: {approve(state, root, task)}")
    return 0


@autopilot_command.command("reject")
@click.argument("task")
@click.option("--why", default="", help="The reason, kept in the ledger.")
@click.pass_obj
def reject_command(directory: Path, task: str, why: str) -> int:
    """Stop TASK for good; its branch stays for reference."""
    from autocodebase.autopilot.loop import reject

    _root, state = _open(directory)
    click.echo(f"{task}: {reject(state, task, why)}")
    return 0


@autopilot_command.command("pause")
@click.option("--why", default="", help="The reason, shown by status.")
@click.pass_obj
def pause_command(directory: Path, why: str) -> int:
    """Stop starting tasks (a running one finishes first)."""
    _root, state = _open(directory)
    state.set_paused(True, why or "paused by a person")
    click.echo("autopilot paused: no new task starts until `acb autopilot resume`")
    return 0


@autopilot_command.command("resume")
@click.pass_obj
def resume_command(directory: Path) -> int:
    """Let the autopilot start tasks again."""
    _root, state = _open(directory)
    state.set_paused(False, "")
    click.echo("autopilot resumed")
    return 0


def render_table(state: AutopilotState) -> str:
    """The status table: one line a task, with the reason for its state."""
    records = state.all()
    paused = state.paused()
    head = f"autopilot in {state.workspace}: " + (f"paused ({paused})" if paused else "active")
    if not records:
        return head + "\nno tasks yet (.acb/tasks/*.md or .acb/tasks.toml)"
    width = max(len(r.id) for r in records)
    lines = [head, f"{'TASK':<{width}}  {'STATE':<17}  TRIES  {'COST':>8}  RUN / REASON"]
    for r in records:
        cost = f"${r.cost_usd:.4f}"
        cells = f"{r.id:<{width}}  {r.state:<17}  {r.attempts:>5}  {cost:>8}"
        lines.append(f"{cells}  {r.run_id or '-'}: {r.reason}")
    return "\n".join(lines)


def _release_line(record: Any) -> str:
    if record.release_sha is None:
        return "-" if record.deploy in (None, "never") else f"none yet (--deploy {record.deploy})"
    over = f" over {record.previous_sha[:12]}" if record.previous_sha else ""
    return f"{record.release_sha[:12]}{over}, released {record.releases} time(s)"


def render_task(record: Any, history: list[Any]) -> str:
    lines = [
        f"task:         {record.id}: {record.title}",
        f"state:        {record.state} ({record.reason})",
        f"branch:       {record.branch} from {record.base or '-'}",
        f"worktree:     {record.worktree or '-'}",
        f"attempts:     {record.attempts}",
        f"last run:     {record.run_id or '-'} ({record.verification or 'no verification'})",
        f"commit:       {record.commit_sha or '-'}",
        f"release:      {_release_line(record)}",
        f"cost:         ${record.cost_usd:.4f}",
    ]
    if record.fixes is not None:
        lines.append(f"fixes:        the rolled-back release of {record.fixes}; its text:")
        lines += [f"  {line}" for line in (record.text or "").splitlines()]
    lines.append("history:")
    for step in history:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(step.at))
        run = f" [run {step.run_id}]" if step.run_id else ""
        lines.append(f"  {when}  {step.from_state or '-'} -> {step.to_state}{run}: {step.reason}")
    return "\n".join(lines)
