"""`acb serve`: the dashboard over the run ledger, in a browser."""

from __future__ import annotations

from pathlib import Path

import click

MIN_TOKEN = 16
"""Characters of a token chosen in ACB_SERVE_TOKEN (a generated one has 32)."""


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.option("--open", "open_browser", is_flag=True, help="Open the dashboard in a browser.")
@click.option(
    "--evaluations",
    "evaluations",
    multiple=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="An output folder of acb eval or acb batch to show (repeatable).",
)
def serve_command(host: str, port: int, open_browser: bool, evaluations: tuple[Path, ...]) -> None:
    """Show every run, change, verdict and deployment in a browser (read-only).

    Bound to loopback by default. On any other address a token is required on every request:
    ACB_SERVE_TOKEN, or one generated and printed here."""
    import os
    import secrets
    import socket
    import webbrowser

    import uvicorn

    from autocodebase.config import load_settings
    from autocodebase.errors import UsageError
    from autocodebase.serve.app import Settings, create_app
    from autocodebase.serve.guard import is_loopback, loopback_hosts

    loopback = is_loopback(host)
    chosen = os.environ.get("ACB_SERVE_TOKEN", "")
    if chosen and len(chosen) < MIN_TOKEN:
        raise UsageError(f"ACB_SERVE_TOKEN is too short to guard anything (at least {MIN_TOKEN})")
    token = None if loopback else (chosen or secrets.token_urlsafe(24))
    try:
        listener = socket.create_server(
            (host.strip("[]"), port), family=socket.AF_INET6 if ":" in host else socket.AF_INET
        )
    except (OSError, OverflowError) as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc}") from None
    port = listener.getsockname()[1]
    settings = Settings(
        ledger=load_settings(Path.cwd()).ledger_path,
        token=token,
        allowed_hosts=loopback_hosts(port) if loopback else None,
        evaluations=[folder.resolve() for folder in evaluations],
    )
    app = create_app(settings)
    shown = f"[{host.strip('[]')}]" if ":" in host else host
    url = f"http://{shown}:{port}/"
    click.echo(f"acb serve: {url}{f'?token={token}' if token else ''}  (Ctrl-C stops it)")
    if token and not os.environ.get("ACB_SERVE_TOKEN"):
        click.echo("acb serve: that token is new each start; set ACB_SERVE_TOKEN to keep one")
    if open_browser:
        webbrowser.open(url + (f"?token={token}" if token else ""))
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    uvicorn.Server(config).run(sockets=[listener])
