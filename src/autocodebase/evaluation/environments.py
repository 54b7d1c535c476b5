"""The Python environment an instance's tests need, built on this machine from the specs.

SWE-bench runs each instance in a Docker image with a conda environment. Where there is no Docker
(this machine), each (repository, version) gets a venv on the Python the spec names (pyenv's, or
`pythonX.Y` on PATH) with the spec's packages from the package index, built once and cached. Each
instance then gets a thin venv of its own inside its checkout, which sees the cached one's
packages through a `.pth` file: the spec's install step (`pip install -e .`) goes there, so two
instances of one version can run at once without installing over each other.

Builds run in the sandbox with the network on (installing an sdist runs its setup.py) and write
only the environment's own folder and the pip cache. An environment that cannot be built is
reported as such, never as an unresolved instance.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from autocodebase.errors import AcbError
from autocodebase.evaluation.checkouts import git
from autocodebase.evaluation.era import (
    UploadDates,
    UploadDatesUnavailable,
    era_of,
    exact_pins,
    pin_to_era,
)
from autocodebase.evaluation.instances import Instance
from autocodebase.evaluation.locks import build_slot, locked
from autocodebase.sandbox.environment import command_environment
from autocodebase.sandbox.policy import Limits, SandboxPolicy
from autocodebase.sandbox.run import run_command
from autocodebase.sandbox.visibility import HIDDEN_TREES

PYENV_VERSIONS = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
OVERLAY = ".acb-env"
LINKED_SITE = "linked-site"
"""In the overlay: a `sitecustomize` for the environment's interpreter started through a link."""

_LINKED_SITECUSTOMIZE = '''\
"""Written by acb eval. The environment's packages for its interpreter when started through a
link outside the venv: `tox --current-env` links .tox/ENV/bin/python to it, and Python looks for
pyvenv.cfg beside the link, not beside what it points to. In the official Docker images the
environment is a conda prefix, found through the link; this makes the venv behave the same."""
import os
import site
import sys

if sys.prefix == sys.base_prefix and os.path.realpath(sys.executable) == {python!r}:
    _outside = set(site.getsitepackages())
    sys.path[:] = [entry for entry in sys.path if entry not in _outside]
    site.addsitedir({site_packages!r})
'''
"""The instance's own venv, inside its checkout (excluded from git): what the agent's sandboxed
commands and the grading script activate."""
ALWAYS = ("setuptools<70", "wheel")
"""Editable installs run without build isolation (no network then), so the build backend must be
in the environment already. setuptools 70 dropped what many older setup.py files use."""
BUILD_TIMEOUT_S = 1800
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
"""Where an instance's commands find programs after its venv: the system's, not the user's
(pyenv's shims would answer a missing `pytest` with the host's, on the host's packages)."""


class EnvironmentUnavailable(AcbError):
    """The environment could not be built here; the instance is reported as an environment
    error, not as unresolved."""


@dataclass(frozen=True)
class Environment:
    kind: str
    """`venv` (built here from the specs); `docker` images are not used on this machine."""
    base: Path
    """The cached venv with the spec's packages."""
    python: str
    spec: dict[str, Any]
    packages_before: date | None = None
    """Packages uploaded from this day on were replaced by earlier releases (`era`)."""

    def describe(self) -> str:
        era = f", packages before {self.packages_before}" if self.packages_before else ""
        return f"{self.kind} {self.base.name} (Python {self.python}{era})"


def spec_for(instance: Instance) -> dict[str, Any]:
    """The instance's own `environment`, else SWE-bench's spec for its repository and version."""
    if instance.environment is not None:
        return instance.environment
    from swebench.harness.constants import MAP_REPO_VERSION_TO_SPECS  # lazy: 1.3 s

    spec = MAP_REPO_VERSION_TO_SPECS.get(instance.repo, {}).get(instance.version)
    if spec is None:
        raise EnvironmentUnavailable(
            f"SWE-bench has no spec for {instance.repo} {instance.version!r}, and the instance "
            "states no 'environment'"
        )
    return dict(spec)


