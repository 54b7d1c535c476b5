"""Build the bubblewrap command line for a policy, and find out once whether bwrap works here.

The system is bound read-only, with homes, sockets and credentials hidden (`visibility`); /proc,
/dev and /tmp are fresh, the kernel's tunables in /proc read-only, /tmp and /dev/shm bounded;
the network namespace is new (so not even 127.0.0.1 is reachable) unless the policy allows the
network; the workspace's `.git` and `.acb` are read-only whether or not they exist yet; the
child dies with us.
"""

from __future__ import annotations

import contextlib
import functools
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from autocodebase.programs import distrust, which
from autocodebase.sandbox.policy import PROTECTED_IN_WORKSPACE, SandboxPolicy
from autocodebase.sandbox.visibility import visibility

INSTALL_HINT = (
    "install bubblewrap (e.g. `sudo apt-get install bubblewrap`); in a container, allow user "
    "namespaces (docker: --security-opt seccomp=unconfined, or run acb as root), or choose a "
    "fallback with `sandbox.fallback` in ~/.config/acb/config.toml"
)


NO_NESTED_USERNS = ("--unshare-user", "--disable-userns")
"""A user namespace of the sandbox's own, in which no further one can be made: without it a
command (as root, or with unprivileged user namespaces) can make a user namespace, gain every
capability in it, and mount its own cgroup hierarchy to lift its memory and process limits; and
it would share root's kernel keyring (Kerberos tickets live there on many systems)."""


