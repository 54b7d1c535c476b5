"""What a git command line does: its global options, its subcommand, and whether it only reads
or could destroy work.

Global options come before the subcommand and change where git looks and what config it runs
with (`-c core.pager=...`, `-C other-repo`, `--exec-path=...`): they are skipped to find the
subcommand, and any that changes config, repository or programs makes a read not known-safe.
"""

from __future__ import annotations

from dataclasses import dataclass

VALUE_OPTIONS = frozenset(
    {
        "-C",
        "-c",
        "--git-dir",
        "--work-tree",
        "--namespace",
        "--super-prefix",
        "--config-env",
        "--exec-path",
        "--list-cmds",
        "--attr-source",
    }
)
"""Global options whose value may be the next word."""
HARMLESS_GLOBALS = frozenset(
    {
        "--no-pager",
        "--no-optional-locks",
        "--literal-pathspecs",
        "--glob-pathspecs",
        "--noglob-pathspecs",
        "--icase-pathspecs",
        "--no-replace-objects",
        "--no-advice",
    }
)
READ_ONLY = frozenset(
    {
        "status",
        "diff",
        "log",
        "show",
        "blame",
        "ls-files",
        "ls-tree",
        "rev-parse",
        "describe",
        "grep",
        "shortlog",
        "cat-file",
        "rev-list",
        "merge-base",
        "whatchanged",
        "annotate",
    }
)
LISTING = {
    "branch": {"--list", "-a", "-r", "-v", "-vv", "--show-current", "--all", "--remotes"},
    "tag": {"--list", "-l"},
    "remote": {"-v"},
    "stash": {"list"},
    "reflog": {"show"},
    "config": {"--get", "--get-all", "--list", "-l", "--show-origin", "--get-regexp"},
}
WRITING_OPTIONS = ("--output", "--output-directory", "--open-files-in-pager", "--ext-diff")
"""Long options (git accepts unambiguous abbreviations) with which a read writes or runs."""
DESTRUCTIVE = {
    "push": "pushes to a remote",
    "clean": "deletes untracked files",
    "stash": "moves uncommitted work away",
    "restore": "discards uncommitted edits",
}


@dataclass(frozen=True)
class GitLine:
    globals: tuple[str, ...]
    subcommand: str
    args: tuple[str, ...]


def split(args: tuple[str, ...] | list[str]) -> GitLine:
    """Separate `git`'s global options from its subcommand and the subcommand's arguments."""
    i = 0
    while i < len(args) and args[i].startswith("-"):
        i += 2 if args[i] in VALUE_OPTIONS and args[i] not in ("--exec-path",) else 1
    sub = args[i] if i < len(args) else ""
    return GitLine(tuple(args[:i]), sub, tuple(args[i + 1 :]))


def abbreviates(arg: str, options: tuple[str, ...]) -> str | None:
    """The option of `options` that `arg` names (in full or as a unique-enough prefix)."""
    name = arg.split("=", 1)[0]
    if not name.startswith("--") or len(name) < 3:
        return None
    return next((o for o in options if o.startswith(name)), None)


def read_problem(line: GitLine) -> str | None:
    """None when this git command only reads; otherwise why it is not known to."""
    risky = [g for g in line.globals if g not in HARMLESS_GLOBALS]
    if risky:
        return f"git {risky[0]} changes the repository, config or programs git uses"
    for arg in line.args:
        written = abbreviates(arg, WRITING_OPTIONS)
        if written:
            return f"git {line.subcommand} {written} writes a file or runs a program"
    if line.subcommand == "grep" and any(
        a.startswith("-O") or (a[:1] == "-" and a[1:2] != "-" and "O" in a) for a in line.args
    ):
        return "git grep -O runs a pager program"
    if line.subcommand in READ_ONLY:
        return None
    allowed = LISTING.get(line.subcommand)
    if allowed is not None and line.args and line.args[0] in allowed:
        if line.subcommand != "config" and all(a in allowed for a in line.args):
            return None
        if line.subcommand == "config" and not any(
            a.startswith(("--add", "--unset", "--replace", "--rename", "--remove", "--edit", "-e"))
            for a in line.args
        ):
            return None
    if allowed is not None and not line.args and line.subcommand in ("branch", "tag", "remote"):
        return None
    return f"git {line.subcommand or ''} can change the repository".replace("  ", " ")


def alias_problem(line: GitLine, assignments: tuple[str, ...]) -> str | None:
    """Why this git command could run something other than its subcommand says."""
    for i, option in enumerate(line.globals):
        value = line.globals[i + 1] if i + 1 < len(line.globals) else ""
        if option == "-c" and value.lower().startswith("alias."):
            return "git -c alias.* makes the subcommand mean anything"
        if option.startswith("--config-env") and "alias." in (option + value).lower():
            return "git --config-env alias.* makes the subcommand mean anything"
    if any(a.startswith(("GIT_CONFIG_", "GIT_EXEC_PATH=")) for a in assignments):
        return "git configuration set through the environment makes the subcommand mean anything"
    return None


def destructive_problem(line: GitLine) -> str | None:
    """Why this git command could destroy work or publish it, or None."""
    sub, args = line.subcommand, line.args
    if sub in DESTRUCTIVE:
        if sub == "stash" and args[:1] in (("list",), ("show",)):
            return None
        if sub == "restore" and "--staged" in args and "--worktree" not in args:
            return None
        return f"git {sub} {DESTRUCTIVE[sub]}"
    if sub == "reset" and "--hard" in args:
        return "git reset --hard discards uncommitted edits"
    if sub == "checkout" and ("--" in args or "." in args or "-f" in args):
        return "git checkout of paths discards uncommitted edits"
    if sub in ("switch", "checkout") and any(
        a in ("-f", "--force", "--discard-changes") for a in args
    ):
        return f"git {sub} --force discards uncommitted edits"
    return None
