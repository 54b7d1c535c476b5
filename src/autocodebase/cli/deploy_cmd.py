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
    default=None,
    help="local: supervised releases behind a loopback proxy; compose/kubernetes: write the "
    "artefacts (Dockerfile, compose.yaml or k8s/app.yaml), validated. Default: the "
    "environment's `target` in .acb/deploy.toml (local when it has none).",
)
@click.option("--overwrite", is_flag=True, help="Replace existing artefacts (compose/kubernetes).")
@click.option(
    "--env",
    "env",
    multiple=True,
    help="Environment: the [env.NAME] table of .acb/deploy.toml (default: its top-level "
    "keys). Repeatable with --docs (default there: every environment).",
)
@click.option(
    "--docs",
    is_flag=True,
    help="Write docs/deploy.md: each environment's prerequisites, artefacts, commands "
    "(checked), settings and secrets (names only) and what verification measures.",
)
@click.option("--check", is_flag=True, help="With --docs: exit 1 if docs/deploy.md is stale.")
@click.option("--rev", default="HEAD", show_default=True, help="The commit to release.")
@click.option("--rollback", is_flag=True, help="Release the previous release again.")
@click.option(
    "--status",
    "show_status",
    is_flag=True,
    help="What is live, and the history (exit 0, also when nothing is deployed).",
)
@click.option(
    "--stop",
    "stop_all",
    is_flag=True,
    help="Stop the proxy and every release; recorded in the history (exit 0, also when "
    "nothing was running).",
)
@click.option(
    "--network",
    is_flag=True,
    help="Let the sandboxed build reach a package index (default: offline).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def deploy_command(
    directory: Path,
    target: str | None,
    env: tuple[str, ...],
    docs: bool,
    check: bool,
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
    from autocodebase.cli.deploy_docs import warn_if_stale, write_docs
    from autocodebase.cli.exec_cmd import settings_for
    from autocodebase.delivery.local import deploy, load_config, observed_config, read_state
    from autocodebase.vcs.git import GitError, git_root

    root = directory
    if git_root(root) is None:
        raise UsageError(f"{root} is not in a git repository")
    if docs:
        if rollback or show_status or stop_all or target:
            raise UsageError(
                "--docs writes the guide only: drop --rollback/--status/--stop/--target"
            )
        return write_docs(root, list(env), check, overwrite, as_json)
    if check:
        raise UsageError("--check is for --docs")
    if len(env) > 1:
        raise UsageError("give one --env (several only with --docs)")
    name = env[0] if env else "default"
    if sum((rollback, show_status, stop_all)) > 1:
        raise UsageError("give one of --rollback, --status and --stop")
    if target not in (None, "local") and (rollback or show_status or stop_all):
        raise UsageError("--rollback, --status and --stop are for --target local")
    if show_status:
        return _status(root, observed_config(root, name), as_json)
    if stop_all:
        return _stop(root, observed_config(root, name), as_json)
    config = load_config(root, name)
    target = target or config.target
    if target != "local":
        if rollback:
            raise UsageError(f"--rollback is for --target local; [{name}] is {target}")
        code = _artefacts(root, config, target, overwrite, as_json)
        warn_if_stale(root)
        return code
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
    warn_if_stale(root)
    return 0 if result.outcome == "live" else 1


def _measured(measured: dict[str, Any]) -> str:
    keys = ("requests", "errors", "p95_ms", "mirrored")
    parts = [f"{k}={measured[k]}" for k in keys if k in measured]
    after = [f"{k}={measured['after_' + k]}" for k in keys if "after_" + k in measured]
    verified = "verified on mirrored traffic: " + ", ".join(parts) if parts else "first release"
    return verified + (("; after the switch: " + ", ".join(after)) if after else "")


NOTHING_DEPLOYED = "nothing deployed here"


def _status(root: Path, config: Any, as_json: bool) -> int:
    """What is live and the last ten decisions. A project that never deployed (with or
    without a deploy.toml) gets one line saying so; exit 0 either way, since the question was
    answered (scripts read `--json`'s `deployed` and `state`)."""
    from autocodebase.delivery.local import CONFIG_FILE, Supervisor, history, read_state

    state = read_state(root, config)
    recent = history(root, config)[-10:]
    running = Supervisor(root, config).alive()
    report = {
        "state": state,
        "history": recent,
        "proxy": config.port if (root / CONFIG_FILE).is_file() else None,
        "running": running,
        "deployed": bool(state.get("active") or state.get("previous") or recent or running),
    }
    if as_json:
        click.echo(json.dumps(report, indent=2))
    elif not report["deployed"]:
        click.echo(NOTHING_DEPLOYED)
    else:
        click.echo(_status_text(report), nl=False)
    return 0


def _stop(root: Path, config: Any, as_json: bool) -> int:
    """Stop the supervisor and its releases; exit 0 also when there was nothing to stop."""
    from dataclasses import asdict

    from autocodebase.cli.exec_cmd import settings_for
    from autocodebase.delivery.local import stop

    stopped = stop(root, config, settings_for(root).ledger_path)
    release = stopped.release
    if as_json:
        click.echo(
            json.dumps(
                {
                    "stopped": stopped.supervisor or release is not None,
                    "release": asdict(release) if release else None,
                },
                indent=2,
            )
        )
    elif release is not None:
        click.echo(
            f"stopped: {release.sha[:12]} is no longer served; the traffic record is kept for "
            "six hours (acb monitor), and acb deploy --rollback serves it again"
        )
    elif stopped.supervisor:
        click.echo("stopped the proxy (no release was live)")
    else:
        click.echo(f"{NOTHING_DEPLOYED}: nothing to stop")
    return 0


def _status_text(report: dict[str, Any]) -> str:
    state = report["state"]
    active = state.get("active")
    last = report["history"][-1] if report["history"] else {}
    if active and report["running"]:
        live = f"live: {active['sha'][:12]} on port {active['port']} behind :{report['proxy']}"
    elif active:
        live = (
            f"live: nothing ({active['sha'][:12]} was live, but its supervisor is not running; "
            f"acb deploy --rev {active['sha'][:12]} serves it again)"
        )
    elif last.get("outcome") == "stopped":
        live = f"live: nothing (stopped at {last['at']})"
    else:
        live = "live: nothing"
    lines = [live]
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
