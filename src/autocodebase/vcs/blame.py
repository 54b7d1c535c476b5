"""`acb blame`: line by line, which acb run (and model) wrote a line, or which human did.

Built on `git blame --porcelain` (so it follows history through later human commits) and the
provenance notes acb attaches to its commits (`refs/notes/acb`): a line counts as the run's
when the note lists that line of that commit and the line's content hash still matches.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from autocodebase.vcs.commit import read_note
from autocodebase.vcs.diff import parse_diff, unquote_path
from autocodebase.vcs.git import git


def line_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:16]


@dataclass(frozen=True)
class BlameLine:
    number: int
    text: str
    commit: str
    author: str
    run: str | None
    model: str | None


def blame(root: Path, path: str, revision: str | None = None) -> list[BlameLine]:
    """Each line of `path` with who wrote it: the working tree's file, or with `revision` the
    file as committed there (read from git's objects: nothing in the working tree, such as a
    directory swapped for a symlink, can change what is read)."""
    at = [revision] if revision else []
    porcelain = git(root, "blame", "--porcelain", *at, "--", path).decode(
        "utf-8", "surrogateescape"
    )
    notes: dict[str, dict[str, object] | None] = {}
    authors: dict[str, str] = {}
    filenames: dict[str, str] = {}
    lines: list[BlameLine] = []
    commit, original = "", 0
    for raw in porcelain.split("\n"):
        if raw.startswith("\t"):
            text = raw[1:]
            if commit not in notes:
                notes[commit] = read_note(root, commit) if not commit.startswith("0000") else None
            run, model = _attribution(notes[commit], filenames.get(commit, path), original, text)
            lines.append(
                BlameLine(len(lines) + 1, text, commit, authors.get(commit, "?"), run, model)
            )
            continue
        parts = raw.split(" ")
        if (
            len(parts) >= 3
            and len(parts[0]) in (40, 64)
            and all(c in "0123456789abcdef" for c in parts[0])
        ):
            commit, original = parts[0], int(parts[1])
        elif raw.startswith("author "):
            authors[commit] = raw[len("author ") :]
        elif raw.startswith("filename "):
            filenames[commit] = unquote_path(raw[len("filename ") :])
    return lines


def _attribution(
    note: dict[str, object] | None, path: str, line: int, text: str
) -> tuple[str | None, str | None]:
    if not note:
        return None, None
    files = note.get("files")
    record = files.get(path) if isinstance(files, dict) else None
    hashes = record.get("lines") if isinstance(record, dict) else None
    if isinstance(hashes, dict) and hashes.get(str(line)) == line_hash(text):
        return str(note.get("run")), str(note.get("model"))
    return None, None


def provenance_record(
    root: Path,
    parent: str | None,
    commit: str,
    run_id: str,
    model: str,
    calls: dict[str, list[str]],
) -> dict[str, object]:
    """The note for `commit`: for each file, the lines the run added (numbered as in `commit`),
    their content hashes, and the tool calls that changed the file."""
    diff_args = [parent, commit] if parent else ["--root", commit]
    # No renames: a file the run moved was written, every line of it, by this commit.
    diff = git(root, "diff", "-U0", "--no-color", "--no-renames", *diff_args).decode(
        "utf-8", "surrogateescape"
    )
    files: dict[str, dict[str, object]] = {}
    added = {
        file.path: sorted(file.added_lines)
        for file in parse_diff(diff)
        if file.hunks and file.new_path is not None
    }
    for path, numbers in added.items():
        content = (
            git(root, "show", f"{commit}:{path}", check=False)
            .decode("utf-8", "surrogateescape")
            .split("\n")
        )
        files[path] = {
            "lines": {str(n): line_hash(content[n - 1]) for n in numbers if 0 < n <= len(content)},
            "tool_calls": calls.get(path, []),
        }
    return {
        "version": 1,
        "tool": "acb",
        "run": run_id,
        "model": model,
        "commit": commit,
        "files": files,
    }
