"""Checks every command of a deployment guide against what it acts on, before the guide is
written: a guide with one command that would fail is not written at all.

acb's own commands are parsed by acb's CLI (a seam the `cli` layer provides, since this layer
may not import it); Compose, Kubernetes, curl and git commands are checked offline against the
validated artefacts — the file they name passed its validators, the services, Deployments,
labels, images, ports and health paths they name are the ones in those files. No container
engine or cluster is needed, or used.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from autocodebase.delivery.guide import Command

AcbCheck = Callable[[list[str]], str | None]
"""Parses `acb ARGS...` as acb would; returns why it does not parse, or None."""

COMPOSE_VERBS = {"build": set(), "up": {"-d", "--wait", "--build"}, "ps": set()}
COMPOSE_VERBS |= {"logs": {"-f"}, "down": set()}
"""The `docker compose` subcommands a guide may use, with the flags each may take."""


@dataclass
class Known:
    """What the commands of one environment may refer to, read from its config and artefacts."""

    programs: set[str] = field(default_factory=set)
    """The environment's prerequisites: a command's program must be one of them."""
    validated: set[str] = field(default_factory=set)
    """Artefacts that passed their validators."""
    compose_services: dict[str, set[str]] = field(default_factory=dict)
    """compose file -> its services."""
    deployments: set[str] = field(default_factory=set)
    pod_labels: set[str] = field(default_factory=set)
    """`key=value` labels of the Deployments' pods."""
    images: set[str] = field(default_factory=set)
    ports: set[int] = field(default_factory=set)
    """Ports on 127.0.0.1 where the app answers (the proxy's, or the one compose publishes)."""
    health_paths: set[str] = field(default_factory=set)


def command_problem(command: Command, known: Known, acb: AcbCheck) -> str | None:
    """Why `command` would fail against `known`, or None when it is sound."""
    argv = list(command.argv)
    if not argv or argv[0] not in known.programs:
        return f"{argv[0] if argv else 'an empty command'} is not among the prerequisites"
    if argv[0] == "acb":
        return acb(argv[1:])
    checks: dict[str, Callable[[list[str], Known], str | None]] = {
        "docker": _docker,
        "kubectl": _kubectl,
        "curl": _curl,
        "git": _git,
    }
    if argv[0] not in checks:
        return f"acb has no check for {argv[0]} commands"
    return checks[argv[0]](argv, known)


def _docker(argv: list[str], known: Known) -> str | None:
    if argv[1:2] == ["build"]:
        if argv[2:3] != ["-t"] or argv[4:] != ["."] or argv[3] not in known.images:
            return f"{' '.join(argv)}: the image is not the one the manifest runs"
        return None if "Dockerfile" in known.validated else "Dockerfile was not validated"
    if argv[1:3] != ["compose", "-f"] or len(argv) < 5:
        return f"{' '.join(argv)}: not a docker compose -f FILE command"
    path, verb, rest = argv[3], argv[4], argv[5:]
    if path not in known.validated or path not in known.compose_services:
        return f"{path} is not a validated compose file"
    if verb not in COMPOSE_VERBS:
        return f"docker compose {verb} is not a command acb checks"
    flags = [word for word in rest if word.startswith("-")]
    extra = sorted(set(flags) - COMPOSE_VERBS[verb])
    if extra:
        return f"docker compose {verb} does not take {', '.join(extra)} here"
    missing = [s for s in rest if not s.startswith("-") and s not in known.compose_services[path]]
    return f"{', '.join(missing)} is not a service in {path}" if missing else None


def _kubectl(argv: list[str], known: Known) -> str | None:
    verb = argv[1:3]
    if argv[1] in ("apply", "delete"):
        ok = argv[2:3] == ["-f"] and len(argv) == 4 and argv[3] in known.validated
        return None if ok else f"{' '.join(argv)}: the file is not a validated manifest"
    named = next((w for w in argv[2:] if w.startswith("deployment/")), "")
    if verb in (["rollout", "status"], ["rollout", "undo"]) or argv[1] == "logs":
        name = named.split("/", 1)[1] if named else ""
        if name not in known.deployments:
            return f"{' '.join(argv)}: {name or 'no'} Deployment in the manifest"
        return None
    if verb == ["get", "pods"]:
        label = argv[argv.index("-l") + 1] if "-l" in argv[:-1] else ""
        return None if label in known.pod_labels else f"no pods are labelled {label!r}"
    return f"kubectl {' '.join(verb)} is not a command acb checks"


def _curl(argv: list[str], known: Known) -> str | None:
    url = urlsplit(argv[-1])
    if argv[1:-1] != ["-fsS"] or url.hostname != "127.0.0.1":
        return f"{' '.join(argv)}: not a health check acb knows"
    if url.port not in known.ports:
        return f"nothing acb configured listens on port {url.port}"
    if url.path not in known.health_paths:
        return f"{url.path} is not the health check the artefacts probe"
    return None


def _git(argv: list[str], _known: Known) -> str | None:
    if argv[1:3] == ["switch", "--detach"] and len(argv) == 4:
        return None
    return f"{' '.join(argv)}: not a git command acb checks"


def check_all(commands: list[Command], known: Known, acb: AcbCheck) -> list[str]:
    """Every problem, each naming its command."""
    problems = []
    for command in commands:
        problem = command_problem(command, known, acb)
        if problem:
            problems.append(f"`{command.line}`: {problem}")
    return problems
