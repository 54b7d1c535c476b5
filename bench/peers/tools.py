"""The four tools, each installed in its own place under the cache dir and pointed at the
loopback mock server only through its documented options, and the same scripted work for each:
nine shell commands (one of which writes a file), then the end of the task. What differs is only
the shape the tool expects a model to speak in (its tool's name and argument, how it ends).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.fakes.mock_server import Reply

COMMANDS = [
    "ls",
    "cat hello.py",
    "python3 hello.py",
    "grep -n print hello.py",
    "wc -l hello.py",
    "printf 'def greet():\\n    return \"hi\"\\n' > greet.py",
    "python3 -c 'import greet; print(greet.greet())'",
    "git status --short",
    "cat greet.py",
]
"""Nine steps of real work, identical for every tool; the tenth step ends the task."""

TASK = "Look at hello.py, add greet.py with a greet() function returning 'hi', and check it."


@dataclass
class Tool:
    name: str
    shell_tool: str | None
    """The name of the tool's shell function; None when the tool has no model-driven loop."""
    argument: str
    env: dict[str, str] = field(default_factory=dict)

    def trajectory(self) -> list[Reply]:
        if self.shell_tool is None:
            return [Reply("Nothing to do: hello.py already prints hi.")]
        steps = [Reply("", [(self.shell_tool, {self.argument: c})]) for c in COMMANDS]
        if self.name == "mini-swe-agent":  # it ends when a command echoes its marker
            return [
                *steps,
                Reply("", [("bash", {"command": "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"})]),
            ]
        return [*steps, Reply("Added greet.py; greet() returns 'hi'.")]


def cache() -> Path:
    return Path(os.environ.get("ACB_BENCH_CACHE", Path.home() / ".cache" / "acb-bench"))


class NotInstalled(Exception):
    """A peer that could not be installed; the message says why (the installer's last words)."""


PACKAGES = {"codex": "@openai/codex", "aider": "aider-chat", "mini-swe-agent": "mini-swe-agent"}
"""The package each peer is installed from (npm for Codex, PyPI for the others)."""
_VENVS = {"aider": "aider-venv", "mini-swe-agent": "mswea-venv"}
_SCRIPTS = {"aider": "aider", "mini-swe-agent": "mini"}
_EXTRAS = {"aider": [], "mini-swe-agent": ["mcp"]}  # without mcp, mini retries forever offline


def place(name: str, pin: str | None = None) -> Path:
    """Where a peer lives: one folder per pinned version, so a pin never reuses (or replaces)
    whatever version an unpinned install fetched earlier."""
    folder = "codex" if name == "codex" else _VENVS[name]
    return cache() / (f"{folder}-{pin}" if pin else folder)


def _tail(done: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    errors = [line for line in lines if "ERR" in line or "rror" in line]
    return " / ".join((errors or lines)[-3:])[-400:] or f"exit {done.returncode}"


def install(name: str, pin: str | None = None) -> str:
    """Install a peer under the cache dir when missing (exactly version `pin` when given) and
    return its executable; NotInstalled, with the installer's reason, when that fails."""
    root = place(name, pin)
    package = PACKAGES[name] + (("@" if name == "codex" else "==") + pin if pin else "")
    if name == "codex":
        binary = root / "node_modules" / ".bin" / "codex"
        if binary.exists():
            return str(binary)
        if not shutil.which("npm"):
            raise NotInstalled("npm is not on PATH")
        argv = ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(root), package]
        done = subprocess.run(argv, check=False, capture_output=True, text=True)
    else:
        binary = root / "bin" / _SCRIPTS[name]
        if binary.exists():
            return str(binary)
        made = subprocess.run(
            [sys.executable, "-m", "venv", str(root)], check=False, capture_output=True, text=True
        )
        if made.returncode != 0:
            raise NotInstalled(f"python -m venv {root}: {_tail(made)}")
        pip = [str(root / "bin" / "python"), "-m", "pip", "install", "-q", package]
        try:
            done = subprocess.run(
                [*pip, *_EXTRAS[name]], check=False, capture_output=True, text=True
            )
        except OSError as error:
            raise NotInstalled(f"{' '.join(pip)}: {error}") from error
    if not binary.exists():
        raise NotInstalled(f"installing {package} into {root} failed: {_tail(done)}")
    return str(binary)


