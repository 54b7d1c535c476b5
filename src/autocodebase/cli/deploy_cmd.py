"""`acb deploy`: blue/green releases on this machine, verified on live traffic, rolled back
automatically when they do not hold up."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from autocodebase.cli.options import directory_option
from autocodebase.errors import UsageError


@click.command("deploy")
@directory_option("Project (default: current).")
@click.option(
    "--target",
    type=click.Choice(["local", "compose", "kubernetes"]),
    default="local",
    show_default=True,
    help="local: supervised releases behind a loopback proxy; compose/kubernetes: write the "
    "artefacts (Dockerfile, compose.yaml or k8s/app.yaml), validated.",
)
@click.option("--overwrite", is_flag=True, help="Replace existing artefacts (compose/kubernetes).")
@click.option(
    "--env",
    "env",
    default="default",
    show_default=True,
    help="Environment: the [env.NAME] table of .acb/deploy.toml.",
)
@click.option("--rev", default="HEAD", show_default=True, help="The commit to release.")
@click.option("--rollback", is_flag=True, help="Release the previous release again.")
@click.option("--status", "show_status", is_flag=True, help="What is live, and the history.")
@click.option("--stop", "stop_all", is_flag=True, help="Stop the proxy and every release.")
@click.option(
    "--network",
    is_flag=True,
    help="Let the sandboxed build reach a package index (default: offline).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def deploy_command(
    directory: Path,
    target: str,
    env: str,
    rev: str,
    rollback: bool,
    show_status: bool,
    stop_all: bool,
    as_json: bool,
    overwrite: bool,
    network: bool,
) -> int:
    """Release a commit: build it in .acb/releases/<sha> with its own virtualenv (in the
    sandbox), start it (in the sandbox) on a free port, wait for its health check, verify it on
    mirrored live traffic and probes (error rate, p95 latency, its /metrics), switch the proxy
    to it, watch it, and switch back if it fails. Configured by .acb/deploy.toml. Exit 1 when
    the release did not go live."""
    from autocodebase.cli.exec_cmd import settings_for
    from autocodebase.delivery.local import deploy, history, load_config, read_state, stop
    from autocodebase.vcs.git import GitError, git_root

    root = directory
    if git_root(root) is None:
        raise UsageError(f"{root} is not in a git repository")
    if sum((rollback, show_status, stop_all)) > 1:
        raise UsageError("give one of --rollback, --status and --stop")
    config = load_config(root, env)
    if target != "local":
        if rollback or show_status or stop_all:
            raise UsageError("--rollback, --status and --stop are for --target local")
        return _artefacts(root, config, target, overwrite, as_json)
    if show_status:
        state = read_state(root, config)
        report = {"state": state, "history": history(root, config)[-10:], "proxy": config.port}
        click.echo(json.dumps(report, indent=2) if as_json else _status_text(report), nl=False)
        return 0
    if stop_all:
        stopped = stop(root, config)
        click.echo("stopped" if stopped else "nothing was running")
        return 0
    if rollback:
        previous = read_state(root, config).get("previous")
        if not previous:
            raise UsageError("there is no previous release to roll back to")
        rev = previous["sha"]
    settings = settings_for(root)
    try:
        result = deploy(
            root,
            config,
            rev,
            settings.ledger_path,
            network or settings.network,
            unsandboxed=settings.sandbox_fallback == "none",
        )
    except GitError as error:
        raise UsageError(str(error)) from None
    if as_json:
        click.echo(json.dumps(vars(result), indent=2))
    elif result.outcome == "live":
        click.echo(
            f"{result.sha[:12]} is live on http://127.0.0.1:{config.port} "
            f"(release port {result.port}); {_measured(result.measured)}"
        )
    else:
        kept = "the previous release keeps serving" if result.outcome == "rolled-back" else ""
        click.echo(f"{result.sha[:12]} {result.outcome}: {result.reason}. {kept}".strip(), err=True)
    return 0 if result.outcome == "live" else 1


def _measured(measured: dict[str, Any]) -> str:
    keys = ("requests", "errors", "p95_ms", "mirrored")
    parts = [f"{k}={measured[k]}" for k in keys if k in measured]
    after = [f"{k}={measured['after_' + k]}" for k in keys if "after_" + k in measured]
    verified = "verified on mirrored traffic: " + ", ".join(parts) if parts else "first release"
    return verified + (("; after the switch: " + ", ".join(after)) if after else "")


def _status_text(report: dict[str, Any]) -> str:
    state = report["state"]
    active = state.get("active")
    lines = [
        f"live: {active['sha'][:12]} on port {active['port']} behind :{report['proxy']}"
        if active
        else "live: nothing"
    ]
    previous = state.get("previous")
    lines.append(f"previous: {previous['sha'][:12]}" if previous else "previous: none")
    for entry in report["history"]:
        reason = f" ({entry['reason']})" if entry.get("reason") else ""
        lines.append(f"{entry['at']}  {entry['sha'][:12]}  {entry['outcome']}{reason}")
    return "\n".join(lines) + "\n"


def _artefacts(root: Path, config: Any, target: str, overwrite: bool, as_json: bool) -> int:
    """Write what a container target needs, only once every validator passed."""
    from autocodebase.delivery.artefacts import UnsupportedProject, build
    from autocodebase.delivery.plan import detect_plan

    try:
        made = build(detect_plan(root), config, root, target)
    except UnsupportedProject as why:
        raise UsageError(str(why)) from None
    existing = [name for name in made.files if (root / name).exists()]
    if existing and not overwrite:
        raise UsageError(f"{', '.join(existing)} exist; pass --overwrite to replace them")
    if not made.problems:
        for name, text in made.files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "target": target,
                    "files": sorted(made.files),
                    "written": not made.problems,
                    "checked_by": made.checked_by,
                    "problems": made.problems,
                },
                indent=2,
            )
        )
    elif made.problems:
        click.echo(
            "acb deploy: not written, validation failed:\n" + "\n".join(made.problems), err=True
        )
    else:
        click.echo(f"written: {', '.join(sorted(made.files))}")
        for line in made.checked_by:
            click.echo(f"  validated {line}")
        click.echo("  (validated, not run: no container engine or cluster is used here)")
    return 1 if made.problems else 0
