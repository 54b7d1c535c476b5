"""Running git: one helper, so every call has the same error handling, environment and guards.

acb drives the git CLI rather than pygit2 or dulwich: it is on every machine that has a
repository, understands every repository format and extension (worktrees, sparse checkouts,
split indexes, SHA-256), and its plumbing commands (`hash-object`, `update-index`, `write-tree`,
`commit-tree`, `update-ref`, `notes`) are a stable interface built for exactly this.

The repository is not trusted. acb runs git on the host, outside every sandbox, while a cloned
project (or a model's edits, or a nested repository the model created) can name programs in
`.git/config` and `.gitattributes`: hooks, an fsmonitor, filter and diff drivers, credential
helpers, gpg. So every call goes through `git_invocation`, which turns all of them off with
command-line-scope configuration (`GIT_CONFIG_COUNT`: it outranks every config file, and the
git processes git starts, for submodules say, inherit it) and with flags on the few
subcommands that run diff drivers. The user's global and system config are not skipped
(`GIT_CONFIG_NOSYSTEM` is not set): the threat is the repository's, and what is pinned here is
pinned whatever file set it.
The user's taste in diffs is pinned the same way (`DIFF_FORMAT_CONFIG`, `DIFF_FORMAT`): acb
parses, applies and stores the diffs it asks for, and `diff.noprefix` or `diff.mnemonicPrefix`
would otherwise turn `a.py` into `py` or `w/a.py` there.
What this costs, deliberately: acb's own git calls run no hooks (they are plumbing, which ran
almost none anyway), sign nothing, and apply no clean/smudge filter (see `filtered_paths`).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from autocodebase.errors import AcbError
from autocodebase.programs import host_path
from autocodebase.vcs.diff import NEW_PREFIX, OLD_PREFIX

PLAIN = ("-c", "core.autocrlf=false", "-c", "core.safecrlf=false", "-c", "core.quotepath=off")

NEUTRAL_CONFIG: tuple[tuple[str, str], ...] = (
    ("core.hooksPath", "/dev/null"),  # no hook (reference-transaction, post-index-change...)
    ("core.fsmonitor", "false"),  # runs on every index refresh (ls-files, diff)
    ("core.pager", "cat"),
    ("core.editor", ":"),
    ("sequence.editor", ":"),
    ("core.askPass", ""),
    ("core.sshCommand", "false"),
    ("credential.helper", ""),  # an empty value clears the list of helpers
    ("diff.external", ""),
    # A signing git runs gpg.program (commit-tree ignores it today; nothing acb runs may sign).
    ("commit.gpgSign", "false"),
    ("tag.gpgSign", "false"),
    ("log.showSignature", "false"),
    ("gpg.program", "false"),
    ("gpg.openpgp.program", "false"),
    ("gpg.x509.program", "false"),
    ("gpg.ssh.program", "false"),
    ("gpg.ssh.defaultKeyCommand", "false"),
    ("protocol.allow", "never"),  # acb never fetches: no transport, no remote helper
    ("protocol.ext.allow", "never"),  # a per-protocol setting would outrank protocol.allow
    ("submodule.recurse", "false"),
    ("safe.bareRepository", "explicit"),  # never adopt a bare repository found by discovery
)
"""Settings that name or enable a program git would run, each pinned to a harmless value."""

DIFF_FORMAT_CONFIG: tuple[tuple[str, str], ...] = (
    ("diff.noprefix", "false"),  # `a.py`, read back as `py`
    ("diff.mnemonicPrefix", "false"),  # `c/a.py w/a.py`, reviewed as `w/a.py`
    ("diff.srcPrefix", "a/"),  # git 2.45+
    ("diff.dstPrefix", "b/"),
    ("diff.relative", "false"),  # paths relative to the cwd, not the root
    ("diff.renames", "true"),  # git's default; a call that cares says so
    ("diff.context", "3"),
    ("diff.interHunkContext", "0"),
    ("diff.suppressBlankEmpty", "false"),
    ("diff.submodule", "short"),  # not a log of the submodule's commits
    ("color.ui", "false"),
    ("color.diff", "false"),
)
"""Settings that change what a diff looks like, pinned to git's defaults: acb parses the diffs
it asks for (`vcs.diff`), applies them (`git apply`, which expects `a/` and `b/`), and stores
them in the ledger, so a user's taste in diffs must not reach them."""

