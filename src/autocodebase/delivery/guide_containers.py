"""The Compose and Kubernetes parts of a deployment guide. Their facts (published port,
healthchecks, probes, Deployment, labels, image, variable names) are read from the validated
artefacts on disk, not from what acb would write now, so a guide describes what will run; the
commands are built from the same facts and checked against them (`delivery.guide_commands`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from autocodebase.delivery.guide import Command, EnvironmentGuide, Prerequisite, Setting
from autocodebase.delivery.guide_commands import Known
from autocodebase.delivery.guide_facts import (
    GuideError,
    container_files,
    curl,
    version,
    yaml_documents,
)
from autocodebase.delivery.local import DeployConfig
from autocodebase.redact import is_secret_name

VALIDATED = "validated against the artefacts when this was written"
COMPOSE_FILE = "compose.yaml"
MANIFEST = "k8s/app.yaml"


def _docker(why: str) -> Prerequisite:
    return Prerequisite("docker", version("docker", "--version"), why)


def compose(root: Path, config: DeployConfig) -> tuple[EnvironmentGuide, Known, dict[str, str]]:
    """A host running Docker Compose: the image is built there from the Dockerfile."""
    texts, artefacts, sources = container_files(root, config)
    documents = yaml_documents(COMPOSE_FILE, texts[COMPOSE_FILE])
    services: dict[str, Any] = (documents[0].get("services") or {}) if documents else {}
    app = next((n for n, s in services.items() if isinstance(s, dict) and "build" in s), None)
    if app is None:
        raise GuideError(f"{COMPOSE_FILE} has no service built from the Dockerfile")
    service = services[app]
    ports = {_host_port(str(p)) for p in service.get("ports", [])} - {None}
    health = service.get("healthcheck") or {}
    probed = " ".join(map(str, health.get("test", [])))
    compose_cmd = ("docker", "compose", "-f", COMPOSE_FILE)
    port = config.port
    environment = service.get("environment") or {}
    names = environment if isinstance(environment, dict) else [e.split("=")[0] for e in environment]
    settings = [
        Setting(
            name,
            "the host's environment at `docker compose up`"
            if name in config.secrets
            else f"{COMPOSE_FILE} (a service's address)",
            name in config.secrets or is_secret_name(name) or name.endswith("_URL"),
        )
        for name in names
    ]
    env = EnvironmentGuide(
        config.env,
        "compose",
        f"A host with Docker Compose: `{app}` is built from the Dockerfile and published on "
        f"http://127.0.0.1:{port}, with the services it needs beside it.",
        prerequisites=[
            _docker("builds and runs the containers"),
            Prerequisite(
                "docker compose", version("docker", "compose", "version"), "runs compose.yaml"
            ),
            Prerequisite("git", version("git"), "a rollback releases an earlier commit"),
            Prerequisite("curl", version("curl"), "the health check by hand"),
        ],
        artefacts=artefacts,
        settings=settings,
        commands=[
            Command("build", (*compose_cmd, "build", app), "builds the image", VALIDATED),
            Command(
                "release",
                (*compose_cmd, "up", "-d", "--wait"),
                "starts everything and waits until every healthcheck passes",
                VALIDATED,
            ),
            Command("health", (*compose_cmd, "ps", app), "the container's health", VALIDATED),
            curl(port, config.health, VALIDATED),
            Command(
                "rollback",
                ("git", "switch", "--detach", '"$PREVIOUS"'),
                "with PREVIOUS set to the commit that was live before: check it out (Compose "
                "keeps no release history)",
                VALIDATED,
            ),
            Command(
                "rollback",
                (*compose_cmd, "up", "-d", "--build", "--wait"),
                "rebuilds and serves it, waiting for its healthcheck",
                VALIDATED,
            ),
            Command("watch", (*compose_cmd, "logs", "-f", app), "follows the app's log", VALIDATED),
            Command("stop", (*compose_cmd, "down"), "stops and removes the containers", VALIDATED),
        ],
        verification=[
            f"the Dockerfile's HEALTHCHECK and {COMPOSE_FILE}'s healthcheck ask "
            f"`GET {config.health}` inside the container every {health.get('interval', '?')} "
            f"(timeout {health.get('timeout', '?')}, unhealthy after "
            f"{health.get('retries', '?')} failures); `up --wait` fails if it never passes",
            "acb does not watch this environment: no traffic verification, automatic rollback "
            "or `acb monitor` here (those are the local target's)",
        ],
    )
    progs = {"docker", "git", "curl"}
    known = Known(
        programs=progs,
        validated=set(texts),
        compose_services={COMPOSE_FILE: set(services)},
        ports={p for p in ports if p is not None},
        health_paths={config.health} if config.health in probed else set(),
    )
    return env, known, sources


def _host_port(mapping: str) -> int | None:
    """The host port of a compose `ports` entry ("127.0.0.1:8080:8000", "8080:8000")."""
    parts = mapping.split("/")[0].split(":")
    return int(parts[-2]) if len(parts) >= 2 and parts[-2].isdigit() else None


def kubernetes(root: Path, config: DeployConfig) -> tuple[EnvironmentGuide, Known, dict[str, str]]:
    """A Kubernetes cluster: the image is built here, the manifest applied with kubectl."""
    try:
        return _kubernetes(root, config)
    except (KeyError, IndexError, TypeError, AttributeError) as error:
        raise GuideError(f"{MANIFEST}: no {error} where acb reads it") from None


def _kubernetes(root: Path, config: DeployConfig) -> tuple[EnvironmentGuide, Known, dict[str, str]]:
    texts, artefacts, sources = container_files(root, config)
    documents = yaml_documents(MANIFEST, texts[MANIFEST])
    deployments = [d for d in documents if d.get("kind") == "Deployment"]
    if not deployments:
        raise GuideError(f"{MANIFEST} has no Deployment")
    deployment = deployments[0]
    name = str(deployment["metadata"]["name"])
    pod = deployment["spec"]["template"]
    container = pod["spec"]["containers"][0]
    labels = {
        f"{k}={v}"
        for d in deployments
        for k, v in d["spec"]["template"]["metadata"]["labels"].items()
    }
    selector = f"app={name}" if f"app={name}" in labels else sorted(labels)[0]
    ready = container.get("readinessProbe", {})
    alive = container.get("livenessProbe", {})
    secrets = [
        Setting(e["name"], f"the Secret `{ref['name']}` (key `{ref['key']}`)", True)
        for e in container.get("env", [])
        if (ref := e.get("valueFrom", {}).get("secretKeyRef"))
    ]
    kubectl_why = "applies the manifest and follows the rollout"
    target = f"deployment/{name}"
    env = EnvironmentGuide(
        config.env,
        "kubernetes",
        f"A Kubernetes cluster: Deployment and Service `{name}` from {MANIFEST}, image "
        f"`{container['image']}` built from the Dockerfile (push it where the cluster pulls "
        "from).",
        prerequisites=[
            _docker("builds the image"),
            Prerequisite("kubectl", version("kubectl", "version", "--client"), kubectl_why),
        ],
        artefacts=artefacts,
        settings=secrets,
        commands=[
            Command(
                "build",
                ("docker", "build", "-t", container["image"], "."),
                "builds the image the manifest runs",
                VALIDATED,
            ),
            Command("release", ("kubectl", "apply", "-f", MANIFEST), "applies it", VALIDATED),
            Command(
                "release",
                ("kubectl", "rollout", "status", target, "--timeout=120s"),
                "waits until the new pods are ready",
                VALIDATED,
            ),
            Command(
                "health", ("kubectl", "get", "pods", "-l", selector), "the pods' state", VALIDATED
            ),
            Command(
                "rollback",
                ("kubectl", "rollout", "undo", target),
                "the previous ReplicaSet again",
                VALIDATED,
            ),
            Command(
                "watch",
                ("kubectl", "logs", "-f", target),
                "follows the app's log",
                VALIDATED,
            ),
            Command("stop", ("kubectl", "delete", "-f", MANIFEST), "removes it", VALIDATED),
        ],
        verification=[
            f"readiness: `GET {ready.get('httpGet', {}).get('path', '?')}` every "
            f"{ready.get('periodSeconds', '?')} s, out of the Service after "
            f"{ready.get('failureThreshold', '?')} failures; liveness every "
            f"{alive.get('periodSeconds', '?')} s restarts a pod that stops answering",
            "rolling update with no pod unavailable: a new pod must be ready before an old one "
            "goes; `rollout status` fails if it never is",
            "acb does not watch this environment: no traffic verification, automatic rollback "
            "or `acb monitor` here (those are the local target's)",
        ],
    )
    known = Known(
        programs={"docker", "kubectl"},
        validated=set(texts),
        deployments={str(d["metadata"]["name"]) for d in deployments},
        pod_labels=labels,
        images={
            str(c["image"])
            for d in deployments
            for c in d["spec"]["template"]["spec"]["containers"]
        },
    )
    return env, known, sources
