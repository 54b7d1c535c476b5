"""What a deployment guide says about each environment, gathered from acb itself: the
environment's `.acb/deploy.toml` table, the artefacts on disk (validated again, here, by the
same validators `acb deploy --target compose|kubernetes` uses), the programs found on this
machine, and the commands acb runs or checks for each phase. Here: what every target shares,
and the local target's builder (`delivery.guide_containers` has the others).
"""

from __future__ import annotations

import functools
import hashlib
import subprocess
import sys
from pathlib import Path
from typing import Any

from autocodebase import __version__
from autocodebase.delivery.artefacts import Artefacts, validate
from autocodebase.delivery.guide import (
    ArtefactFact,
    Command,
    EnvironmentGuide,
    Prerequisite,
    Setting,
)
from autocodebase.delivery.guide_commands import Known
from autocodebase.delivery.local import DeployConfig
from autocodebase.errors import UsageError
from autocodebase.programs import installed

CONTAINER_FILES = {
    "compose": ("Dockerfile", "compose.yaml"),
    "kubernetes": ("Dockerfile", "k8s/app.yaml"),
}
"""The artefacts each container target runs from (written by `acb deploy --env NAME`)."""


class GuideError(UsageError):
    """Why no guide was written, in one line."""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def more(problems: list[str]) -> str:
    return f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""


@functools.lru_cache(maxsize=32)
def version(program: str, *args: str) -> str:
    """The first line `program ARGS` prints (default `--version`), or "not found here"."""
    path = installed(program)
    if path is None:
        return "not found here"
    try:
        done = subprocess.run(
            [path, *(args or ("--version",))], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return "not found here"
    lines = (done.stdout + done.stderr).strip().splitlines()
    if done.returncode != 0 or not lines:
        return "not found here"
    return lines[0].split(" (", 1)[0].strip()[:60]  # curl's first line lists every library


def _acb(config: DeployConfig, *args: str, phase: str, why: str) -> Command:
    env = () if config.env == "default" else ("--env", config.env)
    checked = "acb's own command, parsed by acb when this was written"
    return Command(phase, ("acb", *args[:1], *env, *args[1:]), why, checked)


def curl(port: int, path: str, checked: str) -> Command:
    url = f"http://127.0.0.1:{port}{path}"
    return Command("health", ("curl", "-fsS", url), "the health check answers 200", checked)


def local(_root: Path, config: DeployConfig) -> tuple[EnvironmentGuide, Known, dict[str, str]]:
    """This machine, behind acb's proxy: every step is an acb command."""
    python = f"Python {sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}"
    env = EnvironmentGuide(
        config.env,
        "local",
        f"This machine: acb builds each release in the sandbox and serves it behind a loopback "
        f"proxy on http://127.0.0.1:{config.port}, switching only to releases that pass.",
        prerequisites=[
            Prerequisite("acb", f"acb {__version__}", "builds, releases, verifies, watches"),
            Prerequisite("python3", python, "each release gets a virtualenv made with it"),
            Prerequisite("git", version("git"), "releases are commits"),
            Prerequisite("bwrap", version("bwrap"), "builds and releases run in the sandbox"),
            Prerequisite("curl", version("curl"), "the health check by hand"),
        ],
        settings=[
            Setting("PORT", "acb: the release's own port (the command gets it as {port})"),
            *(
                Setting(name, "acb's environment when the proxy starts, passed on by name", True)
                for name in config.secrets
            ),
        ],
        commands=[
            _acb(
                config,
                "deploy",
                phase="build and release",
                why=f"builds HEAD into .acb/releases/<sha> (its own virtualenv, in the sandbox), "
                f"starts it, waits for {config.health}, verifies it and switches the proxy to it; "
                "exit 1 when it did not go live",
            ),
            _acb(config, "deploy", "--status", phase="health", why="what is live, and the history"),
            curl(config.port, config.health, "port and path from deploy.toml"),
            _acb(
                config,
                "deploy",
                "--rollback",
                phase="rollback",
                why="serves the previous release again, verified like any release",
            ),
            _acb(
                config,
                "monitor",
                "--window",
                "15m",
                phase="watch",
                why="traffic, errors and p95 with charts; exit 1 on an anomaly",
            ),
            _acb(config, "deploy", "--stop", phase="stop", why="stops the proxy and releases"),
        ],
        verification=_local_verification(config),
    )
    known = Known(
        programs={p.program for p in env.prerequisites},
        ports={config.port},
        health_paths={config.health},
    )
    return env, known, {}


def _local_verification(config: DeployConfig) -> list[str]:
    probe = f" and `{config.probe}`" if config.probe else ""
    limits = f"error rate at most {config.max_error_rate:.1%}, p95 latency at most "
    limits += f"{config.max_p95_ms:g} ms"
    return [
        f"a new release must answer `GET {config.health}` with 200 within "
        f"{config.health_timeout_s:g} s, or it is stopped and never served",
        f"while another release is live, the new one gets the live GET/HEAD traffic mirrored "
        f"to it and probes of `{config.health}`{probe} for {config.verify_s:g} s: {limits}; "
        "the app's own /metrics 5xx share counts too",
        f"after the switch it is watched for {config.watch_s:g} s with the same limits; a "
        "failure switches the proxy back to the previous release, which kept running",
        f"`acb monitor` flags every stretch over the same limits ({limits}) and names the "
        "release that went live before it",
    ]


def container_files(
    root: Path, config: DeployConfig
) -> tuple[dict[str, str], list[ArtefactFact], dict[str, str]]:
    """The environment's artefacts as they are on disk, validated again now."""
    flag = "" if config.env == "default" else f" --env {config.env}"
    texts: dict[str, str] = {}
    for name in CONTAINER_FILES[config.target]:
        path = root / name
        if not path.is_file():
            raise GuideError(f"{name} is missing: `acb deploy{flag}` writes it")
        texts[name] = path.read_text()
    made = Artefacts(files=texts)
    validate(made)
    if made.problems:
        first = made.problems[0].splitlines()[0]
        raise GuideError(f"not written: {first} (validation failed{more(made.problems)})")
    facts = [
        ArtefactFact(
            name,
            sha256(root / name),
            tuple(c.split(": ", 1)[1] for c in made.checked_by if c.startswith(f"{name}: ")),
        )
        for name in texts
    ]
    return texts, facts, {name: sha256(root / name) for name in texts}


def yaml_documents(name: str, text: str) -> list[Any]:
    import yaml

    try:
        return [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]
    except yaml.YAMLError as error:
        raise GuideError(f"{name}: {str(error).splitlines()[0]}") from None
