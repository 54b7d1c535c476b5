"""`acb doctor`: is this machine and this directory ready for a run, and if not, what to do.

One line per check, each with its fix, so a first run's problems show before the first run:
the config files and what they failed to say, the model and its endpoint (is a key set? does
anything answer there?), the programs acb runs (git, ripgrep, bubblewrap) and what the sandbox
falls back to, and where the ledger is. It sends nothing to a model: reachability is a TCP
connection, never a request carrying the key.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

import click

from autocodebase.cli.options import directory_option

if TYPE_CHECKING:
    from autocodebase.config import Settings

Status = Literal["ok", "warn", "fail"]
MARK = {"ok": "✓", "warn": "!", "fail": "✗"}
CONNECT_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class Finding:
    name: str
    status: Status
    detail: str
    fix: str = ""


def _config(workspace: Path) -> tuple[Settings | None, list[Finding]]:
    from autocodebase.config import load_settings, user_config_path
    from autocodebase.errors import ConfigError

    user = user_config_path()
    project = workspace / ".acb" / "config.toml"
    found = [
        Finding("user config", "ok", f"{user}" if user.is_file() else f"{user} (none: defaults)"),
    ]
    if project.is_file():
        found.append(Finding("project config", "ok", str(project)))
    try:
        settings = load_settings(workspace)
    except ConfigError as error:
        found.append(Finding("config", "fail", str(error), "fix the file and key it names"))
        return None, found
    found += [
        Finding("config", "warn", warning, "remove it, or set it in your own config")
        for warning in settings.warnings
    ]
    return settings, found


def _model(settings: Settings) -> list[Finding]:
    from autocodebase.errors import UsageError
    from autocodebase.models.registry import build_model

    chosen_by = settings.sources.get("model", "acb's default")
    try:
        model = build_model(settings.model, settings)
    except UsageError as error:
        head, _, rest = str(error).partition("\n")
        fix = "see `acb exec --help` for --model" if not rest else rest.splitlines()[-1].strip()
        return [Finding("model", "fail", f"{settings.model} ({chosen_by}): {head}", fix)]
    found = [Finding("model", "ok", f"{settings.model} (set by {chosen_by})")]
    endpoint = getattr(model, "endpoint", None)
    if isinstance(endpoint, str):
        found.append(_reachable(endpoint))
    return found


def _reachable(endpoint: str) -> Finding:
    """A TCP connection to the endpoint's host and port: no request, no key on the wire."""
    parts = urlsplit(endpoint)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "", port), timeout=CONNECT_TIMEOUT_S):
            return Finding("endpoint", "ok", f"{endpoint} answers")
    except OSError as error:
        from autocodebase.models.faults import on_this_machine

        fix = (
            "start the local server, or check the port in base_url"
            if on_this_machine(parts.hostname)
            else "check the network, a proxy, or base_url in your config"
        )
        return Finding("endpoint", "fail", f"{endpoint} unreachable: {error}", fix)


def _program(name: str, package: str, needed_for: str, missing: Status) -> Finding:
    from autocodebase.programs import which

    path = which(name)
    if path is None:
        return Finding(name, missing, f"not found ({needed_for})", f"apt-get install {package}")
    try:
        version = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout.splitlines()
    except (OSError, subprocess.TimeoutExpired) as error:
        return Finding(name, "fail", f"{path} does not run: {error}", f"reinstall {package}")
    return Finding(name, "ok", f"{path}: {version[0] if version else 'present'}")


def _sandbox(settings: Settings) -> Finding:
    from autocodebase.sandbox.bwrap import bwrap_problem

    problem = bwrap_problem()
    if problem is None:
        return Finding("sandbox", "ok", f"{settings.sandbox_mode}: commands run in bubblewrap")
    meaning = {
        "refuse": ("fail", "commands will be refused"),
        "read-only-guard": ("warn", "only commands known to be harmless run, on the host"),
        "none": ("warn", "commands run UNSANDBOXED on the host"),
    }[settings.sandbox_fallback]
    status: Status = "fail" if meaning[0] == "fail" else "warn"
    return Finding(
        "sandbox", status, f"bubblewrap cannot run ({problem}): {meaning[1]}", "acb sandbox --check"
    )


def _workspace(workspace: Path) -> Finding:
    from autocodebase.vcs.git import GitError, git_text

    try:
        root = git_text(workspace, "rev-parse", "--show-toplevel")
    except GitError:
        return Finding(
            "repository",
            "warn",
            f"{workspace} is not in a git repository: no checkpoints, undo or commits",
            "git init (or run acb inside a repository)",
        )
    return Finding("repository", "ok", f"git repository at {root}")


def _ledger(settings: Settings) -> Finding:
    directory = settings.ledger_path.parent
    existing = next((p for p in (directory, *directory.parents) if p.exists()), Path("/"))
    if not os.access(existing, os.W_OK):
        return Finding(
            "ledger",
            "fail",
            f"{settings.ledger_path}: {existing} is not writable",
            fix="set ACB_HOME to a writable directory",
        )
    return Finding("ledger", "ok", str(settings.ledger_path))


def diagnose(workspace: Path) -> list[Finding]:
    settings, found = _config(workspace)
    if settings is not None:
        found += _model(settings)
    found += [
        _program("git", "git", "required", "fail"),
        _program("rg", "ripgrep", "search falls back to a slower Python scan", "warn"),
        _program("bwrap", "bubblewrap", "commands cannot be sandboxed", "warn"),
        _workspace(workspace),
    ]
    if settings is not None:
        found += [_sandbox(settings), _ledger(settings)]
    return found


@click.command("doctor")
@directory_option("The directory to check (default: current).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per check.")
def doctor(directory: Path, as_json: bool) -> int:
    """Check that acb can run here: config, model and endpoint, git, ripgrep, bubblewrap and the
    sandbox, the ledger. One line each, with the fix; exit 1 when a check fails."""
    found = diagnose(directory)
    for finding in found:
        if as_json:
            click.echo(json.dumps(asdict(finding)))
            continue
        fix = f"  → {finding.fix}" if finding.fix and finding.status != "ok" else ""
        click.echo(f"{MARK[finding.status]} {finding.name:<14} {finding.detail}{fix}")
    return 1 if any(f.status == "fail" for f in found) else 0
