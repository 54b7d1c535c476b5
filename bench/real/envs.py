"""The Python environment each SWE-bench Lite project version needs, built offline.

SWE-bench runs every instance in a Docker image with a conda environment; there is no Docker
here, so each (project, version) gets a plain venv on the Python its instances were written for
(pyenv's, when this machine has it), with the pinned packages SWE-bench's own specs name, from
this machine's package index. The checkout under test is installed into it afresh per instance
(editable, no dependencies) so `python -m pytest` inside acb's sandbox imports the code acb is
changing, not a released copy. Venvs are kept in the cache between runs: building one is the
slow part, and not what the benchmark measures.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

PYENV = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"


@dataclass(frozen=True)
class ProjectEnv:
    """How to make one project version importable and testable."""

    name: str
    """The venv's directory name in the cache."""
    python: str
    """A pyenv version such as "3.9.18" (the interpreter SWE-bench's spec names), or a command."""
    packages: tuple[str, ...]
    """Pinned requirements, as SWE-bench's spec pins them where it does."""
    editable: bool = True
    """Install the checkout with `pip install -e . --no-deps` (src layouts, entry points); False
    when the repository root is importable as it is (sympy)."""
    install_env: dict[str, str] = field(default_factory=dict)
    """Extra environment for the editable install (setuptools_scm needs a version offline)."""


SYMPY = ProjectEnv("sympy-py3.9", "3.9.18", ("mpmath==1.3.0", "pytest==7.4.4"), editable=False)
PYTEST_5 = ProjectEnv(
    "pytest-5.4-py3.9",
    "3.9.18",
    (
        "atomicwrites==1.4.1",
        "attrs==23.1.0",
        "iniconfig==2.0.0",
        "more-itertools==10.1.0",
        "packaging==23.1",
        "toml==0.10.2",
        "pluggy==0.13.1",
        "py==1.11.0",
        "wcwidth==0.2.6",
        "setuptools",
        "setuptools_scm",
        "wheel",
    ),
    install_env={"SETUPTOOLS_SCM_PRETEND_VERSION": "5.4.0"},
)
PYTEST_8 = ProjectEnv(
    "pytest-8.0-py3.9",
    "3.9.18",
    (
        "iniconfig==2.0.0",
        "packaging==23.1",
        "pluggy==1.3.0",
        "exceptiongroup==1.1.3",
        "tomli==2.0.1",
        "attrs==23.1.0",
        "setuptools",
        "setuptools_scm",
        "wheel",
    ),
    install_env={"SETUPTOOLS_SCM_PRETEND_VERSION": "8.0.0"},
)
# Werkzeug as flask's 2.3 development commits knew it: 2.3 deprecates `url_parse`, which these
# commits still call, and flask's `filterwarnings = error` fails 250 tests on it.
FLASK_23 = ProjectEnv(
    "flask-2.3-py3.11",
    "3.11.7",
    (
        "werkzeug==2.2.3",
        "jinja2==3.1.2",
        "markupsafe==2.1.3",
        "itsdangerous==2.1.2",
        "click==8.1.3",
        "blinker==1.5",
        "python-dotenv==1.0.0",
        "pytest==7.4.4",
        "flit_core<4",
        "setuptools",
        "wheel",
    ),
)
# Two months later flask had moved on to Werkzeug 2.3.0 and blinker 1.6 (2.3.7 changed the test
# client's cookie API that these commits call).
FLASK_23_LATE = ProjectEnv(
    "flask-2.3-late-py3.11",
    "3.11.7",
    (
        "werkzeug==2.3.0",
        "jinja2==3.1.2",
        "markupsafe==2.1.3",
        "itsdangerous==2.1.2",
        "click==8.1.3",
        "blinker==1.6.2",
        "python-dotenv==1.0.0",
        "pytest==7.4.4",
        "flit_core<4",
        "setuptools",
        "wheel",
    ),
)
REQUESTS_2 = ProjectEnv(
    "requests-2.10-py3.9",
    "3.9.18",
    (
        "pytest==7.4.4",
        "pytest-httpbin==2.0.0",
        "httpbin==0.10.2",
        "pysocks",
        "pytest-mock",
        "setuptools",
        "wheel",
    ),
)

