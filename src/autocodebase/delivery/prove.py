"""Run a CI workflow's own steps on this machine before trusting it: in a clean copy of the
repository (the tracked files as they are now, plus the workflow), each `run:` step (GitHub) or
`script:` line (GitLab) under the sandbox, in order, stopping at the first failure.

What a hosted runner provides is stood in for: `actions/checkout` is the copy itself, a
`setup-python` step is a fresh virtualenv in the copy. Offline (the default: the sandbox has no
network unless the user allows it), that virtualenv also sees this machine's installed packages
and pip may not reach an index, so an install step passes only if what it asks for is already
here; `--network` gives the steps the network and a virtualenv that sees nothing but itself.
Steps that `uses:` other actions, and service containers, cannot run here and are listed.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import sysconfig
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from autocodebase.sandbox.environment import command_environment
from autocodebase.sandbox.policy import Limits, SandboxPolicy
from autocodebase.sandbox.run import CommandOutcome, run_command
from autocodebase.vcs.git import worktree_files

VENV = ".ci-venv"
GITLAB_RESERVED = frozenset(
    {
        "stages",
        "variables",
        "default",
        "include",
        "workflow",
        "image",
        "services",
        "before_script",
        "after_script",
        "cache",
        "pages",
    }
)


@dataclass
class Step:
    name: str
    script: str
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class StepResult:
    name: str
    script: str
    exit_code: int | None
    output: str
    duration_s: float

    @property
    def passed(self) -> bool:
        return self.exit_code == 0


@dataclass
class Proof:
    results: list[StepResult] = field(default_factory=list)
    not_run: list[str] = field(default_factory=list)
    """What a local run cannot do (other actions, service containers), said plainly."""
    error: str = ""

    @property
    def passed(self) -> bool:
        return not self.error and bool(self.results) and all(r.passed for r in self.results)

    def failure(self) -> str:
        """What went wrong, short enough to show a person or a model."""
        if self.error:
            return self.error
        failed = next((r for r in self.results if not r.passed), None)
        if failed is None:
            return ""
        tail = "\n".join(failed.output.strip().splitlines()[-25:])
        return f"step {failed.name!r} failed (exit {failed.exit_code}):\n$ {failed.script}\n{tail}"


class WorkflowUnreadable(Exception):
    pass


def steps_of(text: str, provider: str) -> tuple[list[Step], list[str]]:
    """The shell steps of the workflow's jobs in order, and what cannot run locally."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise WorkflowUnreadable(f"the workflow is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise WorkflowUnreadable("the workflow is not a YAML mapping")
    return _github(data) if provider == "github" else _gitlab(data)


def _strings(mapping: Any) -> dict[str, str]:
    if not isinstance(mapping, dict):
        return {}
    return {str(k): str(v) for k, v in mapping.items() if "${{" not in str(v)}


def _github(data: dict[str, Any]) -> tuple[list[Step], list[str]]:
    steps: list[Step] = []
    not_run: list[str] = []
    top_env = _strings(data.get("env"))
    for job_name, job in (data.get("jobs") or {}).items():
        if not isinstance(job, dict):
            continue
        job_env = {**top_env, **_strings(job.get("env"))}
        not_run += [
            f"service container {name!r} (job {job_name})" for name in job.get("services") or {}
        ]
        for index, step in enumerate(job.get("steps") or [], start=1):
            if not isinstance(step, dict):
                continue
            name = str(step.get("name") or step.get("uses") or f"step {index}")
            uses = str(step.get("uses", ""))
            if "run" in step:
                env = {**job_env, **_strings(step.get("env"))}
                steps.append(Step(name=f"{job_name}: {name}", script=str(step["run"]), env=env))
            elif uses.startswith(("actions/checkout@", "actions/setup-python@")):
                continue  # the copy itself; the virtualenv
            elif uses:
                not_run.append(f"action {uses.split('#')[0].strip()} (job {job_name})")
    return steps, not_run


