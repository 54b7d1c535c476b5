"""A private checkout of an instance's repository at its base commit.

Sources are local first: `--repos DIR` holds clones or bare mirrors named `owner__name` or
`owner+name` (a `repo` folder inside is looked into too, the layout of a mirror cache). Without
one, the repository is cloned from GitHub once into the cache and reused. Each checkout shares
the source's objects (`git clone --shared`), so a sympy checkout costs its working tree only.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

from autocodebase.errors import AcbError
from autocodebase.vcs.git import GitError
from autocodebase.vcs.git import git as vcs_git

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


HTTPS_ONLY = {
    "GIT_CONFIG_COUNT": "1",
    "GIT_CONFIG_KEY_0": "protocol.https.allow",
    "GIT_CONFIG_VALUE_0": "always",
}
"""For the one command that fetches (the mirror's clone): acb's git helper allows no transport
(`protocol.allow=never`), and a per-protocol setting outranks that for https alone; file, ssh,
http, git:// and remote helpers stay refused (as `vcs/push.py` opens one for one push)."""


def git(cwd: Path, *args: str, check: bool = True, env: Mapping[str, str] | None = None) -> str:
    """`git ARGS` in `cwd` through acb's one git helper (nothing the repository names runs:
    no hooks, filters or fsmonitor), with a fixed identity for the agent's commits."""
    try:
        output = vcs_git(cwd, *args, env={**GIT_QUIET, **(env or {})}, check=check)
    except GitError as exc:
        raise CheckoutFailed(f"{exc} (in {cwd})") from exc
    return output.decode("utf-8", "replace")


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
        try:
            clone_mirror(url, partial)
        except CheckoutFailed as exc:
            where = f" (no copy under {repos_dir})" if repos_dir else " (give --repos DIR)"
            raise CheckoutFailed(f"cannot clone {url}{where}: {exc}") from exc
        partial.rename(mirror)
    return mirror


def clone_mirror(url: str, destination: Path) -> None:
    """`git clone --mirror URL DESTINATION`, over https and nothing else."""
    if not url.startswith("https://"):
        raise CheckoutFailed(f"acb clones over https only, not {url}")
    git(destination.parent, "clone", "--quiet", "--mirror", url, str(destination), env=HTTPS_ONLY)


def checkout(source: Path, commit: str, destination: Path) -> Path:
    """A fresh working tree of `source` at `commit` in `destination` (replaced if present).

    The new repository borrows the source's objects (an alternates file, what `clone --shared`
    writes) and copies its tags (setuptools-scm versions a package from `git describe`): no
    transport is involved, so acb's git helper, which allows none from files, can do it all."""
    shutil.rmtree(destination, ignore_errors=True)
    destination.mkdir(parents=True)
    git_dir = source if (source / "objects").is_dir() else source / ".git"
    objects = git_dir / "objects"
    git(destination, "init", "--quiet")
    (destination / ".git" / "objects" / "info" / "alternates").write_text(f"{objects.resolve()}\n")
    if git(destination, "cat-file", "-t", commit, check=False).strip() != "commit":
        raise CheckoutFailed(f"{source} has no commit {commit}")
    # --git-dir: a bare mirror is only opened when named (safe.bareRepository=explicit).
    listing = ("for-each-ref", "--format=%(objectname) %(refname)", "refs/tags")
    tags = git(source, f"--git-dir={git_dir}", *listing)
    (destination / ".git" / "packed-refs").write_text(tags)
    # The agent commits its change; a branch makes that a normal history, not a detached one.
    git(destination, "checkout", "--quiet", "-B", "acb-eval", commit)
    return destination


def diff_from(worktree: Path, commit: str) -> str:
    """Everything changed since `commit` (committed or not, new files included), as a patch."""
    git(worktree, "add", "--all")
    return git(worktree, "diff", "--cached", "--binary", commit)
