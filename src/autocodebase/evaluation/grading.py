"""Grading the official way: SWE-bench's own eval script, log parser and report, run here.

The script comes from the `swebench` package for the instance (reset the test files, apply the
test patch, run the spec's test command between the START/END markers), with only its Docker
specifics rewritten: the conda activation becomes the instance's venv, `/testbed` its checkout.
It runs in the sandbox with the network off, on a fresh checkout at the base commit with the
candidate patch applied as the harness applies it (`git apply`, then `patch --fuzz=5`). The log
is parsed and graded by `swebench.harness.grading.get_eval_report`: FAIL_TO_PASS and
PASS_TO_PASS, as on the leaderboard.
"""

from __future__ import annotations

import re
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from autocodebase.evaluation.checkouts import checkout, git
from autocodebase.evaluation.environments import (
    LINKED_SITE,
    OVERLAY,
    SYSTEM_PATH,
    Environment,
    EnvironmentUnavailable,
    evaluation_environment,
    install_checkout,
    make_overlay,
)
from autocodebase.evaluation.instances import Instance
from autocodebase.sandbox.policy import Limits, SandboxPolicy
from autocodebase.sandbox.run import run_command

APPLY_COMMANDS = (
    "git apply --verbose",
    "git apply --verbose --reject",
    "patch --batch --fuzz=5 -p1 -i",
)
"""What the official harness tries, in its order (`swebench.harness.run_evaluation`)."""
CGROUP_V1_CPU = Path("/sys/fs/cgroup/cpu")


def cpu_weight_folders(cpu: Path = CGROUP_V1_CPU) -> tuple[Path, ...]:
    """The cgroup v1 CPU controller's folder when it sets no quota, to be shown empty to the
    graded tests. Without a quota, `cpu.shares` is a relative weight (1024 by default), yet
    some projects read it as a CPU count: pylint 2.x divides it by 1024, finds 1 CPU on this
    2-core machine and skips its "needs 2 cores" tests, which SWE-bench counts as failed. Its
    spec grants pylint 2 CPUs (`nano_cpus`), and in Docker on a cgroup v2 host, where the
    leaderboard's images run, that folder does not exist and pylint counts the cores."""
    try:
        quota = int((cpu / "cpu.cfs_quota_us").read_text().strip())
    except (OSError, ValueError):
        return ()
    return (cpu.resolve(),) if quota == -1 and (cpu / "cpu.shares").is_file() else ()


NO_NETWORK = re.compile(
    r"Network is unreachable|\[Errno 101\]|Name or service not known|Temporary failure in "
    r"name resolution|No address associated with hostname|\[Errno -[235]\]|socket\.gaierror"
)
"""How a test says it found no network: no route, no name resolution. A refused connection
is not among them (a test's own loopback server that did not start is the test's fault)."""
_SECTION = re.compile(r"^_{3,} (.+?) _{3,}$", re.MULTILINE)


def failed_for_network(log: str, failed: list[str]) -> list[str]:
    """The graded tests among `failed` whose failure report in pytest's log shows no network."""
    sections: dict[str, str] = {}
    headers = list(_SECTION.finditer(log))
    for header, following in zip(headers, [*headers[1:], None], strict=True):
        end = following.start() if following else len(log)
        sections[header.group(1)] = log[header.end() : end]
    found = []
    for test in failed:
        title = ".".join(test.split("::")[1:]) or test
        text = "".join(body for name, body in sections.items() if name.endswith(title))
        if NO_NETWORK.search(text):
            found.append(test)
    return found


LOG_PARSERS = ("pytest", "django", "sympy", "seaborn", "matplotlib", "sphinx", "requests")


@dataclass(frozen=True)
class Grade:
    resolved: bool
    applied: bool
    log: Path
    tests_status: dict[str, Any]


def register_own_environment(instance: Instance) -> None:
    """Let SWE-bench's functions grade an instance that states its own environment: its spec,
    language and log parser go into the package's tables under its repository's name."""
    spec = instance.environment
    if spec is None:
        return
    from swebench.harness.constants import MAP_REPO_TO_EXT, MAP_REPO_VERSION_TO_SPECS
    from swebench.harness.log_parsers import MAP_REPO_TO_PARSER
    from swebench.harness.log_parsers import python as parsers

    parser_name = str(spec.get("log_parser", "pytest"))
    parser = getattr(parsers, f"parse_log_{parser_name}", None)
    if parser is None:
        raise ValueError(f"unknown log_parser {parser_name!r} (one of {', '.join(LOG_PARSERS)})")
    MAP_REPO_VERSION_TO_SPECS.setdefault(instance.repo, {})[instance.version] = dict(spec)
    MAP_REPO_TO_EXT.setdefault(instance.repo, "py")
    MAP_REPO_TO_PARSER[instance.repo] = parser


