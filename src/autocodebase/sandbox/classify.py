"""Is a command known to be safe (read-only)? Parsed with bashlex, judged part by part.

A command is known-safe only if every simple command in it (through pipelines, `&&`, `;`,
subshells and command substitutions) is a program on the read-only list, used with arguments
that keep it read-only, and no redirection writes to a file. Anything unparsable or unknown is
not known-safe: the approval policy then decides.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

READ_ONLY_PROGRAMS = frozenset(
    {
        "ls", "cat", "head", "tail", "wc", "grep", "egrep", "fgrep", "rg", "pwd", "echo",
        "printf", "which", "file", "stat", "du", "df", "tree", "sort", "uniq", "cut", "tr",
        "diff", "cmp", "basename", "dirname", "realpath", "readlink", "date", "true", "false",
        "test", "[", "nl", "less", "more", "column", "comm", "md5sum", "sha256sum", "whoami",
        "uname", "id", "hostname", "type", "jq", "seq", "expr", "cd",
    }
)  # fmt: skip
GIT_READ_ONLY = frozenset(
    {"status", "diff", "log", "show", "blame", "ls-files", "ls-tree", "rev-parse", "describe",
     "grep", "shortlog", "cat-file", "reflog", "rev-list", "merge-base", "whatchanged"}
)  # fmt: skip
GIT_LISTING = {
    "branch": {"--list", "-a", "-r", "-v", "-vv", "--show-current"},
    "tag": {"--list", "-l"},
    "remote": {"-v"},
    "stash": {"list"},
    "config": {"--get", "--list", "-l"},
}
FIND_WRITES = frozenset(
    {"-exec", "-execdir", "-ok", "-okdir", "-delete", "-fprint", "-fprintf", "-fls"}
)
PYTEST_UNSAFE_FLAGS = ("--basetemp", "--junitxml", "--junit-xml", "--resultlog", "-p", "--pastebin")
SAFE_REDIRECT_TARGETS = frozenset({"/dev/null", "&1", "&2"})


@dataclass(frozen=True)
class Verdict:
    safe: bool
    reason: str


def _words(node: Any) -> list[str]:
    return [part.word for part in node.parts if part.kind == "word"]


def _walk(node: Any) -> Iterator[Any]:
    yield node
    for child in getattr(node, "parts", None) or getattr(node, "list", None) or []:
        yield from _walk(child)
    command = getattr(node, "command", None)
    if command is not None and hasattr(command, "kind"):
        yield from _walk(command)
    output = getattr(node, "output", None)
    if output is not None and hasattr(output, "kind"):
        yield from _walk(output)


def _judge_program(words: list[str]) -> str | None:
    """None when this simple command is read-only; otherwise why it is not."""
    if not words:
        return None
    program = os.path.basename(words[0])
    args = words[1:]
    if "=" in words[0] and not words[0].startswith("="):
        return "sets a variable for a command" if args else None
    if program == "git":
        sub = next((a for a in args if not a.startswith("-")), "")
        if sub in GIT_READ_ONLY and "--output" not in " ".join(args):
            return None
        if sub in GIT_LISTING:
            rest = args[args.index(sub) + 1 :]
            if all(a in GIT_LISTING[sub] for a in rest):
                return None
        return f"git {sub or ''} can change the repository".replace("  ", " ")
    if program == "find":
        bad = sorted(FIND_WRITES.intersection(args))
        return f"find with {bad[0]} runs or writes" if bad else None
    if program == "sed":
        return (
            "sed -i edits files" if any(a.startswith(("-i", "--in-place")) for a in args) else None
        )
    if program in ("pytest", "py.test") or (
        program.startswith("python") and args[:2] == ["-m", "pytest"]
    ):
        bad_flags = [a for a in args if a.startswith(PYTEST_UNSAFE_FLAGS)]
        return f"pytest with {bad_flags[0]}" if bad_flags else None
    if program in READ_ONLY_PROGRAMS:
        return None
    return f"{program} is not on the read-only list"


DESTRUCTIVE_GIT = {
    "push": "pushes to a remote",
    "clean": "deletes untracked files",
    "stash": "moves uncommitted work away",
    "restore": "discards uncommitted edits",
}


def _destructive_git(args: list[str]) -> str | None:
    sub = next((a for a in args if not a.startswith("-")), "")
    if sub in DESTRUCTIVE_GIT and not (
        sub == "stash" and args[args.index(sub) + 1 :][:1] == ["list"]
    ):
        if sub == "restore" and "--staged" in args and "--worktree" not in args:
            return None
        return f"git {sub} {DESTRUCTIVE_GIT[sub]}"
    if sub == "reset" and "--hard" in args:
        return "git reset --hard discards uncommitted edits"
    if sub == "checkout" and ("--" in args or "." in args or "-f" in args):
        return "git checkout of paths discards uncommitted edits"
    if sub in ("switch", "checkout") and any(
        a in ("-f", "--force", "--discard-changes") for a in args
    ):
        return f"git {sub} --force discards uncommitted edits"
    return None


def destructive(command: str) -> str | None:
    """Why `command` could destroy the user's work or publish it (git push, reset --hard, clean -f,
    checkout -- .), or None. Such commands always need a person's approval."""
    import bashlex

    try:
        trees = bashlex.parse(command)
    except Exception:  # unparsable: judged by the other checks, not here
        return None
    for tree in trees:
        for node in _walk(tree):
            if node.kind == "command":
                words = _words(node)
                if words and os.path.basename(words[0]) == "git":
                    reason = _destructive_git(words[1:])
                    if reason:
                        return reason
    return None


def classify(command: str) -> Verdict:
    """Whether `command` is known to only read."""
    import bashlex  # lazy: only commands need it

    try:
        trees = bashlex.parse(command)
    except Exception as exc:  # bashlex raises its own errors and sometimes plain ones
        return Verdict(False, f"cannot parse the command ({type(exc).__name__})")
    for tree in trees:
        for node in _walk(tree):
            kind = node.kind
            if kind == "redirect":
                target = node.output.word if hasattr(node.output, "word") else str(node.output)
                if (
                    node.type in (">", ">>", ">|", "&>", ">&")
                    and target not in SAFE_REDIRECT_TARGETS
                ):
                    return Verdict(False, f"writes to {target}")
            elif kind == "command":
                problem = _judge_program(_words(node))
                if problem:
                    return Verdict(False, problem)
            elif kind == "function":
                return Verdict(False, "defines a function")
    return Verdict(True, "read-only")
