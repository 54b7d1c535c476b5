"""Build the edit corpus from real history: each git diff hunk of a Python file, replayed alone
against its parent file, with the file as it should look after it.

Repositories are read in place (a clone or a bare git directory); nothing is copied into this
repository. Output: JSON lines of {repo, commit, path, original, ops, expected}.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@ ?(.*)$")
MAX_FILE_BYTES = 300_000
MAX_HUNK_LINES = 60


ATTRIBUTES = Path(__file__).with_name("python.gitattributes")


def git(repo: Path, *args: str) -> str:
    flag = "--git-dir" if (repo / "HEAD").exists() and not (repo / ".git").exists() else "-C"
    # diff=python makes hunk headers name the enclosing def/class, as a model's anchor would.
    settings = ["-c", "core.quotepath=off", "-c", f"core.attributesFile={ATTRIBUTES}"]
    done = subprocess.run(
        ["git", flag, str(repo), *settings, *args],
        capture_output=True,
        check=False,
    )
    return done.stdout.decode("utf-8", "replace") if done.returncode == 0 else ""


Hunk = tuple[str, int, int, str, list[tuple[str, str]]]


def hunks_of(diff: str) -> Iterator[Hunk]:
    """(path, old_start, old_len, anchor, ops) for each hunk of modified files."""
    path: str | None = None
    current: list[tuple[str, str]] | None = None
    header: tuple[int, int, str] = (0, 0, "")
    for line in diff.split("\n"):
        if line.startswith("diff --git"):
            if current is not None and path:
                yield path, *header, current
            path, current = None, None
        elif line.startswith("--- "):
            path = None if line == "--- /dev/null" else line[6:]
        elif line.startswith("+++ "):
            path = None if line == "+++ /dev/null" else path
        elif match := HUNK.match(line):
            if current is not None and path:
                yield path, *header, current
            header = (int(match.group(1)), int(match.group(2) or "1"), match.group(5).strip())
            current = []
        elif current is not None and line[:1] in (" ", "-", "+"):
            current.append((line[0], line[1:]))
        elif current is not None and line.startswith("\\"):
            current = None  # "\ No newline at end of file": skip this hunk
    if current is not None and path:
        yield path, *header, current


def edits_from(repo: Path, wanted: int, per_commit: int = 3) -> Iterator[dict[str, object]]:
    commits = git(repo, "log", "--no-merges", "--format=%H %P", "-n", "3000", "--", "*.py")
    produced = 0
    for entry in commits.splitlines():
        parts = entry.split()
        if len(parts) != 2:
            continue
        commit, parent = parts
        diff = git(
            repo,
            "diff",
            "-U3",
            "--no-color",
            "--no-renames",
            "--no-ext-diff",
            parent,
            commit,
            "--",
            "*.py",
        )
        taken = 0
        for path, start, length, anchor, ops in hunks_of(diff):
            if taken >= per_commit or length == 0 or len(ops) > MAX_HUNK_LINES:
                continue
            original = git(repo, "show", f"{parent}:{path}")
            if not original or len(original) > MAX_FILE_BYTES or "\r" in original:
                continue
            lines = original.split("\n")[:-1] if original.endswith("\n") else original.split("\n")
            old = [t for op, t in ops if op != "+"]
            if lines[start - 1 : start - 1 + length] != old:
                continue
            new = [t for op, t in ops if op != "-"]
            expected = lines[: start - 1] + new + lines[start - 1 + length :]
            yield {
                "repo": repo.name if repo.name != "repo" else repo.parent.name,
                "commit": commit[:12],
                "path": path,
                "original": original,
                "ops": ops,
                "anchor": anchor,
                "expected": "\n".join(expected) + "\n",
            }
            taken += 1
            produced += 1
            if produced >= wanted:
                return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repo", action="append", required=True, help="git work tree or git dir")
    parser.add_argument("--per-repo", type=int, default=200)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    count = 0
    with Path(args.out).open("w") as out:
        for repo in args.repo:
            for edit in edits_from(Path(repo), args.per_repo):
                out.write(json.dumps(edit) + "\n")
                count += 1
    print(f"{count} edits written to {args.out}")


if __name__ == "__main__":
    main()
