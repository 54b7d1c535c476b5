"""`acb mcp`: the MCP servers whose tools runs may use (list, add, remove), and acb itself as
an MCP server for other agents and editors (serve)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from autocodebase.cli.options import directory_option


@click.group("mcp")
def mcp_command() -> None:
    """MCP both ways: servers for acb's runs, and acb as a server."""


@mcp_command.command("serve")
@directory_option("The repository the tools work on (default: current).")
@click.option("-m", "--model", help="The model run_task uses (default: your configured one).")
def serve(directory: Path, model: str | None) -> None:
    """Serve acb over MCP on stdin/stdout: run_task, list_runs, show_run, review, repo_map,
    undo_run, all on DIR."""
    from autocodebase.cli.mcp_serve import build_server

    build_server(directory, model).run()


@mcp_command.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_servers(as_json: bool) -> None:
    """Start each configured server, and show its state and tools."""
    from autocodebase.config import default_state_dir, load_settings
    from autocodebase.tools.mcp_servers import McpHub

    settings = load_settings(Path.cwd())
    configured = settings.mcp_servers
    if not configured:
        click.echo("no MCP servers configured (acb mcp add NAME -- COMMAND ARGS...)")
        return
    hub = McpHub(configured, Path.cwd(), default_state_dir() / "mcp-logs")
    try:
        hub.tools()
        rows = []
        for name, config in configured.items():
            state = hub.states.get(name)
            status = state.status if state is not None else "disabled"
            tools = [t.name for t in state.tools] if state is not None else []
            trusted = "all" if config.trusted else ", ".join(config.trusted_tools) or "none"
            where = config.url or " ".join([config.command or "", *config.args])
            error = state.error if state is not None else ""
            rows.append(
                {
                    "name": name,
                    "status": status,
                    "where": where,
                    "tools": tools,
                    "trusted": trusted,
                    "error": error,
                }
            )
    finally:
        hub.close()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(f"{row['name']}: {row['status']}  ({row['where']})")
        if row["error"]:
            click.echo(f"  {row['error']}")
        if row["tools"]:
            click.echo(f"  tools: {', '.join(row['tools'])}")
            click.echo(f"  trusted: {row['trusted']}")


@mcp_command.command("add")
@click.argument("name")
@click.argument("command", nargs=-1)
@click.option("--url", help="A streamable HTTP server instead of a command.")
@click.option(
    "--env", "env", multiple=True, metavar="KEY=VALUE", help="For the server (repeatable)."
)
@click.option(
    "--trusted", is_flag=True, help="Its tools run without asking (outside the sandbox!)."
)
@click.option(
    "--trust-tool", "trust_tools", multiple=True, help="One tool that runs without asking."
)
def add(
    name: str,
    command: tuple[str, ...],
    url: str | None,
    env: tuple[str, ...],
    trusted: bool,
    trust_tools: tuple[str, ...],
) -> None:
    """Add server NAME to your config: `acb mcp add NAME -- COMMAND ARGS...` or `--url URL`."""
    from autocodebase.cli.config_edit import edit_user_config
    from autocodebase.errors import UsageError

    if bool(command) == bool(url):
        raise UsageError("give either a command (after --) or --url, not both")
    table: dict[str, object] = (
        {"url": url} if url else {"command": command[0], "args": list(command[1:])}
    )
    if env:
        pairs = [item.split("=", 1) for item in env]
        if any(len(pair) != 2 or not pair[0] for pair in pairs):
            raise UsageError("--env takes KEY=VALUE")
        table["env"] = dict(pairs)
    if trusted:
        table["trusted"] = True
    if trust_tools:
        table["trusted_tools"] = list(trust_tools)
    path = edit_user_config(lambda document: _set_server(document, name, table))
    click.echo(f"added MCP server {name} to {path}")


@mcp_command.command("remove")
@click.argument("name")
def remove(name: str) -> None:
    """Remove server NAME from your config."""
    from autocodebase.cli.config_edit import edit_user_config

    path = edit_user_config(lambda document: _drop_server(document, name))
    click.echo(f"removed MCP server {name} from {path}")


def _set_server(document: object, name: str, table: dict[str, object]) -> None:
    import tomlkit

    from autocodebase.errors import UsageError

    servers = document.setdefault("mcp_servers", tomlkit.table(is_super_table=True))  # type: ignore[attr-defined]
    if name in servers:
        raise UsageError(f"an MCP server {name} is configured already (acb mcp remove {name})")
    entry = tomlkit.table()
    for key, value in table.items():
        entry[key] = value
    servers[name] = entry


def _drop_server(document: object, name: str) -> None:
    from autocodebase.errors import UsageError

    servers = document.get("mcp_servers", {})  # type: ignore[attr-defined]
    if name not in servers:
        raise UsageError(f"no MCP server {name} in your config (acb mcp list)")
    del servers[name]
