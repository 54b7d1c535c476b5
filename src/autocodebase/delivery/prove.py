"""Run a CI workflow's own steps on this machine before trusting it: in a clean copy of the
repository (the tracked files as they are now, plus the workflow), each `run:` step (GitHub) or
`script:` line (GitLab) under the sandbox, in order, stopping at the first failure.

What a hosted runner provides is stood in for: `actions/checkout` is the copy itself, a
`setup-python` step is a fresh virtualenv in the copy. Offline (the default: the sandbox has no
network unless the user allows it), that virtualenv also sees this machine's installed packages
and pip may not reach an index, so an install step passes only if what it asks for is already
here; `--network` gives the steps the network and a virtualenv that sees nothing but itself.
Steps that `uses:` other actions, and service containers, cannot run here and are listed.

A `Runner` adds what a hosted runner gives the steps beyond the repository, for steps that read
it: predefined variables and `${{ }}` values (the event), directories such as the action's own
checkout (`GITHUB_ACTION_PATH`), a clone with history instead of the files alone, one GitLab
job. `prove_action` proves a composite action's steps (`action.yml`) on a project that uses it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import shlex
import shutil
import sys
import sysconfig
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from autocodebase.sandbox.environment import command_environment
from autocodebase.sandbox.policy import Limits, SandboxPolicy
from autocodebase.sandbox.run import CommandOutcome, run_command
from autocodebase.vcs.git import git, worktree_files

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


@dataclass(frozen=True)
class Runner:
    """What a hosted runner would give the steps beyond the repository."""

    env: Mapping[str, str] = field(default_factory=dict)
    """Predefined variables (`GITHUB_EVENT_NAME`, `CI_MERGE_REQUEST_IID`, ...)."""
    context: Mapping[str, str] = field(default_factory=dict)
    """Values of `${{ }}` expressions by their text (`inputs.mode`,
    `github.event.pull_request.base.sha`); one not given is empty, as a missing property is
    on a runner (and is listed in `Proof.not_run`)."""
    directories: Mapping[str, Path] = field(default_factory=dict)
    """Variable -> a directory whose files (tracked, as for the repository) are copied beside
    the workspace, writable, with the variable naming the copy (`GITHUB_ACTION_PATH`)."""
    jobs: frozenset[str] | None = None
    """Only these jobs (GitLab), e.g. the one job a pipeline source selects."""
    history: bool = False
    """A clone with the repository's history (checkout with `fetch-depth: 0`) instead of its
    files alone; committed state only."""
    origin: str | None = None
    """The clone's `origin` URL, as `actions/checkout` sets it to the repository's URL on the
    forge (with `history`; default: the local repository it was cloned from)."""
    writable_git: bool = False
    """The steps may write the clone's `.git` (config, commits, branches, worktrees), as a job
    may on a runner; otherwise it stays read-only, as in every sandboxed workspace."""
    network: bool = False
    """The steps share this machine's network, as a runner's steps have one: to reach a forge
    or a model served on loopback. Packages still come from this machine only (offline pip)
    unless `prove`'s own `network` is given too."""
    scratch: Path | None = None
    """Where to make the copies, kept afterwards (default: a temporary directory, removed)."""


EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


class WorkflowUnreadable(Exception):
    pass


