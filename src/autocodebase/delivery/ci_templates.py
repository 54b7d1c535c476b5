"""CI workflows written from a project plan: GitHub Actions and GitLab CI, for the common cases
(Python, Node, Go, Rust, Java). Secure by construction, so zizmor has nothing to say: actions
pinned to full commit SHAs, read-only token, no persisted credentials, no `${{ }}` expanded
inside `run:` scripts, a timeout on every job.
"""

from __future__ import annotations

import json
from typing import NamedTuple

from autocodebase.delivery.plan import LanguagePlan, ProjectPlan

# Full commit SHAs of the release tags named beside them (read from the actions' repositories).
CHECKOUT = "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1  # v7.0.1"
SETUP = {  # action, and the `with:` key that takes the version
    "python": (
        "actions/setup-python@5fda3b95a4ea91299a34e894583c3862153e4b97  # v7.0.0",
        "python-version",
    ),
    "node": (
        "actions/setup-node@820762786026740c76f36085b0efc47a31fe5020  # v7.0.0",
        "node-version",
    ),
    "go": ("actions/setup-go@b7ad1dad31e06c5925ef5d2fc7ad053ef454303e  # v7.0.0", "go-version"),
    "java": (
        "actions/setup-java@b6effb05e454b25005698d916606bdc6ffcbf961  # v5.7.0",
        "java-version",
    ),
}
# Code scanning's SARIF upload (acb's action and its example review workflow); the commit of the
# annotated tag v4.36.2, not the tag object's own SHA.
UPLOAD_SARIF = (
    "github/codeql-action/upload-sarif@8aad20d150bbac5944a9f9d289da16a4b0d87c1e  # v4.36.2"
)


def known_pins() -> dict[str, str]:
    """Action -> the full commit SHA acb pins it to (and checked against its release tag). A
    model repairing a workflow can invent a SHA that passes the schema and zizmor; only these
    are known to exist."""
    lines = [CHECKOUT, *(action for action, _ in SETUP.values()), UPLOAD_SARIF]
    return dict(line.split("  #")[0].split("@", 1) for line in lines)


def pin_lines() -> str:
    """The pinned `uses:` lines, for a model that writes or repairs a workflow."""
    lines = [CHECKOUT, *(a for a, _ in SETUP.values()), UPLOAD_SARIF]
    return "\n".join(f"- uses: {line}" for line in lines)


IMAGES = {
    "python": "python:{v}-slim",
    "node": "node:{v}",
    "go": "golang:{v}",
    "rust": "rust:{v}",
    "java": "maven:3-eclipse-temurin-{v}",
}


class Service(NamedTuple):
    """A backing service the tests need, run beside them in CI (and in compose)."""

    image: str
    env: dict[str, str]
    """The service's own configuration."""
    port: int
    health: str
    """A command that succeeds once the service is ready."""
    exported: dict[str, str]
    """What the app is told, to reach it."""


SERVICES = {
    "postgres": Service(
        image="postgres:16",
        env={"POSTGRES_PASSWORD": "postgres", "POSTGRES_DB": "app"},
        port=5432,
        health="pg_isready -U postgres",
        exported={"DATABASE_URL": "postgresql://postgres:postgres@localhost:5432/app"},
    ),
    "mysql": Service(
        image="mysql:8.4",
        env={"MYSQL_ROOT_PASSWORD": "root", "MYSQL_DATABASE": "app"},
        port=3306,
        health="mysqladmin ping -proot",
        exported={"DATABASE_URL": "mysql://root:root@127.0.0.1:3306/app"},
    ),
    "redis": Service(
        image="redis:7",
        env={},
        port=6379,
        health="redis-cli ping",
        exported={"REDIS_URL": "redis://localhost:6379/0"},
    ),
    "mongodb": Service(
        image="mongo:7",
        env={},
        port=27017,
        health="mongosh --eval 'db.runCommand({ping:1})'",
        exported={"MONGODB_URL": "mongodb://localhost:27017/app"},
    ),
    "rabbitmq": Service(
        image="rabbitmq:3",
        env={},
        port=5672,
        health="rabbitmq-diagnostics -q ping",
        exported={"AMQP_URL": "amqp://guest:guest@localhost:5672/"},
    ),
}
HEADER = (
    "# Written by `acb ci` from the project plan (`acb ci --plan`), validated (workflow schema,\n"
    "# zizmor) and with its install and test steps run locally before it was saved.\n"
)


