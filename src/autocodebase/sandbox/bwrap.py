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


def _tools_under_tmp(env: Mapping[str, str]) -> list[Path]:
    """Directories on PATH that live under the host's /tmp (a virtualenv made in a CI
    checkout, say), which the private /tmp would hide: kept visible, read-only. For a venv's
    bin directory the whole venv is kept, since its site-packages sit next to it."""
    kept: list[Path] = []
    for entry in env.get("PATH", "").split(":"):
        if not entry.startswith("/tmp/"):  # noqa: S108 - comparing, not using, the path
            continue
        directory = Path(entry)
        if not directory.is_dir():
            continue
        root = directory.parent if (directory.parent / "pyvenv.cfg").is_file() else directory
        if root not in kept:
            kept.append(root)
    return kept


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
    for kept in _tools_under_tmp(env):
        args += ["--ro-bind", str(kept), str(kept)]
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