def steps_of(
    text: str, provider: str, runner: Runner | None = None
) -> tuple[list[Step], list[str]]:
    """The shell steps of the workflow's jobs in order (provider `github`, `gitlab`), or of a
    composite action (`github-action`), and what cannot run locally."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise WorkflowUnreadable(f"the workflow is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise WorkflowUnreadable("the workflow is not a YAML mapping")
    values = _Values(runner.context) if runner is not None else None
    if provider == "github-action":
        return _action(data, _Values(runner.context if runner else {}))
    if provider == "github":
        return _github(data, values)
    return _gitlab(data, runner.jobs if runner else None)


class _Values:
    """`${{ }}` expressions in `env:` values, given the runner's context: each becomes its
    value, or empty when the context does not have it (and that is noted)."""

    def __init__(self, context: Mapping[str, str]):
        self.context = dict(context)
        self.missing: list[str] = []

    def expand(self, text: str) -> str:
        def value(match: re.Match[str]) -> str:
            if match.group(1) not in self.context:
                self.missing.append(match.group(1))
            return self.context.get(match.group(1), "")

        return EXPRESSION.sub(value, text)


def _strings(mapping: Any, values: _Values | None = None) -> dict[str, str]:
    """An `env:` mapping; without values, a variable holding an expression is left out."""
    if not isinstance(mapping, dict):
        return {}
    if values is None:
        return {str(k): str(v) for k, v in mapping.items() if "${{" not in str(v)}
    return {str(k): values.expand(str(v)) for k, v in mapping.items()}


def _github(data: dict[str, Any], values: _Values | None) -> tuple[list[Step], list[str]]:
    steps: list[Step] = []
    not_run: list[str] = []
    top_env = _strings(data.get("env"), values)
    for job_name, job in (data.get("jobs") or {}).items():
        if not isinstance(job, dict):
            continue
        job_env = {**top_env, **_strings(job.get("env"), values)}
        not_run += [
            f"service container {name!r} (job {job_name})" for name in job.get("services") or {}
        ]
        job_steps, job_not_run = _github_steps(job.get("steps"), job_env, values, job_name)
        steps += job_steps
        not_run += job_not_run
    return steps, not_run


def _github_steps(
    listed: Any, base_env: dict[str, str], values: _Values | None, where: str
) -> tuple[list[Step], list[str]]:
    steps: list[Step] = []
    not_run: list[str] = []
    for index, step in enumerate(listed or [], start=1):
        if not isinstance(step, dict):
            continue
        name = str(step.get("name") or step.get("uses") or f"step {index}")
        uses = str(step.get("uses", ""))
        if "run" in step and "if" in step and values is not None:
            not_run.append(f"step {name!r} ({where}): its condition is not evaluated here")
        elif "run" in step:
            env = {**base_env, **_strings(step.get("env"), values)}
            script = str(step["run"])
            if step.get("shell") == "bash":  # what the runner runs: bash -eo pipefail {0}
                script = f"set -eo pipefail\n{script}"
            steps.append(Step(name=f"{where}: {name}", script=script, env=env))
        elif uses.startswith(("actions/checkout@", "actions/setup-python@")):
            continue  # the copy itself; the virtualenv
        elif uses:
            not_run.append(f"action {uses.split('#')[0].strip()} ({where})")
    if values is not None:
        not_run += [f"`${{{{ {e} }}}}` ({where}): not given, empty" for e in values.missing]
        values.missing.clear()
    return steps, not_run


def _action(data: dict[str, Any], values: _Values) -> tuple[list[Step], list[str]]:
    """A composite action's steps; `inputs.X` not in the context take the input's default."""
    runs = data.get("runs") or {}
    if not isinstance(runs, dict) or runs.get("using") != "composite":
        raise WorkflowUnreadable("only composite actions (`runs.using: composite`) run here")
    for name, spec in (data.get("inputs") or {}).items():
        default = str(spec.get("default", "")) if isinstance(spec, dict) else ""
        values.context.setdefault(f"inputs.{name}", values.expand(default))
    return _github_steps(runs.get("steps"), {}, values, "action")


def _gitlab(data: dict[str, Any], jobs: frozenset[str] | None) -> tuple[list[Step], list[str]]:
    steps: list[Step] = []
    not_run: list[str] = []
    top_env = _strings(data.get("variables"))
    for job_name, job in data.items():
        if (
            job_name in GITLAB_RESERVED
            or str(job_name).startswith(".")
            or not isinstance(job, dict)
            or (jobs is not None and job_name not in jobs)
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
    runner: Runner | None = None,
) -> Proof:
    """Run the workflow's steps on a clean copy of `root` with the workflow written into it."""
    proof = Proof()
    try:
        steps, proof.not_run = steps_of(text, provider, runner)
    except WorkflowUnreadable as exc:
        proof.error = str(exc)
        return proof
    with _place(runner) as scratch:
        copy = _workspace(root, scratch, runner)
        target = copy / workflow_file
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        _run_steps(proof, steps, copy, copy / VENV, runner, provider, network, timeout_s, on_step)
    return proof


def prove_action(
    action_root: Path,
    root: Path,
    runner: Runner,
    network: bool = False,
    timeout_s: int = 900,
    on_step: Callable[[StepResult], None] | None = None,
) -> Proof:
    """Run the steps of the composite action in `action_root` (its `action.yml`) as a workflow
    step that `uses:` it would, on a clean copy of the project `root`: the action's files are
    copied where `GITHUB_ACTION_PATH` says, `inputs.*` come from `runner.context` or the
    inputs' defaults, and `setup-python` is the virtualenv, made under `RUNNER_TEMP`."""
    proof = Proof()
    try:
        text = (action_root / "action.yml").read_text()
        steps, proof.not_run = steps_of(text, "github-action", runner)
    except (OSError, WorkflowUnreadable) as exc:
        proof.error = str(exc)
        return proof
    runner = dataclasses.replace(
        runner, directories={"GITHUB_ACTION_PATH": action_root, **runner.directories}
    )
    with _place(runner) as scratch:
        copy = _workspace(root, scratch, runner)
        venv = scratch / "runner-temp" / VENV
        _run_steps(proof, steps, copy, venv, runner, "github", network, timeout_s, on_step)
    return proof