DIFF_FORMAT = ("--no-color", f"--src-prefix={OLD_PREFIX}", f"--dst-prefix={NEW_PREFIX}")
"""The same prefixes as flags, which outrank any config key a later git may add for them."""

NO_DRIVERS: dict[str, tuple[str, ...]] = {
    "diff": ("--no-ext-diff", "--no-textconv", "--ignore-submodules=dirty", *DIFF_FORMAT),
    "log": ("--no-ext-diff", "--no-textconv", *DIFF_FORMAT),
    "show": ("--no-ext-diff", "--no-textconv", *DIFF_FORMAT),
    "format-patch": ("--no-ext-diff", "--no-textconv", *DIFF_FORMAT),
    "blame": ("--no-textconv",),
}
"""Flags after the subcommand that stop diff drivers (`diff.<name>.command`, `textconv`: named
by `.gitattributes`, so they cannot be pinned by name ahead of time) and, for a diff against the
working tree, the `git status` git would otherwise start inside each submodule, under that
submodule's own configuration; and, for every command that prints a diff, its format."""

DROPPED_ENV = ("GIT_DIFF_OPTS", "GIT_EXTERNAL_DIFF")
"""`GIT_DIFF_OPTS=--unified=N` outranks `-U` on the command line (provenance asks for -U0)."""

FILTER_KEYS = r"^filter\..+\.(clean|smudge|process|required)$"

CONTENT_BLIND = frozenset(
    {"rev-parse", "ls-tree", "write-tree", "commit-tree", "update-ref", "notes", "check-attr"}
)
"""Subcommands that never read or write a working-tree file's content, so never filter one:
they skip the driver lookup (`_may_filter`), which would otherwise double the cost of the
calls every snapshot makes. Anything not known to be blind pays for it."""

SAFE_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_PAGER": "cat",
    "PAGER": "cat",
    "GIT_EDITOR": ":",
    "GIT_SEQUENCE_EDITOR": ":",
}


class GitError(AcbError):
    """A git command failed; the message carries git's own last line."""


def _config_env(base: Mapping[str, str], pairs: list[tuple[str, str]]) -> dict[str, str]:
    """`pairs` as GIT_CONFIG_KEY_n/VALUE_n after any the caller's environment already holds.

    The environment form, unlike `-c name=value`, cannot be misparsed by a driver name that
    contains `=`; and child gits inherit it like `-c`."""
    start = int(base.get("GIT_CONFIG_COUNT", "0") or 0)
    env = {"GIT_CONFIG_COUNT": str(start + len(pairs))}
    for number, (key, value) in enumerate(pairs, start=start):
        env[f"GIT_CONFIG_KEY_{number}"] = key
        env[f"GIT_CONFIG_VALUE_{number}"] = value
    return env


def _filter_drivers(root: Path, env: Mapping[str, str]) -> list[str]:
    """Names of the filter drivers any config file defines (reading config runs nothing)."""
    done = subprocess.run(
        [git_program(), "config", "--null", "--name-only", "--get-regexp", FILTER_KEYS],
        cwd=root,
        env=env,
        capture_output=True,
        check=False,
    )
    names = done.stdout.decode("utf-8", "surrogateescape").split("\0")
    return sorted({name[len("filter.") :].rsplit(".", 1)[0] for name in names if name})


def _may_filter(args: tuple[str, ...]) -> bool:
    """Whether `git ARGS` could run a clean/smudge filter; unknown commands are assumed to."""
    command, rest = (args[0], args[1:]) if args else ("", ())
    if command == "ls-files":  # lists index and directory; only these compare contents
        return any(a in ("-m", "--modified") for a in rest)
    if command == "hash-object":
        return "--no-filters" not in rest
    return command not in CONTENT_BLIND