def test_spec_of(instance: Instance) -> Any:
    """SWE-bench's TestSpec for the instance, with its eval script. Built from the package's
    script makers directly: `make_test_spec` also writes the conda set-up, which fetches the
    requirements from GitHub, and that set-up is not used here."""
    from swebench.harness.constants import MAP_REPO_TO_EXT, MAP_REPO_VERSION_TO_SPECS
    from swebench.harness.test_spec.create_scripts import make_eval_script_list
    from swebench.harness.test_spec.test_spec import TestSpec

    register_own_environment(instance)
    specs = MAP_REPO_VERSION_TO_SPECS[instance.repo][instance.version]
    record = {**instance.raw, "version": instance.version}
    eval_script = make_eval_script_list(
        record, specs, "testbed", "/testbed", instance.base_commit, instance.test_patch
    )
    return TestSpec(
        instance_id=instance.instance_id,
        repo=instance.repo,
        version=instance.version,
        repo_script_list=[],
        eval_script_list=eval_script,
        env_script_list=[],
        arch="x86_64",
        FAIL_TO_PASS=list(instance.fail_to_pass),
        PASS_TO_PASS=list(instance.pass_to_pass),
        language=MAP_REPO_TO_EXT[instance.repo],
        docker_specs={},
        namespace=None,
    )


def missing_test_runner(instance: Instance, worktree: Path) -> str | None:
    """The program the spec's test command starts, when neither the instance's venv nor the
    system has it."""
    from swebench.harness.constants import MAP_REPO_VERSION_TO_SPECS

    command = MAP_REPO_VERSION_TO_SPECS[instance.repo][instance.version]["test_cmd"]
    if isinstance(command, list):
        command = command[-1]
    words = [w for w in shlex.split(str(command)) if not re.match(r"^\w+=", w)]
    runner = words[0] if words else None
    if runner is None or "/" in runner:
        return None  # a script of the repository's own (bin/test, ./tests/runtests.py)
    if (worktree / OVERLAY / "bin" / runner).exists() or shutil.which(runner, path=SYSTEM_PATH):
        return None
    return runner


def test_files_of(instance: Instance) -> list[str]:
    from swebench.harness.utils import get_modified_files

    return list(get_modified_files(instance.test_patch))


def local_eval_script(lines: list[str], worktree: Path) -> str:
    """The official eval script with its Docker specifics made local."""
    local = ["#!/bin/bash", "set -uxo pipefail"]
    for line in lines:
        if line.startswith("git apply"):  # the test patch: leave its text alone
            local.append(line)
            continue
        if line == "source /opt/miniconda3/bin/activate":
            continue
        if line.startswith("conda activate"):
            # Only the instance's venv and the system's programs: a bare `pytest` the venv
            # lacks must fail, not run the host's (pyenv's shims) on the host's packages.
            local.append(f"source {worktree / OVERLAY}/bin/activate")
            local.append(f'export PATH="{worktree / OVERLAY}/bin:{SYSTEM_PATH}"')
            linked = worktree / OVERLAY / LINKED_SITE
            local.append(f'export PYTHONPATH="{linked}${{PYTHONPATH:+:$PYTHONPATH}}"')
            continue
        local.append(line.replace("/testbed", str(worktree)))
    return "\n".join(local) + "\n"


_PATCH_PATH = re.compile(r"^(?:diff --git a/(\S+) b/(\S+)|--- (\S+)|\+\+\+ (\S+))", re.MULTILINE)


def touches_private(patch: str) -> str | None:
    """A path in `patch` inside `.git` or the instance's venv, which the host works in after
    applying it (a symlink planted there would have the host write where it points)."""
    for match in _PATCH_PATH.finditer(patch):
        for path in filter(None, match.groups()):
            parts = PurePosixPath(path).parts
            inner = parts[1:] if parts[:1] in (("a",), ("b",)) else parts
            if ".git" in inner or inner[:1] == (OVERLAY,) or ".." in inner:
                return str(path)
    return None


