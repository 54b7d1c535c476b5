"""A private checkout of an instance's repository at its base commit.

Sources are local first: `--repos DIR` holds clones or bare mirrors named `owner__name` or
`owner+name` (a `repo` folder inside is looked into too, the layout of a mirror cache). Without
one, the repository is cloned from GitHub once into the cache and reused. Each checkout shares
the source's objects (`git clone --shared`), so a sympy checkout costs its working tree only.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from autocodebase.errors import AcbError

GIT_QUIET = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "acb eval",
    "GIT_AUTHOR_EMAIL": "eval@acb.invalid",
    "GIT_COMMITTER_NAME": "acb eval",
    "GIT_COMMITTER_EMAIL": "eval@acb.invalid",
}


class CheckoutFailed(AcbError):
    """The repository or its base commit could not be had."""


def git(cwd: Path, *args: str, stdin: str | None = None, check: bool = True) -> str:
    done = subprocess.run(
        ["git", "-c", "core.hooksPath=/dev/null", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_QUIET},
    )
    if check and done.returncode != 0:
        raise CheckoutFailed(f"git {' '.join(args[:2])} failed: {done.stderr.strip()[-300:]}")
    return done.stdout


def local_source(repo: str, repos_dir: Path | None) -> Path | None:
    """A clone or mirror of `owner/name` under `repos_dir`, if there is one."""
    if repos_dir is None:
        return None
    owner, _, name = repo.partition("/")
    for folder in (f"{owner}__{name}", f"{owner}+{name}", name):
        for candidate in (repos_dir / folder / "repo", repos_dir / folder):
            if (candidate / "HEAD").is_file() or (candidate / ".git").exists():
                return candidate
    return None


def source_for(repo: str, repos_dir: Path | None, cache: Path) -> Path:
    """Where to take `repo` from: a local copy, or a mirror cloned once into `cache`."""
    found = local_source(repo, repos_dir)
    if found is not None:
        return found
    mirror = cache / "repos" / repo.replace("/", "__")
    if not (mirror / "HEAD").is_file():
        mirror.parent.mkdir(parents=True, exist_ok=True)
        partial = mirror.with_name(mirror.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        url = f"https://github.com/{repo}.git"
        done = subprocess.run(
            ["git", "clone", "--quiet", "--mirror", url, str(partial)],
            capture_output=True,
            text=True,
            env={**os.environ, **GIT_QUIET},
        )
        if done.returncode != 0:
            where = f" (no copy under {repos_dir})" if repos_dir else " (give --repos DIR)"
            raise CheckoutFailed(f"cannot clone {url}{where}: {done.stderr.strip()[-200:]}")
        partial.rename(mirror)
    return mirror


def checkout(source: Path, commit: str, destination: Path) -> Path:
    """A fresh working tree of `source` at `commit` in `destination` (replaced if present)."""
    shutil.rmtree(destination, ignore_errors=True)
    destination.parent.mkdir(parents=True, exist_ok=True)
    git(
        destination.parent,
        "clone",
        "--quiet",
        "--shared",
        "--no-checkout",
        str(source),
        str(destination),
    )
    if not git(destination, "cat-file", "-t", commit, check=False).strip() == "commit":
        raise CheckoutFailed(f"{source} has no commit {commit}")
    git(destination, "checkout", "--quiet", "--detach", commit)
    # The agent commits its change; a branch makes that a normal history, not a detached one.
    git(destination, "checkout", "--quiet", "-B", "acb-eval")
    git(destination, "remote", "remove", "origin", check=False)
    return destination


def diff_from(worktree: Path, commit: str) -> str:
    """Everything changed since `commit` (committed or not, new files included), as a patch."""
    git(worktree, "add", "--all")
    return git(worktree, "diff", "--cached", "--binary", commit)
