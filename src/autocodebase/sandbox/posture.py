"""How well this machine can contain commands: what `acb sandbox --check` reports.

Each check says what holds and, where something falls short, what that means in practice, so a
person deciding whether to point acb at a repository they care about can read the answer
without knowing bubblewrap. Checks that can be made by trying are made by trying (in the
sandbox, harmlessly: `test -w`, never a write to the kernel's tunables).
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from autocodebase.programs import which
from autocodebase.sandbox.bwrap import bwrap_problem
from autocodebase.sandbox.limits import enforcement
from autocodebase.sandbox.policy import SandboxPolicy
from autocodebase.sandbox.run import run_command
from autocodebase.sandbox.visibility import visibility

Status = Literal["ok", "warn", "fail"]


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def _bubblewrap() -> Check:
    problem = bwrap_problem()
    if problem:
        return Check("bubblewrap", "fail", problem)
    binary = which("bwrap") or "bwrap"
    version = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    return Check("bubblewrap", "ok", f"{version.stdout.strip() or 'bwrap'} creates namespaces")


def _user() -> Check:
    namespaces = _read("/proc/sys/user/max_user_namespaces")
    unprivileged = _read("/proc/sys/kernel/unprivileged_userns_clone")
    userns = (
        "user namespaces available"
        if namespaces not in (None, "0") and unprivileged != "0"
        else "unprivileged user namespaces off"
    )
    if os.geteuid() == 0:
        return Check(
            "user",
            "warn",
            f"running as root ({userns}): commands run as root in the sandbox, with every "
            "capability dropped, the kernel's tunables read-only and host data hidden; a "
            "non-root user is a further wall",
        )
    return Check("user", "ok", f"running as uid {os.geteuid()} ({userns})")


def _limits(policy: SandboxPolicy) -> list[Check]:
    said = enforcement(policy.limits.max_processes, policy.limits.memory_mb)
    checks = []
    for name, text in said.items():
        weak = "only" in text or "root is exempt" in text
        checks.append(Check(f"limit: {name}", "warn" if weak else "ok", text))
    checks.append(Check("limit: /tmp", "ok", f"private, {policy.limits.tmp_mb} MB, and /dev/shm"))
    return checks


def _hidden(env: Mapping[str, str]) -> list[Check]:
    seen = visibility(env)
    trees = ", ".join(str(t) for t in seen.hidden_trees)
    lent = ", ".join(str(p) for p in seen.lent_back) or "nothing"
    secrets = len(seen.hidden_dirs) + len(seen.hidden_files)
    return [
        Check("hidden", "ok", f"replaced by empty directories: {trees}"),
        Check("lent back", "ok", f"read-only, for tools: {lent}"),
        Check("credentials", "ok", f"{secrets} credential paths found and hidden after binds"),
    ]


def _host_paths_to_hide(env: Mapping[str, str], limit: int = 6) -> list[Path]:
    """A few real paths a command must not see: entries of the homes that are not lent-back
    toolchains, and sockets under /run."""
    seen = visibility(env)
    found: list[Path] = []
    for tree in seen.hidden_trees:
        try:
            entries = sorted(tree.iterdir())[:50]
        except OSError:
            continue
        for entry in entries:
            lent = any(
                entry == p or entry in p.parents or p in entry.parents for p in seen.lent_back
            )
            if not lent and (entry.is_socket() or tree != Path("/run")):
                found.append(entry)
    return found[:limit]


def _probes(policy: SandboxPolicy, workspace: Path, env: Mapping[str, str]) -> list[Check]:
    hidden = _host_paths_to_hide(env)
    probes = {
        "kernel tunables": ("test -w /proc/sys/kernel/core_pattern", False),
        "workspace": ("test -w .", policy.mode == "workspace-write"),
        ".git/.acb": ("test -w .acb || test -w .git", False),
    }
    if hidden:
        probes["host data"] = (" || ".join(f"test -e {shlex.quote(str(p))}" for p in hidden), False)
    if not policy.network:
        probes["network"] = ("grep -v -e 'lo:' -e '|' /proc/net/dev | grep -q :", False)
    checks = []
    for name, (command, expected) in probes.items():
        outcome = run_command(policy, command, workspace, env, timeout_s=20)
        reached = outcome.exit_code == 0
        verb = "reachable" if reached else "not reachable"
        if reached == expected:
            checks.append(Check(f"probe: {name}", "ok", f"{verb} from a command, as intended"))
        else:
            checks.append(Check(f"probe: {name}", "fail", f"{verb} from a command: `{command}`"))
    return checks


def _fallback(policy: SandboxPolicy) -> Check:
    meaning = {
        "refuse": "commands are refused when bubblewrap cannot run",
        "read-only-guard": "no bubblewrap: only commands known to be harmless run, on the host",
        "none": "without bubblewrap, commands run UNSANDBOXED on the host",
    }[policy.fallback]
    return Check("fallback", "warn" if policy.fallback == "none" else "ok", meaning)


def posture(policy: SandboxPolicy, workspace: Path, env: Mapping[str, str]) -> list[Check]:
    """Every check, in reading order. Probes run only where bubblewrap works."""
    checks = [_bubblewrap(), _user(), *_limits(policy), *_hidden(env), _fallback(policy)]
    network = "on (the user allowed it)" if policy.network else "off (own network namespace)"
    checks.append(Check("network", "warn" if policy.network else "ok", network))
    if checks[0].status == "ok" and policy.mode != "full-access":
        checks += _probes(policy, workspace, env)
    return checks
