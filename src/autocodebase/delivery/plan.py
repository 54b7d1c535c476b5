"""What a project needs to be built, tested and run, read from its own files: languages, package
manager, versions, how to install, test and lint it, what it starts, and which services it
needs. `acb ci --plan` prints it; the CI and deployment generators are written from it.
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from autocodebase.quality.detect import detect_all
from autocodebase.quality.project_facts import lint_commands

SERVICE_HINTS: dict[str, tuple[str, ...]] = {
    "postgres": ("psycopg", "psycopg2", "asyncpg", "pg", "postgres", "lib/pq", "pgx", "sqlx"),
    "mysql": ("mysqlclient", "pymysql", "mysql2", "mysql-connector-python", "go-sql-driver/mysql"),
    "redis": ("redis", "ioredis", "aioredis", "go-redis"),
    "mongodb": ("pymongo", "motor", "mongodb", "mongoose", "mongo-driver"),
    "rabbitmq": ("pika", "amqplib", "aio-pika", "kombu"),
}
"""Services a dependency implies (by package name), for CI service containers and compose."""

COMPOSE_FILES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")


@dataclass
class LanguagePlan:
    name: str
    """python, node, go, rust or java."""
    version: str
    version_source: str
    package_manager: str
    install: list[str] = field(default_factory=list)
    dependencies: list[str] = field(default_factory=list)
    run_prefix: str = ""
    """What runs a command inside the project's environment (`uv run `, `poetry run `)."""


@dataclass
class ProjectPlan:
    languages: list[LanguagePlan] = field(default_factory=list)
    test_command: str | None = None
    test_reason: str = ""
    lint_commands: list[str] = field(default_factory=list)
    entry_points: list[str] = field(default_factory=list)
    services: list[str] = field(default_factory=list)
    http_app: str | None = None
    """An importable WSGI/ASGI app or a server command, when the project serves HTTP."""
    dockerfile: bool = False
    notes: list[str] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def primary(self) -> LanguagePlan | None:
        return self.languages[0] if self.languages else None


def detect_plan(root: Path, configured_test: str | None = None) -> ProjectPlan:
    plan = ProjectPlan()
    for probe in (_python, _node, _go, _rust, _java):
        found = probe(root)
        if found is not None:
            plan.languages.append(found)
    tests = detect_all(root, configured_test)
    if tests:
        plan.test_command, plan.test_reason = tests[0].command, tests[0].reason
    plan.lint_commands = lint_commands(root)
    plan.entry_points = _entry_points(root)
    deps = {d.lower() for lang in plan.languages for d in lang.dependencies}
    plan.services = sorted(
        service
        for service, hints in SERVICE_HINTS.items()
        if any(d == h or d.endswith("/" + h) for d in deps for h in hints)
    ) + [s for s in _compose_services(root) if s not in SERVICE_HINTS]
    plan.http_app = _http_app(root)
    plan.dockerfile = (root / "Dockerfile").is_file()
    if not plan.languages:
        plan.notes.append("no language detected: the CI workflow needs the model or a human")
    if plan.test_command is None:
        plan.notes.append("no test command detected: set [test] command in .acb/config.toml")
    return plan


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(_read(path)) if path.is_file() else {}
    except tomllib.TOMLDecodeError:
        return {}