def _probe(binary: str, extra: tuple[str, ...]) -> subprocess.CompletedProcess[str] | str:
    probe = [binary, *extra, "--ro-bind", "/", "/", "--unshare-net", "--unshare-pid"]
    probe += ["--proc", "/proc", "--dev", "/dev", "true"]
    try:
        return subprocess.run(probe, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap could not be started: {exc}"


@functools.lru_cache(maxsize=1)
def _bwrap_state() -> tuple[str | None, bool]:
    """(why bwrap cannot be used, or None; whether it can forbid nested user namespaces)."""
    binary = which("bwrap")
    if binary is None:
        return "bubblewrap (bwrap) is not installed", False
    strict = _probe(binary, NO_NESTED_USERNS)
    if not isinstance(strict, str) and strict.returncode == 0:
        return None, True
    plain = _probe(binary, ())
    if isinstance(plain, str):
        return plain, False
    if plain.returncode != 0:
        detail = plain.stderr.strip().splitlines()[-1:] or ["no message"]
        return f"bwrap cannot create namespaces here ({detail[0]})", False
    return None, False


def bwrap_problem() -> str | None:
    """None when bwrap can create the namespaces we use; otherwise why not, in one line."""
    return _bwrap_state()[0]


def nested_userns_blocked() -> bool:
    """Whether sandboxed commands run in a user namespace that forbids further ones (bwrap
    0.8+ with user namespaces); `acb sandbox --check` says when not."""
    return _bwrap_state()[1]


def protected_problem(policy: SandboxPolicy, workspace: Path) -> str | None:
    """Why commands cannot run here at all: a `.git` or `.acb` that is a symbolic link (a
    repository may commit `.acb -> ../..`). bubblewrap would follow it when protecting it, and
    mount whatever it points to — the user's home, say — over the sandbox's hiding of it."""
    if policy.mode != "workspace-write":
        return None
    for root in (workspace, *policy.writable_roots):
        for name in PROTECTED_IN_WORKSPACE:
            if (root / name).is_symlink():
                target = (root / name).readlink()
                return (
                    f"{root / name} is a symbolic link (to {target}): acb protects it from "
                    "commands and will not follow it; remove the link to run commands here"
                )
    return None


KERNEL_STATE = ("/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/proc/fs")
"""Kept read-only over the fresh /proc: as root (common in containers) /proc/sys is writable
from inside bubblewrap, and `kernel.core_pattern` names a program the host kernel runs as root."""


@functools.cache
def _kernel_state() -> tuple[str, ...]:
    return tuple(state for state in KERNEL_STATE if Path(state).exists())


def missing_protected(policy: SandboxPolicy, workspace: Path) -> list[Path]:
    """Protected paths of the workspace that do not exist yet. They are protected all the same
    (a command must not create `.acb/config.toml` for the next run): bubblewrap mounts a
    read-only placeholder there, which leaves an empty directory behind that the caller
    removes once the command is over (`remove_placeholders`)."""
    if policy.mode != "workspace-write":
        return []
    return [workspace / name for name in PROTECTED_IN_WORKSPACE if not _exists(workspace / name)]


def _exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def remove_placeholders(placeholders: list[Path]) -> None:
    """Remove the empty directories left where `missing_protected` paths were mounted over.
    The sandbox's pid namespace is gone by then, so nothing can race us to fill them."""
    for path in placeholders:
        with contextlib.suppress(OSError):
            path.rmdir()


def _interpreters_inside(roots: tuple[Path, ...]) -> list[Path]:
    """acb's own interpreter prefix and import paths when they live in a writable root (a
    project virtualenv with acb installed in it, an editable install): acb runs them on the
    host, so a command must not plant a `.pth` file or a changed module there. The root itself
    is never among them (`python -m` puts the working directory on the path)."""
    return _inside(roots, (sys.prefix, sys.base_prefix, *sys.path))


@functools.lru_cache(maxsize=16)
def _inside(roots: tuple[Path, ...], entries: tuple[str, ...]) -> list[Path]:
    # Cached per (roots, import path): resolving every sys.path entry costs ~1 ms, and a
    # model runs hundreds of commands with the same ones.
    found = set()
    for entry in entries:
        if not entry or not Path(entry).is_dir():
            continue
        real = Path(entry).resolve()
        if any(root in real.parents for root in roots):
            found.add(real)
    return sorted(p for p in found if not any(q in p.parents for q in found))


def _protected(policy: SandboxPolicy, workspace: Path) -> list[str]:
    args: list[str] = []
    roots = (workspace, *policy.writable_roots)
    for root in roots:
        for name in PROTECTED_IN_WORKSPACE:
            protected = root / name
            if _exists(protected) and not protected.is_symlink():
                args += ["--ro-bind", str(protected), str(protected)]
    for prefix in _interpreters_inside(tuple(r.resolve() for r in roots)):
        args += ["--ro-bind", str(prefix), str(prefix)]
    for placeholder in missing_protected(policy, workspace):
        args += ["--tmpfs", str(placeholder), "--remount-ro", str(placeholder)]
    return args


def bwrap_command(
    policy: SandboxPolicy,
    workspace: Path,
    cwd: Path,
    command: list[str],
    env: Mapping[str, str],
    home: Path | None = None,
    content: Path | None = None,
) -> list[str]:
    """The argv that runs `command` under `policy`. The environment is not on it (values on an
    argv are visible to every user in `ps`): the caller starts bwrap with `env`, which bwrap
    hands to the command unchanged. `content` is shown at the workspace's path instead of the
    workspace (`run_command` says why)."""
    binary = which("bwrap") or "bwrap"
    limits = policy.limits
    args = [binary, "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    if nested_userns_blocked():
        args += NO_NESTED_USERNS
    args += ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    if not policy.network:
        args.append("--unshare-net")
    args += ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    for state in _kernel_state():
        args += ["--ro-bind", state, state]
    for folder in policy.emptied:
        args += ["--tmpfs", str(folder), "--remount-ro", str(folder)]
    tmp_size = str(limits.tmp_mb * 1024 * 1024)
    args += ["--size", tmp_size, "--tmpfs", "/dev/shm"]  # noqa: S108 - private, bounded
    args += ["--remount-ro", "/dev"]  # the /dev tmpfs itself is unbounded: nothing goes there
    args += ["--size", tmp_size, "--tmpfs", "/tmp"]  # noqa: S108 - private, bounded
    seen = visibility(env, home)
    args += seen.before_workspace(home_bytes=int(tmp_size))
    writable = (workspace, *policy.writable_roots) if policy.mode == "workspace-write" else ()
    distrust(*writable, *((content,) if content else ()))
    for root in writable:
        args += ["--bind", str(content if root == workspace and content else root), str(root)]
    if policy.mode == "workspace-write":
        args += _protected(policy, workspace)
    else:
        # Bound again after the hidden trees and the fresh /tmp, so a workspace there stays
        # visible (read-only).
        args += ["--ro-bind", str(content or workspace), str(workspace)]
    args += seen.after_workspace(writable or (workspace,))
    args += ["--chdir", str(cwd), "--", *command]
    return args
