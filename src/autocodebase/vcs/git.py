"""Running git: one helper, so every call has the same error handling and environment.

acb drives the git CLI rather than pygit2 or dulwich: it is on every machine that has a
repository, understands every repository format and extension (worktrees, sparse checkouts,
split indexes, SHA-256), and its plumbing commands (`hash-object`, `update-index`, `write-tree`,
`commit-tree`, `update-ref`, `notes`) are a stable interface built for exactly this.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from autocodebase.errors import AcbError

PLAIN = ("-c", "core.autocrlf=false", "-c", "core.safecrlf=false", "-c", "core.quotepath=off")


class GitError(AcbError):
    """A git command failed; the message carries git's own last line."""


def _run(
    root: Path, args: tuple[str, ...], env: Mapping[str, str] | None, stdin: bytes | None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["git", *PLAIN, *args],
        cwd=root,
        env={**os.environ, **(env or {})},
        input=stdin,
        capture_output=True,
        check=False,
    )


def git(
    root: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    input: bytes | None = None,
    check: bool = True,
) -> bytes:
    done = _run(root, args, env, input)
    if check and done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["failed"]
        raise GitError(f"git {args[0]}: {message[0]}")
    return done.stdout


def git_ok(
    root: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    input: bytes | None = None,
) -> bool:
    """True when the git command succeeds (for commands whose failure is an answer)."""
    return _run(root, args, env, input).returncode == 0


def git_text(root: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
    return git(root, *args, env=env).decode("utf-8", "replace").strip()


def git_root(path: Path) -> Path | None:
    """The work tree root containing `path`, or None when git is missing or it is no repository."""
    if shutil.which("git") is None:
        return None
    done = _run(path, ("rev-parse", "--show-toplevel"), None, None)
    return Path(done.stdout.decode().strip()) if done.returncode == 0 else None


def worktree_files(directory: Path) -> list[str] | None:
    """Tracked and untracked-not-ignored files under `directory`, or None outside git."""
    done = subprocess.run(
        ["git", *PLAIN, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=directory,
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        return None
    return sorted({p for p in done.stdout.decode("utf-8", "surrogateescape").split("\0") if p})


def head_commit(root: Path) -> str | None:
    done = git(root, "rev-parse", "--verify", "-q", "HEAD^{commit}", check=False)
    return done.decode().strip() or None