def installed_version(name: str, binary: str) -> str:
    """The exact version of the package that was measured, from its own metadata (what
    `--version` prints is not always the package's version, nor always parseable)."""
    if name == "acb":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("autocodebase")
        except PackageNotFoundError:
            return "?"
    if name == "codex":
        manifest = Path(binary).parents[1] / "@openai" / "codex" / "package.json"
        try:
            return str(json.loads(manifest.read_text())["version"])
        except (OSError, ValueError, KeyError):
            return "?"
    python = Path(binary).parent / "python"
    probe = f"import importlib.metadata as m; print(m.version({PACKAGES[name]!r}))"
    done = subprocess.run(
        [str(python), "-c", probe], capture_output=True, text=True, check=False, timeout=60
    )
    return done.stdout.strip() or "?"


def codex_home(binary: str) -> Path:
    """Codex's state folder, next to its install (one per version). Codex 0.171 refuses to
    start when CODEX_HOME does not exist, and will not put its sandbox helper under /tmp, so
    the harness makes it here, outside the run's scratch folder."""
    home = Path(binary).parents[2] / "home"
    home.mkdir(parents=True, exist_ok=True)
    return home


def base_env(name: str) -> dict[str, str]:
    """The environment a tool starts from. acb imports this checkout's `src/` first, whatever
    the interpreter has installed (an editable install may point at another checkout), so the
    acb measured is the acb of the tree the benchmark runs from."""
    env = dict(os.environ)
    if name == "acb":
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(REPO / "src"), env.get("PYTHONPATH", "")])
        )
    return env


def command(
    name: str, binary: str, url: str, task: str, home: Path
) -> tuple[list[str], dict[str, str]]:
    """argv and environment for one scripted run against the mock at `url`."""
    env = {k: v for k, v in base_env(name).items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    if name == "acb":
        env.update(
            OPENAI_API_KEY="sk-bench",
            OPENAI_BASE_URL=f"{url}/v1",
            ACB_HOME=str(home / "acb"),
            XDG_CONFIG_HOME=str(home / "config"),
        )
        return [
            binary,
            "-m",
            "autocodebase",
            "exec",
            task,
            "-m",
            "openai/mock-model",
            "--no-commit",
        ], env
    if name == "codex":
        env.update(MOCK_KEY="sk-bench", CODEX_HOME=str(codex_home(binary)))
        provider = f'model_providers.mock={{name="mock",base_url="{url}/v1",env_key="MOCK_KEY",wire_api="responses"}}'
        return [
            binary,
            "exec",
            "--skip-git-repo-check",
            "-s",
            "workspace-write",
            "-c",
            "model_provider=mock",
            "-c",
            provider,
            "-m",
            "mock-model",
            task,
        ], env
    if name == "aider":
        return [
            binary,
            "--model",
            "openai/mock-model",
            "--openai-api-base",
            f"{url}/v1",
            "--openai-api-key",
            "sk-bench",
            "--yes-always",
            "--no-check-update",
            "--no-show-model-warnings",
            "--no-analytics",
            "--no-auto-commits",
            "--message",
            task,
        ], env
    env.update(
        OPENAI_API_KEY="sk-bench",
        OPENAI_API_BASE=f"{url}/v1",
        OPENAI_BASE_URL=f"{url}/v1",
        MSWEA_SILENT_STARTUP="1",
        MSWEA_CONFIGURED="true",
        MSWEA_COST_TRACKING="ignore_errors",
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        MSWEA_GLOBAL_CONFIG_DIR=str(home / "mswea"),
    )
    return [
        binary,
        "-m",
        "openai/mock-model",
        "-t",
        task,
        "-y",
        "--exit-immediately",
        "-o",
        str(home / "mswea-trajectory.json"),
    ], env


def version(name: str, binary: str) -> str:
    argv = [binary, "-m", "autocodebase", "--version"] if name == "acb" else [binary, "--version"]
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env=base_env(name),
    )
    lines = (done.stdout + done.stderr).strip().splitlines()
    return next((line for line in lines if any(ch.isdigit() for ch in line)), "?")[:60]


TOOLS: dict[str, Tool] = {
    "acb": Tool("acb", "shell", "command"),
    "codex": Tool("codex", "exec_command", "cmd"),
    "aider": Tool("aider", None, ""),
    "mini-swe-agent": Tool("mini-swe-agent", "bash", "command"),
}


def help_argv(name: str, binary: str) -> list[str]:
    return [binary, "-m", "autocodebase", "--help"] if name == "acb" else [binary, "--help"]


def summary(body: dict[str, Any]) -> str:
    """The part of a request a user pays for as input: messages (or Responses input),
    instructions, and tool schemas."""
    parts = [
        body.get("messages") or body.get("input") or [],
        body.get("instructions") or "",
        body.get("system") or "",
        body.get("tools") or [],
    ]
    return json.dumps(parts, ensure_ascii=False)
