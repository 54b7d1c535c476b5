"""What a sandboxed command may see of the host: hidden trees, toolchains lent back, secrets hidden.

The system is bound read-only so that compilers, interpreters and libraries work as they do on
the host. Reading needs no write access, though, so a read-only system is not a private one:
home directories hold keys and tokens, `/run` holds the sockets of docker and databases (a
unix socket is connectable on a read-only mount), acb's own state holds every project's
transcripts. So whole trees are hidden behind empty tmpfs mounts — every home, `/root`,
`/run`, `/mnt`, `/media`, `/srv`, the host's data directories — and only what a build needs is
lent back read-only: the directories on PATH, the interpreter acb runs on, and the toolchain
homes that version managers keep under `$HOME` (pyenv, rustup, nvm, ...). Inverting the
approach this way means an unknown credential file is hidden by default.

Secrets that are lent back by accident (a toolchain directory holding a token, a workspace
that contains `$HOME`) are covered by a second net: known credential files are hidden after
every bind, at their real location too, so a symlinked `~/.aws` does not lead around it.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

HIDDEN_TREES = ("/home", "/root", "/run", "/var/run", "/mnt", "/media", "/srv", "/var/mail")
"""Replaced by empty directories: homes (other people's too), sockets, mounted data."""

HIDDEN_FROM_ROOT_TREES = (
    "/var/lib/docker",
    "/var/lib/containerd",
    "/var/lib/containers",
    "/var/lib/postgresql",
    "/var/lib/mysql",
    "/var/lib/redis",
    "/var/lib/mongodb",
    "/var/log",
    "/var/spool",
    "/var/backups",
    "/etc/ssl/private",
    "/etc/ssh",
)
"""Also hidden when acb runs as root (common in containers), who can read them: databases,
container state, logs, host keys. Other users cannot read them anyway, and each hidden tree
costs a mount per command."""

HIDDEN_SYSTEM_FILES = ("/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-")
"""Readable by root only: hidden when acb runs as root."""

TOOLCHAIN_HOMES = (
    ".pyenv",
    ".rustup",
    ".cargo/bin",
    ".cargo/registry",
    ".cargo/git",
    ".nvm",
    ".volta",
    ".local/bin",
    ".local/lib",
    ".local/share/uv/python",
    ".local/share/uv/tools",
    ".local/share/pipx",
    ".local/pipx",
    ".local/share/pnpm",
    "go/bin",
    "go/pkg/mod",
    ".m2/repository",
    ".gradle/caches",
    ".gradle/wrapper",
    ".sdkman/candidates",
    ".asdf/installs",
    ".asdf/shims",
    ".rbenv",
    ".goenv",
    ".jenv",
    ".bun/bin",
    ".deno/bin",
    ".dotnet/tools",
    ".ghcup/bin",
    ".elan",
    ".juliaup",
    "miniconda3",
    "anaconda3",
    "miniforge3",
    ".pub-cache/bin",
)
"""Under `$HOME`, lent back read-only when they exist: where version managers keep compilers
and interpreters. Only the parts that hold tools (`.cargo/bin`, not `.cargo`, which also holds
registry tokens)."""

CREDENTIAL_PATHS = (
    ".ssh",
    ".gnupg",
    ".aws",
    ".azure",
    ".kube",
    ".docker",
    ".config/gcloud",
    ".config/gh",
    ".config/hub",
    ".config/git/credentials",
    ".git-credentials",
    ".netrc",
    ".pypirc",
    ".npmrc",
    ".yarnrc",
    ".yarnrc.yml",
    ".cargo/credentials",
    ".cargo/credentials.toml",
    ".pgpass",
    ".my.cnf",
    ".vault-token",
    ".config/containers/auth.json",
    ".terraform.d",
    ".terraformrc",
    ".cache/huggingface/token",
    ".huggingface/token",
    ".m2/settings.xml",
    ".m2/settings-security.xml",
    ".gradle/gradle.properties",
    ".gem/credentials",
    ".config/rclone",
    ".s3cfg",
    ".boto",
    ".password-store",
    ".local/share/keyrings",
    ".config/op",
    ".config/doctl",
    ".config/configstore",
    ".bash_history",
    ".zsh_history",
    ".python_history",
    ".psql_history",
    ".mysql_history",
    ".node_repl_history",
    ".local/share/fish/fish_history",
    ".config/acb",
    ".local/state/acb",
    ".local/share/uv/credentials",
    ".dotnet/corefx",
    ".microsoft/usersecrets",
)
"""Hidden (relative to `$HOME` and to the workspace's home) after every bind: the second net."""


PLACEHOLDER_BYTES = 1 << 20
"""Size of the tmpfs mounts that only stand in for hidden directories: room for the mount
points of what is lent back, and little more."""


@dataclass(frozen=True)
class Visibility:
    """The mounts that shape what a command sees, in the order they must be applied."""

    hidden_trees: tuple[Path, ...]
    lent_back: tuple[Path, ...]
    """Read-only binds made after the hidden trees (tools on PATH, toolchain homes)."""
    hidden_dirs: tuple[Path, ...]
    """Credential directories, hidden after the workspace bind."""
    hidden_files: tuple[Path, ...]
    homes: tuple[Path, ...] = ()
    """Hidden trees that are homes: left writable (tools keep caches there), but bounded."""

    def before_workspace(self, home_bytes: int) -> list[str]:
        """Empty tmpfs over each hidden tree, then the lent-back binds. Homes get `home_bytes`
        (tools keep caches there); the other stand-ins only room for the mount points of what
        is lent back. They are not remounted read-only: what a command writes there is private
        to it and gone with it, and a remount per tree would cost each command ~0.5 ms."""
        args: list[str] = []
        for tree in self.hidden_trees:
            size = home_bytes if tree in self.homes else PLACEHOLDER_BYTES
            args += ["--size", str(size), "--tmpfs", str(tree)]
        for path in self.lent_back:
            args += ["--ro-bind", str(path), str(path)]
        return args

    def _credential_dirs(self, writable: tuple[Path, ...]) -> list[Path]:
        return [d for d in self.hidden_dirs if self.visible(d, writable)]

    def visible(self, path: Path, writable: Iterable[Path] = ()) -> bool:
        """Whether `path` would be seen by a command, given the `writable` roots bound over the
        hidden trees."""
        if _is_under(path, writable) or _is_under(path, self.lent_back):
            return True
        return not _is_under(path, self.hidden_trees)

    def after_workspace(self, writable: Iterable[Path] = ()) -> list[str]:
        """Hide credentials that would otherwise be visible (a lent-back toolchain directory, a
        workspace that contains a home); those inside hidden trees are hidden already."""
        roots = tuple(writable)
        args: list[str] = []
        for tree in self.hidden_trees:
            # acb's state or an XDG directory inside the workspace: the workspace bind has
            # just uncovered it again.
            if _is_under(tree, roots) and tree not in roots:
                args += ["--size", str(PLACEHOLDER_BYTES), "--tmpfs", str(tree)]
        for directory in self._credential_dirs(roots):
            args += ["--size", str(PLACEHOLDER_BYTES), "--tmpfs", str(directory)]
        for file in self.hidden_files:
            if self.visible(file, roots):
                args += ["--ro-bind", "/dev/null", str(file)]
        return args


def _is_under(path: Path, roots: Iterable[Path]) -> bool:
    # String prefixes, not Path.parents: this runs for every mount of every command.
    text = str(path)
    return any(text == str(root) or text.startswith(f"{str(root).rstrip('/')}/") for root in roots)


def _real(path: Path) -> Path | None:
    try:
        return path.resolve(strict=True)
    except (OSError, RuntimeError):
        return None


def _tool_root(entry: Path) -> Path:
    """A PATH entry's directory, or the whole virtualenv for a venv's bin (its site-packages
    sit next to it)."""
    return entry.parent if (entry.parent / "pyvenv.cfg").is_file() else entry


def _lent_back(
    homes: Iterable[Path], path_entries: Iterable[str], hidden: tuple[Path, ...]
) -> list[Path]:
    wanted: list[Path] = []
    interpreters = (Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).parent)
    candidates = [
        *(Path(e) for e in path_entries if e.startswith("/")),
        *interpreters,
        *(home / relative for home in homes for relative in TOOLCHAIN_HOMES),
    ]
    for candidate in candidates:
        for location in (candidate, _real(candidate)):
            if location is None or not location.is_dir():
                continue
            root = _tool_root(location)
            if _is_under(root, hidden) and not _is_under(root, wanted):
                wanted.append(root)
    # A directory inside another that is lent back anyway needs no bind of its own.
    return sorted(p for p in set(wanted) if not _is_under(p.parent, wanted))