def find_python(version: str) -> Path:
    """The newest interpreter of `version` (e.g. "3.9") on this machine."""
    if PYENV_VERSIONS.is_dir():
        candidates = [
            p
            for p in PYENV_VERSIONS.iterdir()
            if re.fullmatch(rf"{re.escape(version)}\.\d+", p.name)
        ]
        for found in sorted(candidates, key=lambda p: int(p.name.rsplit(".", 1)[1]), reverse=True):
            if (found / "bin" / "python").exists():
                return found / "bin" / "python"
    on_path = shutil.which(f"python{version}")
    if on_path:
        return Path(on_path)
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        return Path(sys.executable).resolve()
    raise EnvironmentUnavailable(f"no Python {version} on this machine (pyenv install {version})")


def requirements_of(spec: dict[str, Any], instance: Instance, checkout: Path) -> list[list[str]]:
    """Package requirements, in the groups installed one after the other: what the build
    backend needs, the repository's requirements file when the spec points there (read from the
    checkout: no network) or the spec's conda package names, then the spec's pinned pip
    packages."""
    pinned = [str(p) for p in spec.get("pip_packages", [])]
    packages = str(spec.get("packages", "") or "")
    from_file: list[str] = []
    if packages == "requirements.txt":
        from_file = _requirement_lines(instance, checkout)
    elif packages == "environment.yml":
        raise EnvironmentUnavailable(f"{instance.repo} {instance.version} needs conda")
    elif packages:
        from_file = packages.split()
    named = {_name(w) for w in [*from_file, *pinned]}
    # Editable installs here build without isolation (there is no network then), so what the
    # project's build backend needs must be in the environment already.
    build = [r for r in [*ALWAYS, *_build_requirements(checkout)] if _name(r) not in named]
    return [g for g in (list(dict.fromkeys(build)), from_file, pinned) if g]


DECLARATIONS = ("setup.py", "setup.cfg", "pyproject.toml")
"""Where a Python project declares its dependencies."""


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _build_requirements(checkout: Path) -> list[str]:
    import tomllib

    try:
        declared = tomllib.loads((checkout / "pyproject.toml").read_text())
    except (OSError, ValueError):
        return []
    requires = declared.get("build-system", {}).get("requires", [])
    return [str(r) for r in requires if isinstance(r, str)]


def _requirement_lines(instance: Instance, checkout: Path) -> list[str]:
    """The requirements file SWE-bench reads for the repository (`-r` includes followed, as
    `swebench`'s own reader does), from the checkout. VCS requirements (`git+https://...`) are
    left out: only the package index is reachable. None found: the spec's pinned packages and
    the project's own dependencies (installed with it) have to do."""
    from swebench.harness.constants import MAP_REPO_TO_REQS_PATHS

    for relative in MAP_REPO_TO_REQS_PATHS.get(instance.repo, ["requirements.txt"]):
        path = checkout / relative
        if path.is_file():
            return _read_requirements(path, checkout, set())
    return []