def _python(root: Path) -> LanguagePlan | None:
    pyproject = _toml(root / "pyproject.toml")
    requirements = root / "requirements.txt"
    has_code = (
        any(root.glob("*.py"))
        or any(root.glob("*/__init__.py"))
        or any(root.glob("src/*/__init__.py"))
    )
    if not pyproject and not requirements.is_file() and not has_code:
        return None
    version, source = f"{sys.version_info.major}.{sys.version_info.minor}", "this machine's python"
    if (root / ".python-version").is_file():
        version, source = _read(root / ".python-version").strip().split()[0], ".python-version"
    elif pyproject.get("project", {}).get("requires-python"):
        found = re.search(r"3\.(\d+)", pyproject["project"]["requires-python"])
        if found:
            version, source = f"3.{found.group(1)}", "requires-python (lowest allowed)"
    deps = list(pyproject.get("project", {}).get("dependencies", []))
    manager = "pip"
    install: list[str] = []
    prefix = ""
    if (root / "uv.lock").is_file():
        manager = "uv"
        install, prefix = ["python -m pip install uv", "uv sync --frozen"], "uv run "
    elif (root / "poetry.lock").is_file():
        manager = "poetry"
        install = ["python -m pip install poetry", "poetry install --no-interaction"]
        prefix = "poetry run "
    elif pyproject.get("project"):
        extras = pyproject["project"].get("optional-dependencies", {})
        chosen = next((e for e in ("test", "tests", "dev") if e in extras), None)
        install.append(
            f"python -m pip install -e '.[{chosen}]'" if chosen else "python -m pip install -e ."
        )
        deps += [d for extra in ([chosen] if chosen else []) for d in extras[extra]]
    if requirements.is_file():
        install.append("python -m pip install -r requirements.txt")
        deps += [
            line
            for line in _read(requirements).splitlines()
            if line.strip() and not line.startswith(("#", "-"))
        ]
    if (root / "requirements-dev.txt").is_file():
        install.append("python -m pip install -r requirements-dev.txt")
    if manager == "pip" and not any("pytest" in d.lower() for d in deps) and _pytest_used(root):
        install.append("python -m pip install pytest")
    deps = [re.split(r"[\s<>=!~\[;(]", d, maxsplit=1)[0] for d in deps]
    return LanguagePlan(
        name="python",
        version=version,
        version_source=source,
        package_manager=manager,
        install=install,
        dependencies=deps,
        run_prefix=prefix,
    )


def _pytest_used(root: Path) -> bool:
    return (
        (root / "pytest.ini").is_file()
        or (root / "conftest.py").is_file()
        or any(root.glob("tests/test_*.py"))
    )


def _node(root: Path) -> LanguagePlan | None:
    manifest = root / "package.json"
    if not manifest.is_file():
        return None
    try:
        package = json.loads(_read(manifest))
    except json.JSONDecodeError:
        package = {}
    engines = str(package.get("engines", {}).get("node", ""))
    found = re.search(r"(\d+)", engines)
    version, source = (found.group(1), "engines.node") if found else ("22", "default")
    if (root / ".nvmrc").is_file():
        version, source = _read(root / ".nvmrc").strip().lstrip("v"), ".nvmrc"
    if (root / "pnpm-lock.yaml").is_file():
        manager, install = "pnpm", ["npm install -g pnpm", "pnpm install --frozen-lockfile"]
    elif (root / "yarn.lock").is_file():
        manager, install = "yarn", ["yarn install --frozen-lockfile"]
    elif (root / "package-lock.json").is_file():
        manager, install = "npm", ["npm ci"]
    else:
        manager, install = "npm", ["npm install"]
    deps = [*package.get("dependencies", {}), *package.get("devDependencies", {})]
    return LanguagePlan(
        name="node",
        version=version,
        version_source=source,
        package_manager=manager,
        install=install,
        dependencies=deps,
    )


def _go(root: Path) -> LanguagePlan | None:
    text = _read(root / "go.mod")
    if not text:
        return None
    found = re.search(r"^go (\d+\.\d+)", text, re.M)
    deps = re.findall(r"^(?:require\s+)?\s*([\w./-]+) v\d", text, re.M)
    return LanguagePlan(
        name="go",
        version=found.group(1) if found else "stable",
        version_source="go.mod" if found else "default",
        package_manager="go modules",
        install=["go mod download"],
        dependencies=deps,
    )