def _credentials(homes: Iterable[Path]) -> tuple[list[Path], list[Path]]:
    """Credential dirs and files under `homes`, at their path and at their real location, so
    that a symlink cannot lead around the hiding."""
    dirs: list[Path] = []
    files: list[Path] = []
    for home in homes:
        for relative in CREDENTIAL_PATHS:
            path = home / relative
            real = _real(path)
            if real is None:
                continue
            for location in {path, real} if not path.is_symlink() else {real}:
                (dirs if real.is_dir() else files).append(location)
    return sorted(set(dirs)), sorted(set(files))


def _mountable(path: Path) -> bool:
    """Hidden trees must be real directories: a symlink such as /var/run -> /run is hidden
    through its target, and bwrap cannot mount over it anyway."""
    return path.is_dir() and not path.is_symlink()


def homes_of(env: Mapping[str, str], home: Path | None = None) -> tuple[Path, ...]:
    """Every home a command could reach: `home` if given, else ours, the account's, and the
    `$HOME` the command is given (they differ under sudo, in CI, in tests)."""
    if home is not None:
        return (home,)
    found = {Path.home()}
    with contextlib.suppress(KeyError, ImportError):
        import pwd

        found.add(Path(pwd.getpwuid(os.getuid()).pw_dir))
    if env.get("HOME", "").startswith("/"):
        found.add(Path(env["HOME"]))
    return tuple(sorted(found))


