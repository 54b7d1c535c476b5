"""Read a git unified diff and rewrite it in Codex's apply_patch grammar, the way a model would.

SWE-bench's gold patches are git diffs; acb takes Codex patches. The conversion keeps what a
Codex patch can say (context, removals, additions, the enclosing definition as an `@@` anchor,
`*** End of File`) and drops what it cannot (line numbers), so the benchmark asks acb's locator
to find each hunk the way it must for a model's patch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

HUNK_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@ ?(.*)$")
NO_NEWLINE = "\\ No newline at end of file"


class NotExpressible(Exception):
    """The diff says something a Codex patch cannot (binary data, a change to the final newline)."""


@dataclass
class GitHunk:
    old_start: int
    old_len: int
    new_len: int
    section: str
    lines: list[str] = field(default_factory=list)
    """Each line with its ' ', '-' or '+' marker."""
    newline_marks: list[int] = field(default_factory=list)
    """Indices into `lines` followed by git's 'No newline at end of file' mark."""


@dataclass
class FileDiff:
    old_path: str | None
    new_path: str | None
    hunks: list[GitHunk] = field(default_factory=list)
    binary: bool = False


def _path(spec: str) -> str | None:
    spec = spec.split("\t")[0].strip()
    if spec == "/dev/null":
        return None
    return spec[2:] if spec[:2] in ("a/", "b/") else spec


def parse_unified(diff: str) -> list[FileDiff]:
    """Every file of a `git diff`, with its hunks and their section headings."""
    files: list[FileDiff] = []
    hunk: GitHunk | None = None
    for line in diff.split("\n"):
        if line.startswith("diff --git "):
            names = line[len("diff --git ") :].split(" b/")
            files.append(FileDiff(_path(names[0]), _path("b/" + names[-1])))
            hunk = None
        elif hunk is None and line.startswith("--- "):
            files[-1].old_path = _path(line[4:])
        elif hunk is None and line.startswith("+++ "):
            files[-1].new_path = _path(line[4:])
        elif line.startswith(("Binary files ", "GIT binary patch")):
            files[-1].binary = True
        elif match := HUNK_HEADER.match(line):
            old_start, old_len = int(match[1]), int(match[2] or 1)
            hunk = GitHunk(old_start, old_len, int(match[4] or 1), match[5].strip())
            files[-1].hunks.append(hunk)
        elif hunk is not None and line == NO_NEWLINE:
            hunk.newline_marks.append(len(hunk.lines) - 1)
        elif hunk is not None and not _complete(hunk) and line[:1] in (" ", "-", "+", ""):
            hunk.lines.append(line or " ")  # a blank context line that lost its space
        else:
            hunk = None
            _extended_header(files[-1], line)
    return files


def _extended_header(diff: FileDiff, line: str) -> None:
    """What the lines between `diff --git` and the hunks say, for files with no `---`/`+++`
    (an empty file added or deleted, a pure rename)."""
    if line.startswith("new file mode"):
        diff.old_path = None
    elif line.startswith("deleted file mode"):
        diff.new_path = None
    elif line.startswith("rename from "):
        diff.old_path = line[len("rename from ") :]
    elif line.startswith("rename to "):
        diff.new_path = line[len("rename to ") :]


def _complete(hunk: GitHunk) -> bool:
    """Whether the hunk holds as many old and new lines as its header announced."""
    old = sum(1 for line in hunk.lines if line[0] != "+")
    new = sum(1 for line in hunk.lines if line[0] != "-")
    return old >= hunk.old_len and new >= hunk.new_len


def full_section(section: str, pre_lines: list[str], hunk_start: int) -> str:
    """git cuts a heading at 80 bytes; a model writes the whole line, so take it from the file.

    The heading is the nearest line above the hunk that git's funcname rule picked, so the
    nearest line at or above the hunk's first line that starts with the heading's text.
    """
    wanted = section.rstrip("\ufffd").strip()
    for index in range(min(hunk_start, len(pre_lines)) - 1, -1, -1):
        if pre_lines[index].strip().startswith(wanted):
            return pre_lines[index].strip()
    return section


def _check_expressible(diff: FileDiff) -> None:
    if diff.binary:
        raise NotExpressible("binary file")
    for hunk in diff.hunks:
        if diff.old_path is None and hunk.newline_marks:
            raise NotExpressible("adds a file without a final newline")
        removed = any(hunk.lines[i][0] == "-" for i in hunk.newline_marks)
        added = any(hunk.lines[i][0] == "+" for i in hunk.newline_marks)
        kept = any(hunk.lines[i][0] == " " for i in hunk.newline_marks)
        if removed != added and not kept:
            raise NotExpressible("adds or removes the file's final newline")


def _update(diff: FileDiff, pre: str, anchors: bool) -> list[str]:
    pre_lines = pre.splitlines()
    out = [f"*** Update File: {diff.old_path}"]
    if diff.new_path != diff.old_path:
        out.append(f"*** Move to: {diff.new_path}")
    for hunk in diff.hunks:
        section = full_section(hunk.section, pre_lines, hunk.old_start) if hunk.section else ""
        out.append(f"@@ {section}" if anchors and section else "@@")
        out += hunk.lines
        old_end = hunk.old_start - 1 + hunk.old_len if hunk.old_len else hunk.old_start
        if old_end >= len(pre_lines) and hunk.old_len:
            out.append("*** End of File")
    return out


def to_codex(files: list[FileDiff], pre: dict[str, str], anchors: bool) -> str:
    """The Codex patch for `files`; `anchors` keeps git's section headings as `@@` anchors."""
    out = ["*** Begin Patch"]
    for diff in files:
        _check_expressible(diff)
        if diff.old_path is None and diff.new_path is not None:
            added = [line[1:] for hunk in diff.hunks for line in hunk.lines]
            out.append(f"*** Add File: {diff.new_path}")
            out += ["+" + line for line in added]
        elif diff.new_path is None and diff.old_path is not None:
            out.append(f"*** Delete File: {diff.old_path}")
        elif diff.old_path is not None:
            out += _update(diff, pre[diff.old_path], anchors)
    out.append("*** End Patch")
    return "\n".join(out) + "\n"
