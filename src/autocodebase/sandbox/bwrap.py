"""Build the bubblewrap command line for a policy, and find out once whether bwrap works here.

The system is bound read-only; /proc, /dev and /tmp are fresh; the network namespace is new (so
not even 127.0.0.1 is reachable) unless the policy allows the network; the environment is
cleared and rebuilt from what the caller passes; the child dies with us.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from autocodebase.sandbox.policy import CREDENTIAL_PATHS, PROTECTED_IN_WORKSPACE, SandboxPolicy

INSTALL_HINT = (
    "install bubblewrap (e.g. `sudo apt-get install bubblewrap`); in a container, allow user "
    "namespaces (docker: --security-opt seccomp=unconfined, or run acb as root), or choose a "
    "fallback with `sandbox.fallback` in ~/.config/acb/config.toml"
)


@functools.lru_cache(maxsize=1)
def bwrap_problem() -> str | None:
    """None when bwrap can create the namespaces we use; otherwise why not, in one line."""
    binary = shutil.which("bwrap")
    if binary is None:
        return "bubblewrap (bwrap) is not installed"
    probe = [binary, "--ro-bind", "/", "/", "--unshare-net", "--unshare-pid", "--proc", "/proc"]
    probe += ["--dev", "/dev", "true"]
    try:
        done = subprocess.run(probe, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap could not be started: {exc}"
    if done.returncode != 0:
        detail = done.stderr.strip().splitlines()[-1:] or ["no message"]
        return f"bwrap cannot create namespaces here ({detail[0]})"
    return None


def _hidden_credentials(home: Path) -> list[str]:
    args: list[str] = []
    for relative in CREDENTIAL_PATHS:
        path = home / relative
        if path.is_dir() and not path.is_symlink():
            args += ["--tmpfs", str(path)]
        elif path.is_file() and not path.is_symlink():
            args += ["--ro-bind", "/dev/null", str(path)]
    return args


def bwrap_command(
    policy: SandboxPolicy,
    workspace: Path,
    cwd: Path,
    command: list[str],
    env: Mapping[str, str],
    home: Path | None = None,
) -> list[str]:
    """The argv that runs `command` under `policy`."""
    binary = shutil.which("bwrap") or "bwrap"
    args = [binary, "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    args += ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    if not policy.network:
        args.append("--unshare-net")
    args += ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    args += ["--tmpfs", "/tmp"]  # noqa: S108 - a fresh, private /tmp inside the sandbox
    args += _hidden_credentials(home or Path.home())
    if policy.mode == "workspace-write":
        for root in (workspace, *policy.writable_roots):
            args += ["--bind", str(root), str(root)]
        for name in PROTECTED_IN_WORKSPACE:
            protected = workspace / name
            if protected.exists():
                args += ["--ro-bind", str(protected), str(protected)]
    else:
        # Bound again after the fresh /tmp, so a workspace under /tmp stays visible (read-only).
        args += ["--ro-bind", str(workspace), str(workspace)]
    args += ["--clearenv"]
    for key, value in env.items():
        args += ["--setenv", key, value]
    args += ["--chdir", str(cwd), "--", *command]
    return args
