"""Paths no file tool may write: git's repository data and acb's own files, however spelled.

acb runs git on the host, outside every sandbox, and reads `.acb/` to decide what a run may do.
A tool that let the model write `.git/hooks/*`, `.git/config` (`core.fsmonitor`) or
`.acb/approvals.toml` would hand it the host. Names are compared the way git itself guards
`.git` against filesystems that fold them (case, trailing dots and spaces, NTFS streams and short
names, characters HFS+ ignores), and a directory git would take for a repository's data (HEAD with
objects and refs, or the gitdir a `.git` file names) counts wherever it is in the workspace.
"""

from __future__ import annotations

from pathlib import Path

PROTECTED = {
    ".git": "git's repository data (git runs hooks and config from there, on the host)",
    "git~1": "git's repository data (its NTFS short name)",
    ".acb": "acb's own settings and approvals (only a person may change them)",
    "acb~1": "acb's own settings and approvals (their NTFS short name)",
}

HFS_IGNORABLE = dict.fromkeys(
    [0x200C, 0x200D, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x206A, 0x2070), 0xFEFF]
)
"""Code points HFS+ drops when it compares names: `.g\u200cit` is `.git` there."""


def canonical_name(name: str) -> str:
    """`name` as a case-folding, NTFS or HFS+ filesystem would resolve it."""
    return name.translate(HFS_IGNORABLE).split(":", 1)[0].rstrip(" .").casefold()


def protected_part(parts: tuple[str, ...]) -> str | None:
    """Why one of `parts` (path components) is off limits, or None."""
    for part in parts:
        reason = PROTECTED.get(canonical_name(part))
        if reason is not None:
            return reason
    return None


def looks_like_git_dir(directory: Path) -> bool:
    """What git itself checks before it uses a directory as a repository's data, whether it
    found it as `.git`, as the gitdir a `.git` file names, or as a bare repository."""
    if not (directory / "HEAD").is_file():
        return False
    own = (directory / "objects").is_dir() and (directory / "refs").is_dir()
    return own or (directory / "commondir").is_file()


def write_refusal(root: Path, given: str, target: Path) -> str | None:
    """Why a tool may not write `target` (resolved, inside the resolved workspace `root`), which
    the model named `given`; None when it may. One line, written for the model to read."""
    named = () if Path(given).is_absolute() else Path(given).parts  # absolute: root's own parts
    reason = protected_part(named) or protected_part(target.relative_to(root).parts)
    if reason is not None:
        return f"{given} is inside {reason}; no tool may write there"
    for directory in [p for p in (target, *target.parents) if root in p.parents]:
        if looks_like_git_dir(directory):
            where = directory.relative_to(root).as_posix()
            return f"{given} is inside {where}/, a git repository's data; no tool may write there"
    return None


GIT_NAMES = frozenset({".git", "git~1"})


def _git_look_alike(path: str) -> str | None:
    """`path` up to its first component some filesystem would take for `.git`, or None."""
    parts = path.split("/")
    for index, part in enumerate(parts):
        if canonical_name(part) in GIT_NAMES:
            return "/".join(parts[: index + 1])
    return None


def nested_repositories(root: Path, listed: list[str]) -> list[str]:
    """The repositories inside the work tree at `root`, given its `git ls-files --others`-style
    listing: directories git itself treats as a nested repository (listed with a trailing `/`:
    a `.git` directory, or a `.git` file naming a valid gitdir), `.git` look-alikes (`.GIT`,
    `.git.`) that a folding filesystem would take for one, and bare repositories."""
    found = {path for path in listed if path.endswith("/")}
    # Only a path that mentions git, or has characters HFS+ ignores, can hold a look-alike:
    # the cheap test first, since a listing can hold a million paths.
    suspects = [path for path in listed if not path.isascii() or "git" in path.lower()]
    found |= {alike for path in suspects if (alike := _git_look_alike(path)) is not None}
    heads = [path.removesuffix("/HEAD") for path in listed if path.endswith("/HEAD")]
    found |= {head + "/" for head in heads if looks_like_git_dir(root / head)}
    return sorted(found)