def _rust(root: Path) -> LanguagePlan | None:
    cargo = _toml(root / "Cargo.toml")
    if not cargo:
        return None
    version = str(cargo.get("package", {}).get("rust-version", "stable"))
    deps = list(cargo.get("dependencies", {}))
    return LanguagePlan(
        name="rust",
        version=version,
        version_source="rust-version" if version != "stable" else "default",
        package_manager="cargo",
        install=["cargo fetch"],
        dependencies=deps,
    )


def _java(root: Path) -> LanguagePlan | None:
    if (root / "pom.xml").is_file():
        found = re.search(r"<maven\.compiler\.(?:release|source)>(\d+)<", _read(root / "pom.xml"))
        return LanguagePlan(
            name="java",
            version=found.group(1) if found else "21",
            version_source="pom.xml" if found else "default",
            package_manager="maven",
            install=["mvn -B -q dependency:go-offline"],
        )
    for name in ("build.gradle", "build.gradle.kts"):
        if (root / name).is_file():
            wrapper = "./gradlew" if (root / "gradlew").is_file() else "gradle"
            return LanguagePlan(
                name="java",
                version="21",
                version_source="default",
                package_manager="gradle",
                install=[f"{wrapper} dependencies"],
            )
    return None


def _entry_points(root: Path) -> list[str]:
    found: list[str] = []
    scripts = _toml(root / "pyproject.toml").get("project", {}).get("scripts", {})
    found += [f"{name} = {target}" for name, target in scripts.items()]
    if (root / "package.json").is_file():
        try:
            package = json.loads(_read(root / "package.json"))
        except json.JSONDecodeError:
            package = {}
        if "start" in package.get("scripts", {}):
            found.append(f"npm start ({package['scripts']['start']})")
        if isinstance(package.get("bin"), dict):
            found += [f"{k} = {v}" for k, v in package["bin"].items()]
    for candidate in ("__main__.py", "main.go", "src/main.rs", "manage.py", "app.py", "wsgi.py"):
        found += [p.relative_to(root).as_posix() for p in root.glob(f"*/{candidate}")][:3]
        if (root / candidate).is_file():
            found.append(candidate)
    return found


def _compose_services(root: Path) -> list[str]:
    for name in COMPOSE_FILES:
        text = _read(root / name)
        if text:
            import yaml

            try:
                data = yaml.safe_load(text) or {}
            except yaml.YAMLError:
                return []
            return sorted(data.get("services", {}) or {})
    return []


def _http_app(root: Path) -> str | None:
    """How the project serves HTTP: the `command` of .acb/deploy.toml, else a module that
    defines a WSGI/ASGI `app`/`application` callable."""
    configured = _toml(root / ".acb" / "deploy.toml").get("command")
    if isinstance(configured, str):
        return configured
    pattern = re.compile(r"^(app|application)\s*=", re.M)
    for path in sorted(root.glob("*/*.py"))[:200] + sorted(root.glob("*.py"))[:50]:
        if "test" in path.name or path.parts[-2].startswith("."):
            continue
        if pattern.search(_read(path)):
            module = path.relative_to(root).with_suffix("").as_posix().replace("/", ".")
            return f"{module}:{pattern.search(_read(path)).group(1)}"  # type: ignore[union-attr]
    return None


def render_plan(plan: ProjectPlan) -> str:
    lines = []
    for lang in plan.languages:
        lines.append(
            f"language: {lang.name} {lang.version} ({lang.version_source}); "
            f"package manager: {lang.package_manager}"
        )
        lines += [f"  install: {step}" for step in lang.install]
    lines.append(
        f"test: {plan.test_command} ({plan.test_reason})" if plan.test_command else "test: none"
    )
    lines += [f"lint: {c}" for c in plan.lint_commands]
    lines += [f"entry point: {e}" for e in plan.entry_points]
    lines.append(f"services: {', '.join(plan.services) or 'none'}")
    lines.append(f"http app: {plan.http_app or 'none'}")
    lines.append(f"Dockerfile: {'yes' if plan.dockerfile else 'no'}")
    lines += [f"note: {n}" for n in plan.notes]
    return "\n".join(lines) + "\n"
