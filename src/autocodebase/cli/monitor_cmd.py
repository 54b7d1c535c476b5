"""`acb monitor`: how the live deployment is doing, and which release to blame."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from autocodebase.cli.options import directory_option
from autocodebase.errors import UsageError


@click.command("monitor")
@directory_option("Project (default: current).")
@click.option("--env", "env", default="default", show_default=True, help="Environment.")
@click.option("--window", default="15m", show_default=True, help="How far back: 90s, 15m, 2h.")
@click.option("-m", "--model", help="Also ask this model for a plain-language diagnosis.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def monitor_command(
    directory: Path, env: str, window: str, model: str | None, as_json: bool
) -> int:
    """Summarise the traffic the deploy proxy served (requests, errors, p95 latency, with
    terminal charts), the live release's own /metrics and the release history; anomalies are
    tied to the release that went live before them. After `acb deploy --stop`, the traffic
    record kept for six hours is shown, and the report says the deployment is stopped. Exit 1
    when there is an anomaly."""
    from autocodebase.cli.exec_cmd import settings_for
    from autocodebase.delivery.local import Supervisor, history, observed_config
    from autocodebase.delivery.monitor import gather, model_diagnosis, parse_window, render
    from autocodebase.models.base import ModelError

    root = directory
    try:
        window_s = parse_window(window)
    except ValueError as error:
        raise UsageError(str(error)) from None
    config = observed_config(root, env)
    supervisor = Supervisor(root, config)
    if not supervisor.alive() and not history(root, config):
        raise UsageError("nothing deployed here (start with `acb deploy`)")
    report = gather(supervisor, config, window_s)
    if model:
        from autocodebase.models.registry import build_model
        from autocodebase.models.retry import RetryPolicy

        settings = settings_for(root, {"model": model})
        try:
            retry = RetryPolicy.from_settings(settings)
            model_diagnosis(build_model(settings.model, settings), report, retry)
        except ModelError as error:
            click.echo(f"acb monitor: the model diagnosis failed ({error})", err=True)
    if as_json:
        click.echo(json.dumps(asdict(report), indent=2))
    else:
        click.echo(render(report), nl=False)
    return 1 if report.anomalies else 0