class NoTemplate(Exception):
    """The plan is outside what the templates cover: the model (or a person) must write it."""


def planned_steps(plan: ProjectPlan) -> list[tuple[str, str]]:
    """(name, shell script) of the steps after the toolchain is set up: install, lint, test."""
    lang = plan.primary
    if lang is None or plan.test_command is None:
        raise NoTemplate("; ".join(plan.notes) or "nothing to build or test was detected")
    steps: list[tuple[str, str]] = []
    if lang.install:
        steps.append(("Install", "\n".join(lang.install)))
    known = {d.lower() for d in lang.dependencies}
    for command in plan.lint_commands:
        if command.split()[0] in known or lang.name in ("go", "rust"):
            steps.append((f"Lint ({command.split()[0]})", lang.run_prefix + command))
    steps.append(("Test", _test_command(lang, plan.test_command)))
    return steps


def _test_command(lang: LanguagePlan, command: str) -> str:
    return lang.run_prefix + command if not command.startswith(lang.run_prefix) else command


def github_workflow(plan: ProjectPlan, branch: str = "main") -> str:
    lang = plan.primary
    steps = planned_steps(plan)
    assert lang is not None
    out = [
        HEADER.rstrip("\n"),
        "name: CI",
        "on:",
        "  push:",
        f"    branches: [{json.dumps(branch)}]",
        "  pull_request:",
        "permissions:",
        "  contents: read",
        "concurrency:",
        "  group: ci-${{ github.ref }}",
        "  cancel-in-progress: true",
        "jobs:",
        "  test:",
        "    runs-on: ubuntu-latest",
        "    timeout-minutes: 30",
    ]
    env: dict[str, str] = {}
    if plan.services:
        out.append("    services:")
        for name in plan.services:
            if name not in SERVICES:
                continue
            image, variables, port, health, exported = SERVICES[name]
            env.update(exported)
            out += [f"      {name}:", f"        image: {image}"]
            if variables:
                out.append("        env:")
                out += [f"          {k}: {json.dumps(v)}" for k, v in variables.items()]
            out += [
                f'        ports: ["{port}:{port}"]',
                f"        options: >-\n          --health-cmd {json.dumps(health)}"
                "\n          --health-interval 5s --health-timeout 5s --health-retries 10",
            ]
    if env:
        out.append("    env:")
        out += [f"      {k}: {json.dumps(v)}" for k, v in env.items()]
    out += [
        "    steps:",
        f"      - uses: {CHECKOUT}",
        "        with:",
        "          persist-credentials: false",
    ]
    if lang.name in SETUP:
        action, key = SETUP[lang.name]
        out += [
            f"      - uses: {action}",
            "        with:",
            f"          {key}: {json.dumps(lang.version)}",
        ]
        if lang.name == "java":
            out.append("          distribution: temurin")
    for name, script in steps:
        out.append(f"      - name: {name}")
        if "\n" in script:
            out.append("        run: |")
            out += [f"          {line}" for line in script.splitlines()]
        else:
            out.append(f"        run: {script}")
    return "\n".join(out) + "\n"


def gitlab_pipeline(plan: ProjectPlan) -> str:
    lang = plan.primary
    steps = planned_steps(plan)
    assert lang is not None
    image = IMAGES.get(lang.name, "ubuntu:24.04").format(v=lang.version)
    out = [
        HEADER.rstrip("\n"),
        "stages: [test]",
        "",
        "test:",
        "  stage: test",
        f"  image: {json.dumps(image)}",
        "  timeout: 30m",
    ]
    variables: dict[str, str] = {}
    services = [SERVICES[s] for s in plan.services if s in SERVICES]
    if services:
        out.append("  services:")
        for image_name, env, _, _, exported in services:
            out.append(f"    - name: {json.dumps(image_name)}")
            variables.update(env)
            variables.update(
                {k: v.replace("localhost", image_name.split(":")[0]) for k, v in exported.items()}
            )
    if variables:
        out.append("  variables:")
        out += [f"    {k}: {json.dumps(v)}" for k, v in variables.items()]
    out.append("  script:")
    for _, script in steps:
        out += [f"    - {json.dumps(line)}" for line in script.splitlines()]
    return "\n".join(out) + "\n"


def workflow_path(provider: str) -> str:
    return ".github/workflows/ci.yml" if provider == "github" else ".gitlab-ci.yml"


def render(plan: ProjectPlan, provider: str, branch: str = "main") -> str:
    return github_workflow(plan, branch) if provider == "github" else gitlab_pipeline(plan)