def _gitlab(data: dict[str, Any]) -> tuple[list[Step], list[str]]:
    steps: list[Step] = []
    not_run: list[str] = []
    top_env = _strings(data.get("variables"))
    for job_name, job in data.items():
        if (
            job_name in GITLAB_RESERVED
            or str(job_name).startswith(".")
            or not isinstance(job, dict)
        ):
            continue
        env = {**top_env, **_strings(job.get("variables"))}
        services = [s if isinstance(s, str) else s.get("name") for s in job.get("services") or []]
        not_run += [f"service {service} (job {job_name})" for service in services]
        lines = [*(job.get("before_script") or []), *(job.get("script") or [])]
        steps += [Step(f"{job_name}: {line}", str(line), env) for line in lines]
    return steps, not_run


def prove(
    root: Path,
    workflow_file: str,
    text: str,
    provider: str,
    network: bool = False,
    timeout_s: int = 900,
    on_step: Callable[[StepResult], None] | None = None,
) -> Proof:
    proof = Proof()
    try:
        steps, proof.not_run = steps_of(text, provider)
    except WorkflowUnreadable as exc:
        proof.error = str(exc)
        return proof
    if not steps:
        proof.error = "the workflow has no shell steps to run"
        return proof
    with tempfile.TemporaryDirectory(prefix="acb-ci-") as scratch:
        copy = Path(scratch) / root.name
        _clean_copy(root, copy)
        target = copy / workflow_file
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        env = _environment(copy, network)
        policy = SandboxPolicy(network=network, limits=Limits(timeout_s=timeout_s, memory_mb=0))
        made = run_command(policy, _venv_script(network), copy, env, timeout_s)
        if made.exit_code != 0:
            proof.error = f"the CI virtualenv could not be made in the sandbox: {made.output}"
            return proof
        for step in steps:
            outcome: CommandOutcome = run_command(
                policy, step.script, copy, {**env, **step.env}, timeout_s
            )
            result = StepResult(
                name=step.name,
                script=step.script,
                exit_code=outcome.exit_code,
                output=outcome.output,
                duration_s=outcome.duration_s,
            )
            if outcome.timed_out:
                result.output += f"\n(timed out after {timeout_s} s)"
            proof.results.append(result)
            if on_step is not None:
                on_step(result)
            if not result.passed:
                break
    return proof


def _clean_copy(root: Path, copy: Path) -> None:
    """The tracked files as they are in the work tree now (plus untracked, not ignored ones):
    what a fresh checkout of the next commit would hold, without build leftovers."""
    files = worktree_files(root)
    if files is None:
        shutil.copytree(root, copy, ignore=shutil.ignore_patterns(".git", ".acb", "*.pyc"))
        return
    for name in files:
        source = root / name
        if not source.is_file() or name.startswith((".acb/", ".git/", f"{VENV}/")):
            continue
        destination = copy / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination, follow_symlinks=False)


def _environment(copy: Path, network: bool) -> dict[str, str]:
    """What the steps see: the virtualenv standing in for setup-python, and CI=true as on a
    runner."""
    venv = copy / VENV
    env = command_environment()
    env.pop("PYTHONPATH", None)
    env.update(
        CI="true",
        VIRTUAL_ENV=str(venv),
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    if not network:
        # no index to reach; and a build backend cannot be fetched, so use the one here
        env.update(PIP_NO_INDEX="1", PIP_NO_BUILD_ISOLATION="0")
    return env


def _venv_script(network: bool) -> str:
    """Made in the sandbox, like every step: making a virtualenv runs its new interpreter (for
    ensurepip), which would read any `.pth` file the repository slipped into the copy. Offline,
    it also sees this machine's installed packages."""
    lines = [f"set -e; rm -rf {VENV}; {shlex.quote(sys.executable)} -m venv {VENV}"]
    if not network:
        host = shlex.quote(sysconfig.get_paths()["purelib"])
        site = f"{VENV}/lib/python*/site-packages"
        lines.append(f'for site in {site}; do echo {host} > "$site/acb-host-packages.pth"; done')
    return "\n".join(lines)