def _read_requirements(path: Path, checkout: Path, seen: set[Path]) -> list[str]:
    resolved = path.resolve()
    if resolved in seen or not resolved.is_relative_to(checkout.resolve()):
        return []  # a loop, or an include that leaves the checkout
    seen.add(resolved)
    found: list[str] = []
    for raw in path.read_text(errors="replace").splitlines():
        line = raw.split(" #")[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(("-r ", "--requirement ")):
            found += _read_requirements(path.parent / line.split(maxsplit=1)[1], checkout, seen)
        elif line.startswith("-") or "://" in line or line.startswith(("git+", ".", "/")):
            continue  # options, editable installs, local paths, VCS URLs
        else:
            found.append(line)
    return found


def evaluation_environment(**extra: str) -> dict[str, str]:
    """The variables of a sandboxed build, install or grading command: acb's own without
    secrets, without the host's Python settings (a PYTHONPATH or VIRTUAL_ENV of the person
    running acb would reach the graded tests, which must see the instance's environment only),
    HOME the sandbox's own /tmp, and `extra`."""
    env = {
        name: value
        for name, value in command_environment().items()
        if not name.startswith(("PYTHON", "CONDA_")) and name != "VIRTUAL_ENV"
    }
    return {**env, "HOME": "/tmp", **extra}  # noqa: S108 - the sandbox's own /tmp


def visible_in_sandbox(path: Path) -> bool:
    """Whether sandboxed commands can see `path` (homes and /run are hidden from them)."""
    resolved = path.resolve()
    return not any(resolved.is_relative_to(tree) for tree in HIDDEN_TREES)


def default_cache() -> Path:
    """Outside every home, so that the agent's sandboxed commands can read the environments
    (`private_cache` makes sure nobody else owns or can write it)."""
    shared = f"/var/tmp/acb-eval-{os.getuid()}"  # noqa: S108 - checked by private_cache
    return Path(os.environ.get("ACB_EVAL_CACHE") or shared)


def private_cache(cache: Path) -> Path:
    """`cache`, created owner-only; refused when someone else owns it or may write to it (in a
    shared /var/tmp, another user could have planted environments there)."""
    cache.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = cache.stat()
    if info.st_uid != os.getuid() or info.st_mode & 0o022:
        raise EnvironmentUnavailable(
            f"{cache} is not private to you (owner uid {info.st_uid}, mode "
            f"{oct(info.st_mode & 0o777)}): choose another folder with ACB_EVAL_CACHE"
        )
    return cache


def _sandboxed(
    command: str,
    workspace: Path,
    cache: Path,
    network: bool,
    timeout_s: int = BUILD_TIMEOUT_S,
    writable: tuple[Path, ...] = (),
) -> str:
    policy = SandboxPolicy(
        mode="workspace-write",
        network=network,
        writable_roots=(cache / "pip", *writable),
        limits=Limits(timeout_s=timeout_s, output_bytes=4000, memory_mb=0),
    )
    env = evaluation_environment(PIP_CACHE_DIR=str(cache / "pip"))
    outcome = run_command(policy, command, workspace, env)
    if outcome.exit_code != 0:
        raise EnvironmentUnavailable(
            f"{command.split(' -m ')[-1][:80]} failed ({outcome.refused or outcome.exit_code}): "
            f"{outcome.output.strip()[-600:]}"
        )
    return outcome.output


def build_base(
    instance: Instance,
    checkout: Path,
    cache: Path,
    packages_before: date | str | None = "default",
    max_builds: int = 2,
) -> Environment:
    """The cached venv for the instance's (repository, version), built if missing, with the
    packages of `packages_before`'s era ("default": the instance's own, see `era.era_of`), and
    at most `max_builds` builds at once on this machine."""
    if not visible_in_sandbox(cache):
        raise EnvironmentUnavailable(
            f"the environment cache {cache} is under a home or /run, which sandboxed commands "
            "cannot see: set ACB_EVAL_CACHE to a folder such as /var/tmp/acb-eval"
        )
    spec = spec_for(instance)
    python_version = str(spec.get("python", f"{sys.version_info.major}.{sys.version_info.minor}"))
    requirements = requirements_of(spec, instance, checkout)
    era = (
        era_of(spec, instance.environment is not None, str(instance.raw.get("created_at", "")))
        if packages_before == "default"
        else packages_before
    )
    assert era is None or isinstance(era, date)
    # The whole spec is in the key: an instance stating its own install commands never shares
    # (or poisons) the venv of one whose commands differ.
    # So is what the checkout declares it depends on: the venv gets the project's own
    # dependencies, and each instance installs its checkout into it offline.
    declared = [_read(checkout / name) for name in DECLARATIONS]
    stated = json.dumps(
        [python_version, requirements, spec, declared, *([str(era)] if era else [])],
        sort_keys=True,
        default=str,
    )
    key = hashlib.sha256(stated.encode()).hexdigest()[:12]
    base = cache / "envs" / f"{instance.repo.replace('/', '__')}-{instance.version}-{key}"
    environment = Environment("venv", base, python_version, spec, era)
    marker = base / ".acb-env.json"
    if marker.is_file():
        return environment
    with locked(base.parent / f"{base.name}.lock"), build_slot(cache, max_builds):
        if marker.is_file():  # another worker built it while we waited
            return environment
        python = find_python(python_version)
        shutil.rmtree(base, ignore_errors=True)
        started = time.monotonic()
        subprocess.run([str(python), "-m", "venv", str(base)], check=True, capture_output=True)
        (cache / "pip").mkdir(parents=True, exist_ok=True)
        pip = f"{base}/bin/python -m pip install --disable-pip-version-check -q"
        # --upgrade: the setuptools a venv comes with (58 on 3.9) satisfies "setuptools<70"
        # but is too old for today's setuptools-scm.
        # In SWE-bench's order, one pip call each: the requirements file, then the spec's pins,
        # which win where the two disagree (flask 2.3's docs.txt pins another MarkupSafe).
        for group in requirements:
            quoted = " ".join(shlex.quote(r) for r in group)
            _sandboxed(f"{pip} --upgrade {quoted}", base, cache, network=True)
        _install_dependencies(environment, checkout, cache)
        built: dict[str, Any] = {"python": str(python), "requirements": requirements}
        if era is not None:
            built["packages_before"] = str(era)
            built["downgraded"] = _downgrade_to_era(environment, python, cache, requirements)
        built["seconds"] = round(time.monotonic() - started, 1)
        marker.write_text(json.dumps(built, indent=2))
    return environment


INSTALLED = "installed.json"
LIST_INSTALLED = (
    "import json, sys\n"
    "from importlib import metadata\n"
    "found = {d.metadata['Name']: d.version for d in metadata.distributions()}\n"
    "found.pop(None, None)\n"
    "open(sys.argv[1], 'w').write(json.dumps(found))\n"
)


def _downgrade_to_era(
    environment: Environment, python: Path, cache: Path, requirements: list[list[str]]
) -> dict[str, str]:
    """`era.pin_to_era` on the built venv: listed and installed in the sandbox (the venv's own
    interpreter is the build's, never run on the host)."""
    base = environment.base
    assert environment.packages_before is not None
    listing = base / INSTALLED
    version = subprocess.run(
        [str(python), "-c", "import platform; print(platform.python_version())"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()

    def installed() -> dict[str, str]:
        listing.unlink(missing_ok=True)
        script = shlex.quote(LIST_INSTALLED)
        _sandboxed(f"{base}/bin/python -c {script} {listing}", base, cache, network=False)
        found = json.loads(listing.read_text()[:1_000_000])
        return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}

    def install(pins: list[str]) -> None:
        quoted = " ".join(shlex.quote(p) for p in pins)
        pip = f"{base}/bin/python -m pip install --disable-pip-version-check -q"
        _sandboxed(f"{pip} {quoted}", base, cache, network=True)

    try:
        return pin_to_era(
            environment.packages_before,
            version,
            UploadDates(cache),
            installed,
            install,
            keep=exact_pins(requirements),
        )
    except UploadDatesUnavailable as exc:
        raise EnvironmentUnavailable(
            f"the package index's upload dates are unreachable ({exc}); "
            "--packages-before none builds with today's packages"
        ) from exc


UNINSTALL_LOCAL = (
    "import json, subprocess, sys\n"
    "from importlib import metadata\n"
    "names = []\n"
    "for dist in metadata.distributions():\n"
    "    url = json.loads(dist.read_text('direct_url.json') or '{}').get('url', '')\n"
    "    if url.startswith('file:'):\n"
    "        names.append(dist.metadata['Name'])\n"
    "if names:\n"
    "    subprocess.run([sys.executable, '-m', 'pip', 'uninstall', '-q', '-y', *names])\n"
)
"""Removes what was installed from a local folder (the project, editable or not): each
instance installs its own checkout, and a copy of another commit must not answer for it."""


def _install_dependencies(environment: Environment, checkout: Path, cache: Path) -> None:
    """What the project itself requires, into the cached venv: SWE-bench's image build runs the
    spec's install step with the network, which brings the dependencies no spec pins (sphinx's
    sphinxcontrib-*, pylint's dill). The project's own editable install is removed again:
    each instance installs its own checkout, offline, into its overlay."""
    steps = _install_steps(environment.spec)
    if not steps:
        return
    base = environment.base
    trust = f"git config --global --add safe.directory {checkout}"
    script = " && ".join([f"source {base}/bin/activate", trust, *steps])
    _sandboxed(script, checkout, cache, network=True, writable=(base,))
    _sandboxed(f"{base}/bin/python -c {shlex.quote(UNINSTALL_LOCAL)}", base, cache, True)
    # Leave the checkout as it was (pre-install edits, build folders): the agent starts there.
    git(checkout, "checkout", "--quiet", "--", ".")
    git(checkout, "clean", "-fdxq")


def _install_steps(spec: dict[str, Any]) -> list[str]:
    """The spec's pre-install steps (those that need no root) and its install step."""
    steps = [str(s) for s in spec.get("pre_install", [])]
    steps = [s for s in steps if not s.lstrip().startswith(("apt", "sudo"))]
    if spec.get("install"):
        steps.append(str(spec["install"]))
    return steps


def site_packages(venv: Path) -> Path:
    found = sorted(venv.glob("lib/python*/site-packages"))
    if not found:
        raise EnvironmentUnavailable(f"{venv} has no site-packages")
    return found[0]


def make_overlay(environment: Environment, checkout: Path) -> Path:
    """The instance's own venv inside `checkout`, seeing the cached packages, kept out of git."""
    overlay = checkout / OVERLAY
    if overlay.is_symlink() or overlay.exists():
        # Not ours (a candidate's patch or the checkout holds one): never written through.
        raise EnvironmentUnavailable(f"{overlay} exists already; acb will not write into it")
    # The interpreter found on this machine, never the cached venv's `bin/python`: the build's
    # sandboxed install step could write that, and this runs on the host.
    python = find_python(environment.python)
    subprocess.run(
        [str(python), "-m", "venv", "--without-pip", str(overlay)], check=True, capture_output=True
    )
    (site_packages(overlay) / "acb-base-env.pth").write_text(f"{site_packages(environment.base)}\n")
    linked = overlay / LINKED_SITE
    linked.mkdir()
    (linked / "sitecustomize.py").write_text(
        _LINKED_SITECUSTOMIZE.format(
            python=os.path.realpath(python), site_packages=str(site_packages(overlay))
        )
    )
    _lend_scripts(environment.base, overlay)
    # Installs into the overlay need no network: no index, no isolated build environment.
    (overlay / "pip.conf").write_text("[global]\nno-index = true\nno-build-isolation = false\n")
    exclude = checkout / ".git" / "info" / "exclude"
    exclude.parent.mkdir(parents=True, exist_ok=True)
    with exclude.open("a") as handle:
        handle.write(f"\n/{OVERLAY}/\n")
    return overlay


def _lend_scripts(base: Path, overlay: Path) -> None:
    """The cached venv's console scripts (pytest, ...) in the overlay, run by the overlay's
    Python: under the base's own, they would not see the instance's editable install, and
    without them a bare `pytest` in a spec's test command finds the host's."""
    shebang = f"#!{base}/bin/python".encode()
    for script in (base / "bin").iterdir():
        target = overlay / "bin" / script.name
        if target.exists() or script.is_symlink() or not script.is_file():
            continue
        content = script.read_bytes()
        if not content.startswith(shebang):
            continue
        target.write_bytes(f"#!{overlay}/bin/python".encode() + content[len(shebang) :])
        target.chmod(0o755)


def install_checkout(
    environment: Environment, checkout: Path, cache: Path, timeout_s: int = 900
) -> None:
    """The spec's pre-install and install steps, in the sandbox, network off; a failure is
    an environment error (graded without it, the tests would import another copy)."""
    steps = _install_steps(environment.spec)
    if steps:
        trust = f"git config --global --add safe.directory {checkout}"  # setuptools-scm asks git
        script = " && ".join([f"source {checkout / OVERLAY}/bin/activate", trust, *steps])
        _sandboxed(script, checkout, cache, network=False, timeout_s=min(timeout_s, 900))