def visibility(env: Mapping[str, str], home: Path | None = None) -> Visibility:
    """What to hide and lend back for commands run with `env` (by a user whose home is `home`,
    if given: tests)."""
    return _visibility(homes_of(env, home), env.get("PATH", ""), _private_dirs(env))


XDG_DIRS = ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME")


def _private_dirs(env: Mapping[str, str]) -> tuple[Path, ...]:
    """Per-user directories that may live outside every home: the XDG base directories (ours
    and the command's), acb's own configuration and state (every project's transcripts)."""
    from autocodebase.config import default_state_dir, user_config_path

    found = {default_state_dir(), user_config_path().parent}
    for source in (os.environ, env):
        for name in XDG_DIRS:
            value = source.get(name, "")
            if value.startswith("/") and value.rstrip("/"):
                found.add(Path(value))
    return tuple(sorted(found))


@functools.lru_cache(maxsize=8)
def _visibility(
    homes: tuple[Path, ...], path_variable: str, private: tuple[Path, ...]
) -> Visibility:
    # Computed once per (homes, PATH, private dirs): it stats a few dozen paths, and a model
    # runs hundreds of commands with the same environment.
    as_root = os.geteuid() == 0
    names = (*HIDDEN_TREES, *(HIDDEN_FROM_ROOT_TREES if as_root else ()))
    trees = [Path(t) for t in names if _mountable(Path(t))]
    for directory in private:
        real = _real(directory)
        if real is not None and _mountable(real) and real != Path("/"):
            trees.append(real)
    real_homes = [real for real in (_real(home) for home in homes) if real is not None]
    for candidate in {*homes, *real_homes}:
        if _mountable(candidate) and candidate != Path("/"):
            trees.append(candidate)
    hidden = tuple(sorted(set(trees), key=lambda p: len(p.parts)))
    # The sandbox's /tmp is fresh too (bwrap.py mounts it, bounded): tools on PATH there (a
    # virtualenv made in a CI checkout under /tmp) are lent back like the rest.
    unseen = (*hidden, Path("/tmp"))  # noqa: S108 - comparing, not using, the path
    lent = _lent_back(homes, path_variable.split(":"), unseen)
    dirs, files = _credentials({*homes, *real_homes})
    system_files = [Path(f) for f in HIDDEN_SYSTEM_FILES if as_root and Path(f).is_file()]
    resolv = _real(Path("/etc/resolv.conf"))
    if resolv is not None and _is_under(resolv, unseen):
        lent.append(resolv)  # DNS still works when the network is on
    home_trees = tuple(t for t in hidden if t in {*homes, *real_homes})
    return Visibility(hidden, tuple(lent), tuple(dirs), (*files, *system_files), home_trees)


def hidden_from_sandbox(
    path: Path, env: Mapping[str, str], writable: Iterable[Path] = (), home: Path | None = None
) -> bool:
    """Whether a sandboxed command cannot read `path` (for `acb sandbox --check` and the search
    tool, which must not show what a command could not read)."""
    seen = visibility(env, home)
    real = _real(path) or path
    if _is_under(real, seen.hidden_dirs) or real in seen.hidden_files:
        return True
    return not seen.visible(real, writable)
