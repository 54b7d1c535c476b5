"""What a review looks at: the files a diff touches and, in each, the lines it added or
changed — so old debt elsewhere in the file is not reported as the change's fault."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from autocodebase.errors import UsageError
from autocodebase.vcs.checkpoint import export_tree, real_parents
from autocodebase.vcs.diff import DiffHunk, DiffLine, parse_diff
from autocodebase.vcs.git import UNTRACKED_LITTER_EXCLUDED, GitError, git_ok, git_text

REVIEW_DIFF = ("-U3", "--find-renames", "--no-color", "--no-ext-diff")
"""A moved file is reviewed on the lines that changed, not all of them, whatever `diff.renames`
says (prefixes, colour and the rest are pinned for every diff in `vcs.git`)."""


@dataclass
class ChangeSet:
    """The new side of a diff: which lines of which files changed, and where to read them."""

    label: str
    root: Path
    """Where the new versions of the files can be read (the work tree, or an export)."""
    lines: dict[str, set[int]] = field(default_factory=dict)
    diff: str = ""

    @property
    def files(self) -> list[str]:
        return sorted(self.lines)


@dataclass
class ReviewHunk:
    """A hunk as review shows it: `vcs.diff`'s hunk, and the definition it sits in (`scope`,
    filled in later by `compress`)."""

    diff: DiffHunk
    scope: str = ""

    @property
    def added(self) -> int:
        return len(self.diff.added)


@dataclass
class FilePatch:
    path: str
    hunks: list[ReviewHunk] = field(default_factory=list)
    deleted: bool = False

    @property
    def added(self) -> int:
        return sum(h.added for h in self.hunks)


def parse_patches(diff: str) -> list[FilePatch]:
    """Files and hunks of a unified diff (any context width), as review shows them: text
    files with hunks only (`vcs.diff` reads the diff; binary and content-less changes have no
    lines to review)."""
    return [
        FilePatch(
            file.path,
            [ReviewHunk(h) for h in file.hunks],
            deleted=file.new_path is None,
        )
        for file in parse_diff(diff)
        if file.hunks
    ]


def whole_file_patch(path: str, text: str) -> FilePatch:
    """A new (e.g. untracked) file as one all-added hunk."""
    lines = [
        DiffLine("+", line, old=None, new=n) for n, line in enumerate(text.splitlines(), start=1)
    ]
    hunk = DiffHunk(old_start=0, old_count=0, new_start=1, new_count=len(lines), lines=lines)
    return FilePatch(path, [ReviewHunk(hunk)])


def parse_added_lines(diff: str) -> dict[str, set[int]]:
    """File → lines of the new version that the diff adds or changes (none for a binary file,
    which is there all the same: no gate reads it, and that is a finding of its own)."""
    return {
        file.path: file.added_lines
        for file in parse_diff(diff)
        if (file.hunks or file.binary) and file.new_path is not None
    }


def resolve(root: Path, spec: str | None, uncommitted: bool, scratch: Path) -> ChangeSet:
    """The change to review: `--uncommitted` (work tree + untracked vs HEAD), `BASE..HEAD`,
    or one commit REV (against its first parent); default: uncommitted if any, else HEAD."""
    try:
        if uncommitted or spec is None:
            changes = _uncommitted(root)
            if changes.lines or uncommitted:
                return changes
            spec = "HEAD"
        if ".." in spec:
            base, _, head = spec.partition("..")
            base, head = base or "HEAD", head or "HEAD"
        else:
            head, base = spec, f"{spec}^"
            if not _exists(root, base):
                base = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # the empty tree: a root commit
        for rev in (base, head):
            if not _exists(root, rev):
                raise UsageError(f"no such revision: {rev}")
        diff = git_text(root, "diff", *REVIEW_DIFF, base, head)
        changes = ChangeSet(f"{base}..{head}", scratch, parse_added_lines(diff), diff)
        if changes.files:
            export_tree(root, head, scratch, changes.files)
        return changes
    except GitError as exc:
        raise UsageError(str(exc)) from None


def _exists(root: Path, rev: str) -> bool:
    return git_ok(root, "rev-parse", "--verify", "-q", f"{rev}^{{tree}}")


def _uncommitted(root: Path) -> ChangeSet:
    diff = git_text(root, "diff", *REVIEW_DIFF, "HEAD")
    lines = parse_added_lines(diff)
    listing = ("ls-files", "--others", "--exclude-standard", *UNTRACKED_LITTER_EXCLUDED)
    untracked = git_text(root, *listing).splitlines()
    for path in untracked:
        try:
            count = len((root / path).read_text(errors="replace").splitlines())
        except OSError:
            continue
        lines[path] = set(range(1, count + 1))
    return ChangeSet("uncommitted changes", root, _real_files(root, lines), diff)


def as_arguments(files: Sequence[str]) -> list[str]:
    """Paths as arguments to a tool: `./` first, so a file named `--plugin=x.py` or `-ohook`
    (which a command can create in the workspace) is read as a file, never as an option that
    loads a plugin or writes a report through a symlink."""
    return [f"./{name}" for name in files]


def _real_files(root: Path, lines: dict[str, set[int]]) -> dict[str, set[int]]:
    """Only regular files of the work tree: a symlink (or a path under a symlinked directory)
    may lead to a file the sandbox hides, whose text review tools would then print."""
    kept = {}
    for path, numbers in lines.items():
        full = root / path
        if full.is_symlink() or not real_parents(root, path):
            continue
        kept[path] = numbers
    return kept