def apply_candidate(worktree: Path, patch: str, timeout_s: int) -> bool:
    """The harness's apply commands, in the sandbox: there `.git` is read-only, so a patch that
    names it however it is spelled (GNU patch decodes C-quoted names) cannot rewrite the
    repository's config, which the host's git would then obey."""
    patch_file = worktree / OVERLAY / "candidate.patch"
    patch_file.parent.mkdir()
    patch_file.write_text(patch)
    policy = SandboxPolicy(
        mode="workspace-write", network=False, limits=Limits(timeout_s=timeout_s)
    )
    env = evaluation_environment()
    try:
        for command in APPLY_COMMANDS:
            outcome = run_command(policy, f"{command} {patch_file}", worktree, env)
            if outcome.exit_code == 0:
                return True
            git(worktree, "checkout", "--", ".", check=False)
            git(worktree, "clean", "-fdq", "-e", OVERLAY, check=False)
        return False
    finally:
        shutil.rmtree(patch_file.parent, ignore_errors=True)


def grade(
    instance: Instance,
    patch: str,
    environment: Environment,
    source: Path,
    workdir: Path,
    timeout_s: int,
    cache: Path,
    network: bool = False,
) -> Grade:
    """Apply `patch` to a fresh checkout and run the official evaluation on it (with the
    network only when `network`); an `EnvironmentUnavailable` when the checkout cannot be
    installed or tested there."""
    from swebench.harness.grading import get_eval_report

    worktree = checkout(source, instance.base_commit, workdir / "grading")
    log = workdir / "eval.log"
    spec = test_spec_of(instance)
    prediction = {
        "instance_id": instance.instance_id,
        "model_name_or_path": "acb",
        "model_patch": patch,
    }
    if not patch.strip():
        log.write_text("empty patch: nothing to evaluate\n")
        return Grade(False, False, log, {})
    private = touches_private(patch)
    if private is not None:
        log.write_text(f">>>>> Patch Apply Failed\nrefused: the patch writes {private}\n")
        return Grade(False, False, log, {})
    if not apply_candidate(worktree, patch, timeout_s):
        log.write_text(">>>>> Patch Apply Failed\n")
        return Grade(False, False, log, {})
    # The script starts by resetting the test files (`git checkout BASE FILES`), which the
    # sandbox's read-only .git refuses: the same command, here, so that a candidate's edits
    # to those files do not survive into the grading.
    git(worktree, "checkout", instance.base_commit, "--", *test_files_of(instance), check=False)
    make_overlay(environment, worktree)
    # Installed first, apart: a failed install is an environment error. Graded anyway, the
    # tests would import whatever copy of the project they find, and could pass.
    install_checkout(environment, worktree, cache, timeout_s)
    missing = missing_test_runner(instance, worktree)
    if missing is not None:
        raise EnvironmentUnavailable(
            f"the spec's test command runs {missing}, which is not in the environment"
        )
    script = worktree / OVERLAY / "eval.sh"  # the sandbox does not show .git to commands
    script.write_text(local_eval_script(spec.eval_script_list, worktree))
    policy = SandboxPolicy(
        mode="workspace-write",
        network=network,
        emptied=cpu_weight_folders(),
        limits=Limits(
            timeout_s=timeout_s,
            output_bytes=48 * 1024 * 1024,
            kill_after_output_bytes=96 * 1024 * 1024,
            memory_mb=0,
        ),
    )
    env = evaluation_environment(PIP_NO_INDEX="1")
    outcome = run_command(policy, f"bash {script}", worktree, env)
    log.write_text(outcome.output)
    if outcome.exit_code is None and outcome.refused:
        raise RuntimeError(f"evaluation not run: {outcome.refused}")
    report = get_eval_report(spec, prediction, str(log), include_tests_status=True)
    result = report[instance.instance_id]
    status = result.get("tests_status", {})
    if not result["resolved"] and not network:
        graded = [status.get(key, {}) for key in ("FAIL_TO_PASS", "PASS_TO_PASS")]
        failed = [test for group in graded for test in group.get("failure", [])]
        offline = failed_for_network(outcome.output, failed)
        if offline:
            raise EnvironmentUnavailable(
                f"{len(offline)} graded test(s) need the network, which grading here does not "
                f"have ({', '.join(offline[:3])}{', ...' if len(offline) > 3 else ''}): "
                "--grading-network grades them where the internet is reachable"
            )
    return Grade(
        bool(result["resolved"]),
        bool(result["patch_successfully_applied"]),
        log,
        status,
    )
