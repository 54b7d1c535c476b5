"""A release: one commit exported to `.acb/releases/<sha>`, with a virtualenv built *inside the
sandbox*, and the sandboxed command that runs it.

Both halves run code the repository chose (a build backend, setup.py, the deploy command), so
both run under bubblewrap with the release directory as the only writable place. The host only
exports the commit (`git archive`, extracted with tarfile's `data` filter) and records, in a
private directory outside the workspace, which releases it built: the supervisor starts those
and nothing else.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import stat
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from autocodebase.delivery.control import workspace_dir
from autocodebase.errors import UsageError
from autocodebase.sandbox.bwrap import bwrap_command, bwrap_problem
from autocodebase.sandbox.environment import command_environment
from autocodebase.sandbox.policy import Fallback, Limits, SandboxPolicy
from autocodebase.sandbox.run import run_command
from autocodebase.vcs.checkpoint import export_tree

RELEASE_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
"""A full commit id (SHA-1 or SHA-256 repositories): nothing else names a release."""
BUILD_TIMEOUT_S = 900


class ReleaseError(UsageError):
    """A release that cannot be built or started."""


def releases_dir(root: Path) -> Path:
    return root.resolve() / ".acb" / "releases"


def no_symlinks(root: Path, path: Path) -> None:
    """Refuse `path` when it, or a directory between `root` and it, is a symlink: a link
    planted in `.acb/` would turn a host-side write (a log, a build) into one anywhere."""
    root = root.resolve()
    current = root
    for part in path.relative_to(root).parts:
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            return
        if stat.S_ISLNK(mode):
            raise ReleaseError(f"{current} is a symlink; refusing to use it")


def open_log(root: Path, path: Path) -> int:
    """A descriptor appending to `path` inside the workspace, never through a symlink."""
    no_symlinks(root, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    return os.open(path, flags, 0o600)


def _record(root: Path, sha: str) -> Path:
    return workspace_dir(root) / "built" / sha


def built_release(root: Path, sha: object) -> Path:
    """The directory of release `sha` if acb built it; ReleaseError for anything else (a
    malformed id, a release nobody built here, a directory reached through a symlink)."""
    if not isinstance(sha, str) or not RELEASE_ID.fullmatch(sha):
        raise ReleaseError(f"not a release id: {str(sha)[:80]!r}")
    release = releases_dir(root) / sha
    no_symlinks(root, release)
    if not _record(root, sha).is_file() or not (release / ".venv").is_dir():
        raise ReleaseError(f"release {sha[:12]} was not built by acb here")
    return release


def _build_script(release: Path) -> str:
    lines = [f"set -e; {shlex.quote(sys.executable)} -m venv .venv"]
    pip = ".venv/bin/python -m pip install -q"
    if (release / "requirements.txt").is_file():
        lines.append(f"{pip} -r requirements.txt")
    if (release / "pyproject.toml").is_file():
        lines.append(f"{pip} .")
    return "\n".join(lines)


def _build_environment(network: bool) -> dict[str, str]:
    env = command_environment()
    env.pop("PYTHONPATH", None)
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_CACHE_DIR="1")
    if not network:
        # Offline: no index; local wheels (PIP_FIND_LINKS) still count, and a build backend
        # cannot be fetched, so the one the new virtualenv already has is used.
        env.update(PIP_NO_INDEX="1", PIP_NO_BUILD_ISOLATION="0")
    return env


def _sandbox_policy(network: bool, unsandboxed: bool, timeout_s: int) -> SandboxPolicy:
    """workspace-write over the release directory; without bubblewrap, only when the user's
    own settings chose `sandbox_fallback = "none"`."""
    problem = bwrap_problem()
    if problem is not None and not unsandboxed:
        raise ReleaseError(f"releases are built and run in the sandbox, and {problem}")
    fallback: Fallback = "none" if unsandboxed else "refuse"
    limits = Limits(timeout_s=timeout_s, memory_mb=0)
    return SandboxPolicy(network=network, fallback=fallback, limits=limits)


def build_release(root: Path, sha: str, network: bool = False, unsandboxed: bool = False) -> Path:
    """`.acb/releases/<sha>`: the commit's files and a virtualenv with what it declares, built
    in the sandbox. A directory acb has no record of building is thrown away and rebuilt."""
    if not RELEASE_ID.fullmatch(sha):
        raise ReleaseError(f"not a release id: {sha!r}")
    release = releases_dir(root) / sha
    no_symlinks(root, release)
    record = _record(root, sha)
    if record.is_file() and (release / ".venv").is_dir():
        return release
    if release.exists():
        shutil.rmtree(release)
    release.mkdir(parents=True)
    export_tree(root, sha, release)
    policy = _sandbox_policy(network, unsandboxed, BUILD_TIMEOUT_S)
    env = _build_environment(network)
    done = run_command(policy, _build_script(release), release, env, BUILD_TIMEOUT_S)
    if done.exit_code != 0:
        tail = done.output.strip().splitlines()[-1:] or [done.refused or "no output"]
        hint = "" if network else " (built offline: `acb deploy --network` lets pip reach an index)"
        raise ReleaseError(f"release {sha[:12]}: the build failed: {tail[0]}{hint}")
    record.parent.mkdir(exist_ok=True, mode=0o700)
    record.write_text(datetime.now(UTC).isoformat() + "\n")
    return release


def release_environment(release: Path, port: int, secrets: Sequence[str] = ()) -> dict[str, str]:
    """The release's environment: acb's, without secrets except those deploy.toml names in
    `secrets` (the app needs them; they are passed on by name, never written down)."""
    venv = release / ".venv"
    env = command_environment(allowed=secrets)
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        VIRTUAL_ENV=str(venv),
        PYTHONPATH=str(release),
        PORT=str(port),
    )
    return env


def release_argv(
    command: str, release: Path, port: int, env: Mapping[str, str], unsandboxed: bool = False
) -> list[str]:
    """The host-side argv that starts a release: bubblewrap around the deploy command, with
    the release directory writable and the network shared so the proxy can reach it."""
    try:
        line = command.format(port=port, host="127.0.0.1")
    except (KeyError, IndexError, ValueError, AttributeError) as error:
        raise ReleaseError(f"the deploy command does not format: {error!r}") from None
    argv = ["bash", "-c", f"exec {line}"]
    problem = bwrap_problem()
    if problem is None:
        wrapped = bwrap_command(SandboxPolicy(network=True), release, release, argv, env)
        # Started with the release's environment, whose PATH begins in the release: a bare
        # program name would be looked up there, on the host.
        wrapped[0] = shutil.which(wrapped[0]) or wrapped[0]
        if not Path(wrapped[0]).is_absolute():
            raise ReleaseError(f"{wrapped[0]} is not on acb's PATH")
        return wrapped
    if unsandboxed:
        return argv
    raise ReleaseError(f"releases run in the sandbox, and {problem}")