PYLINT_215 = ProjectEnv(
    "pylint-2.15-py3.9",
    "3.9.18",
    (
        "astroid==2.12.13",
        "dill==0.3.6",
        "platformdirs==2.6.0",
        "isort==5.10.1",
        "mccabe==0.7.0",
        "tomli==2.0.1",
        "tomlkit==0.11.6",
        "typing-extensions==4.4.0",
        "py==1.11.0",
        "pytest==7.4.4",
        "pytest-benchmark==4.0.0",
        "pytest-timeout==2.1.0",
        "gitpython",
        "setuptools",
        "wheel",
    ),
)

# Django runs its own suite (`tests/runtests.py`), on SQLite; these are the packages setup.py
# asks for at those versions, no optional ones (their tests skip).
DJANGO_3 = ProjectEnv(
    "django-3-py3.8",
    "3.8.18",
    ("asgiref==3.3.4", "sqlparse==0.4.4", "pytz==2023.3", "setuptools", "wheel"),
)
DJANGO_4 = ProjectEnv(
    "django-4-py3.9",
    "3.9.18",
    ("asgiref==3.6.0", "sqlparse==0.4.4", "setuptools", "wheel"),
)

ENVS: dict[tuple[str, str], ProjectEnv] = {
    **{("sympy/sympy", v): SYMPY for v in ("1.9", "1.10", "1.11", "1.12", "1.13")},
    ("pytest-dev/pytest", "5.4"): PYTEST_5,
    ("pytest-dev/pytest", "8.0"): PYTEST_8,
    ("pallets/flask", "2.3"): FLASK_23,
    ("psf/requests", "2.10"): REQUESTS_2,
    ("pylint-dev/pylint", "2.15"): PYLINT_215,
    **{("django/django", v): DJANGO_3 for v in ("3.0", "3.1", "3.2")},
    **{("django/django", v): DJANGO_4 for v in ("4.0", "4.1", "4.2")},
}
"""The project versions the benchmark knows how to install; other instances are left out."""
BY_INSTANCE: dict[str, ProjectEnv] = {"pallets__flask-5063": FLASK_23_LATE}
"""Instances whose commit needs other pins than the rest of their version."""


def env_for(instance: dict[str, str]) -> ProjectEnv | None:
    found = BY_INSTANCE.get(instance["instance_id"])
    return found or ENVS.get((instance["repo"], instance["version"]))


def interpreter(python: str) -> str:
    """The pyenv interpreter for a version, else `python` taken as a command."""
    candidate = PYENV / python / "bin" / "python"
    if candidate.exists():
        return str(candidate)
    found = shutil.which(python) or shutil.which(f"python{python.rsplit('.', 1)[0]}")
    if found is None:
        raise RuntimeError(f"no Python {python} on this machine (pyenv or PATH)")
    return found


def ensure_venv(spec: ProjectEnv, where: Path) -> Path:
    """The venv for `spec` under `where` (built once, reused); returns its bin directory."""
    bin_dir = where / "bin"
    stamp = where / ".bench-real-ready"
    if stamp.exists():
        return bin_dir
    if where.exists():
        shutil.rmtree(where)
    subprocess.run([interpreter(spec.python), "-m", "venv", str(where)], check=True)
    pip = [str(bin_dir / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, *spec.packages], check=True)
    stamp.write_text("\n".join(spec.packages) + "\n")
    return bin_dir


def install_checkout(spec: ProjectEnv, bin_dir: Path, checkout: Path) -> None:
    """Point the venv at this checkout: the code under test is the one acb edits."""
    if not spec.editable:
        return
    env = {**os.environ, **spec.install_env}
    subprocess.run(
        [
            str(bin_dir / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "--no-deps",
            "--no-build-isolation",
            "-e",
            str(checkout),
        ],
        check=True,
        env=env,
        capture_output=True,
    )