def git_invocation(
    root: Path, args: tuple[str, ...], env: Mapping[str, str] | None = None
) -> tuple[list[str], dict[str, str]]:
    """The argv and environment to run `git ARGS` in `root` without running anything the
    repository names. Every git process acb starts on a user's repository is built here."""
    base = {**os.environ, **(env or {}), **SAFE_ENV}
    for name in DROPPED_ENV:
        base.pop(name, None)
    pinned = _config_env(base, list(NEUTRAL_CONFIG))
    drivers = _filter_drivers(root, {**base, **pinned}) if _may_filter(args) else []
    blanks = [
        (f"filter.{name}.{key}", "false" if key == "required" else "")
        for name in drivers
        for key in ("clean", "smudge", "process", "required")
    ]
    full_env = {**base, **_config_env(base, [*NEUTRAL_CONFIG, *DIFF_FORMAT_CONFIG, *blanks])}
    command = [*args[:1], *NO_DRIVERS.get(args[0], ()), *args[1:]] if args else []
    return [git_program(), "--no-pager", *PLAIN, *command], full_env


def git_program() -> str:
    """git as found on the host PATH without the folders sandboxed commands may write (a
    workspace, a virtualenv activated inside it): a `git` planted there would run on the
    host, with the user's environment. Looked up once per host PATH (every git call asks)."""
    return _git_on(host_path())


@functools.lru_cache(maxsize=8)
def _git_on(path: str) -> str:
    return shutil.which("git", path=path) or "git"


def _run(
    root: Path, args: tuple[str, ...], env: Mapping[str, str] | None, stdin: bytes | None
) -> subprocess.CompletedProcess[bytes]:
    argv, full_env = git_invocation(root, args, env)
    # A session of its own: a Ctrl-C at the terminal is acb's to handle (the call is stopped
    # through acb), never a git command killed half-way whose empty output reads as an answer.
    return subprocess.run(
        argv,
        cwd=root,
        env=full_env,
        input=stdin,
        capture_output=True,
        check=False,
        start_new_session=True,
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


def git_run(root: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """The finished git command, whatever its status (for callers that read both)."""
    return _run(root, args, None, None)


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


BUILD_LITTER = (
    "__pycache__/",
    "*.py[co]",
    ".pytest_cache/",
    ".mypy_cache/",
    ".ruff_cache/",
    ".hypothesis/",
    ".coverage",
    ".coverage.*",
    ".tox/",
    ".nox/",
    ".venv/",
    "node_modules/",
)
"""What running a project leaves that nobody commits: bytecode, tool caches, test databases,
virtualenvs, installed packages. Untracked, it is never part of a run's change (a checkpoint, a
diff, a commit), even in a repository whose .gitignore does not name it: a run's `pytest` in a
project without one would otherwise commit its `__pycache__`. Tracked files are unaffected."""
UNTRACKED_LITTER_EXCLUDED = tuple(f"--exclude={pattern}" for pattern in BUILD_LITTER)


def worktree_files(directory: Path) -> list[str] | None:
    """Tracked and untracked-not-ignored files under `directory`, or None outside git.

    A nested repository shows as its directory, with a trailing `/` (git's own listing)."""
    done = _run(
        directory,
        (
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
            *UNTRACKED_LITTER_EXCLUDED,
        ),
        None,
        None,
    )
    if done.returncode < 0:  # killed: the listing is not an answer (None means "not in git")
        raise GitError(f"git ls-files was stopped by signal {-done.returncode}")
    if done.returncode != 0:
        return None
    return sorted({p for p in done.stdout.decode("utf-8", "surrogateescape").split("\0") if p})


def filtered_paths(root: Path, paths: list[str]) -> list[str]:
    """Those of `paths` that `.gitattributes` gives a clean/smudge filter (Git LFS, git-crypt).

    acb applies no filter (a filter is a program the repository names), so its checkpoints hold
    such files' raw bytes; committing those bytes where the project expects the filtered form
    (an LFS pointer, ciphertext) would be wrong, so the commit leaves these paths to the user."""
    if not paths:
        return []
    listing = git(root, "check-attr", "-z", "--stdin", "filter", input=_nul_joined(paths))
    fields = listing.decode("utf-8", "surrogateescape").split("\0")
    found = []
    for path, _attribute, value in zip(fields[0::3], fields[1::3], fields[2::3], strict=False):
        if value not in ("unspecified", "unset", ""):
            found.append(path)
    return found


def _nul_joined(paths: list[str]) -> bytes:
    return "".join(f"{p}\0" for p in paths).encode("utf-8", "surrogateescape")


def head_commit(root: Path) -> str | None:
    done = git(root, "rev-parse", "--verify", "-q", "HEAD^{commit}", check=False)
    return done.decode().strip() or None