@contextlib.contextmanager
def _place(runner: Runner | None) -> Iterator[Path]:
    if runner is not None and runner.scratch is not None:
        runner.scratch.mkdir(parents=True, exist_ok=True)
        yield runner.scratch
        return
    with tempfile.TemporaryDirectory(prefix="acb-ci-") as scratch:
        yield Path(scratch)


def _workspace(root: Path, scratch: Path, runner: Runner | None) -> Path:
    copy = scratch / root.name
    if runner is not None and runner.history:
        # a checkout with fetch-depth: 0: the history, the committed files, `origin` = root.
        # acb's git allows no transport; this one local clone needs the file one.
        allow_file = {
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "protocol.file.allow",
            "GIT_CONFIG_VALUE_0": "always",
        }
        git(scratch, "clone", "--quiet", "--no-hardlinks", str(root), str(copy), env=allow_file)
        if runner.origin is not None:
            git(copy, "remote", "set-url", "origin", runner.origin)
    else:
        _clean_copy(root, copy)
    return copy


def _run_steps(
    proof: Proof,
    steps: list[Step],
    copy: Path,
    venv: Path,
    runner: Runner | None,
    provider: str,
    network: bool,
    timeout_s: int,
    on_step: Callable[[StepResult], None] | None,
) -> None:
    if not steps:
        proof.error = "the workflow has no shell steps to run"
        return
    env = _environment(venv, network)
    writable: tuple[Path, ...] = ()
    if runner is not None:
        extra, writable = _runner_environment(runner, copy, provider)
        env.update(extra)
    policy = SandboxPolicy(
        network=network or (runner is not None and runner.network),
        writable_roots=writable,
        limits=Limits(timeout_s=timeout_s, memory_mb=0),
    )
    # The sandbox keeps a workspace's `.git` read-only; a runner's job owns its clone's, so
    # then the workspace is the folder holding the clone (the steps still run in the clone).
    workspace = copy.parent if runner is not None and runner.writable_git else copy
    made = run_command(policy, _venv_script(venv, network), workspace, env, timeout_s, cwd=copy)
    if made.exit_code != 0:
        proof.error = f"the CI virtualenv could not be made in the sandbox: {made.output}"
        return
    for step in steps:
        outcome: CommandOutcome = run_command(
            policy, step.script, workspace, {**env, **step.env}, timeout_s, cwd=copy
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


def _runner_environment(
    runner: Runner, copy: Path, provider: str
) -> tuple[dict[str, str], tuple[Path, ...]]:
    """The runner's variables, its directories (copied), and the paths steps may write."""
    temp = copy.parent / "runner-temp"
    temp.mkdir(exist_ok=True)
    env: dict[str, str] = {}
    if provider == "github":
        for name in ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH", "GITHUB_STEP_SUMMARY"):
            env[name] = str(temp / name.lower())
            Path(env[name]).touch()
        env.update(GITHUB_WORKSPACE=str(copy), RUNNER_TEMP=str(temp), GITHUB_ACTIONS="true")
    else:
        env.update(CI_PROJECT_DIR=str(copy), GITLAB_CI="true")
    for name, source in runner.directories.items():
        target = copy.parent / f"runner-{name.lower()}"
        if not target.exists():
            _clean_copy(source, target)
        env[name] = str(target)
    env.update(runner.env)
    writable = (temp, *(copy.parent / f"runner-{n.lower()}" for n in runner.directories))
    return env, writable


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


def _environment(venv: Path, network: bool) -> dict[str, str]:
    """What the steps see: the virtualenv standing in for setup-python, and CI=true as on a
    runner."""
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


def _venv_script(venv: Path, network: bool) -> str:
    """Made in the sandbox, like every step: making a virtualenv runs its new interpreter (for
    ensurepip), which would read any `.pth` file the repository slipped into the copy. Offline,
    it also sees this machine's installed packages; and since no build backend can be fetched
    then, the one installed here stands in for it: the copy of setuptools that `venv` bundles
    (65.x on Python 3.11, too old for PEP 639 licences) would shadow it, so it goes."""
    where = shlex.quote(str(venv))
    lines = [f"set -e; rm -rf {where}; {shlex.quote(sys.executable)} -m venv {where}"]
    if not network:
        purelib = sysconfig.get_paths()["purelib"]
        host = shlex.quote(purelib)
        site = f"{where}/lib/python*/site-packages"
        lines.append(f'for site in {site}; do echo {host} > "$site/acb-host-packages.pth"; done')
        if (Path(purelib) / "setuptools").is_dir():
            lines.append(f"{where}/bin/python -m pip uninstall --yes --quiet setuptools")
    return "\n".join(lines)
