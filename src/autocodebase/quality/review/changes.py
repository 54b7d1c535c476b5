"""What a review looks at: the files a diff touches and, in each, the lines it added or
changed — so old debt elsewhere in the file is not reported as the change's fault."""

from __future__ import annotations

import re
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from autocodebase.errors import UsageError
from autocodebase.vcs.git import GitError, git_text

_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@", re.M)


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


def parse_added_lines(diff: str) -> dict[str, set[int]]:
    """File → lines of the new version that the diff adds or changes (from `-U0` hunks)."""
    found: dict[str, set[int]] = {}
    current: str | None = None
    for line in diff.splitlines():
        if line.startswith("+++ "):
            target = line[4:].strip()
            current = None if target == "/dev/null" else target.removeprefix("b/")
            if current is not None:
                found.setdefault(current, set())
            continue
        match = _HUNK.match(line)
        if match and current is not None:
            start, count = int(match.group(1)), int(match.group(2) or 1)
            found[current].update(range(start, start + count))
    return found


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
        diff = git_text(root, "diff", "-U0", "--no-color", "--no-ext-diff", base, head)
        changes = ChangeSet(f"{base}..{head}", scratch, parse_added_lines(diff), diff)
        _export(root, head, changes.files, scratch)
        return changes
    except GitError as exc:
        raise UsageError(str(exc)) from None


def _exists(root: Path, rev: str) -> bool:
    done = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "--verify", "-q", f"{rev}^{{tree}}"],
        capture_output=True, check=False,
    )  # fmt: skip
    return done.returncode == 0


def _uncommitted(root: Path) -> ChangeSet:
    diff = git_text(root, "diff", "-U0", "--no-color", "--no-ext-diff", "HEAD")
    lines = parse_added_lines(diff)
    untracked = git_text(root, "ls-files", "--others", "--exclude-standard").splitlines()
    for path in untracked:
        try:
            count = len((root / path).read_text(errors="replace").splitlines())
        except OSError:
            continue
        lines[path] = set(range(1, count + 1))
    return ChangeSet("uncommitted changes", root, lines, diff)


def _export(root: Path, rev: str, paths: list[str], destination: Path) -> None:
    if not paths:
        return
    with subprocess.Popen(
        ["git", "-C", str(root), "archive", "--format=tar", rev, "--", *paths],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    ) as archive:  # fmt: skip
        assert archive.stdout is not None
        with tarfile.open(fileobj=archive.stdout, mode="r|") as tar:
            tar.extractall(destination, filter="data")
