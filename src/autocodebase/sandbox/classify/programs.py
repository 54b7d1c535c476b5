"""Which programs only read, and with which arguments: one simple command judged at a time.

Two lists. `READ_ONLY` is for commands that run inside the sandbox, where "read-only" decides
whether a person is asked (`--approvals untrusted`); `HOST_SAFE` is for the `read-only-guard`
fallback, where the command runs on the host with the user's full access, so it is much
shorter: no git (repository config can run code), no pytest, no wrappers, no paths.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from autocodebase.sandbox.classify import git
from autocodebase.sandbox.classify.sed import sed_problem
from autocodebase.sandbox.classify.shell import Redirect, SimpleCommand

HOST_SAFE = frozenset(
    {
        "ls",
        "cat",
        "head",
        "tail",
        "wc",
        "grep",
        "egrep",
        "fgrep",
        "rg",
        "pwd",
        "echo",
        "printf",
        "stat",
        "du",
        "df",
        "tree",
        "sort",
        "uniq",
        "cut",
        "tr",
        "diff",
        "cmp",
        "basename",
        "dirname",
        "realpath",
        "readlink",
        "date",
        "true",
        "false",
        "test",
        "[",
        "nl",
        "column",
        "comm",
        "md5sum",
        "sha1sum",
        "sha256sum",
        "whoami",
        "uname",
        "id",
        "hostname",
        "type",
        "which",
        "seq",
        "expr",
        "cd",
        "file",
        "find",
        "sed",
        "jq",
    }
)
READ_ONLY = HOST_SAFE | {"git", "pytest", "py.test", "printenv"}
SANDBOX_WRAPPERS = frozenset(
    {
        "command",
        "builtin",
        "exec",
        "nice",
        "nohup",
        "timeout",
        "stdbuf",
        "env",
        "eval",
        "bash",
        "sh",
        "dash",
    }
)
"""Wrappers whose inner commands, judged in turn, say all they do (not xargs: it appends
arguments nobody has seen)."""
HARMLESS_VARIABLE = re.compile(
    r"(LC_[A-Z]+|LANG|LANGUAGE|TZ|NO_COLOR|COLUMNS|[a-z_][a-z0-9_]*)(\+?=|$)"
)
"""Variables a command may set: locale, time zone, colour, and lowercase shell variables (no
program reads those from its environment). Everything else (PAGER, LESSOPEN, LD_PRELOAD,
GIT_*, BASH_ENV, PYTHONSTARTUP, PATH, IFS, ...) can make a reader run code."""
SAFE_TARGETS = frozenset({"/dev/null", "&0", "&1", "&2", "-", "&-"})
WRITING_REDIRECTS = frozenset({">", ">>", ">|", "&>", "&>>", ">&", "<>"})
PYTEST_UNSAFE_FLAGS = ("--basetemp", "--junitxml", "--junit-xml", "--resultlog", "-p", "--pastebin")
PATH_OK_IN_SANDBOX = ("/usr/bin/", "/bin/")


def _clusters(args: tuple[str, ...]) -> str:
    """The letters of every short-option cluster before `--` (`-Ei -n` gives 'Ein')."""
    letters = []
    for arg in args:
        if arg == "--":
            break
        if arg.startswith("-") and not arg.startswith("--"):
            letters.append(arg[1:])
    return "".join(letters)


def _long(args: tuple[str, ...], *options: str) -> str | None:
    return next((o for a in args if a != "--" for o in [git.abbreviates(a, options)] if o), None)


def _sort(args: tuple[str, ...]) -> str | None:
    written = _long(args, "--output", "--compress-program")
    if written or "o" in _clusters(args):
        return f"sort {written or '-o'} writes a file or runs a program"
    return None


def _uniq(args: tuple[str, ...]) -> str | None:
    operands, rest = [], list(args)
    while rest:
        arg = rest.pop(0)
        if arg in ("-f", "-s", "-w") or _long(
            (arg,), "--skip-fields", "--skip-chars", "--check-chars"
        ):
            if "=" not in arg and rest:
                rest.pop(0)
        elif arg == "--":
            operands += rest
            break
        elif not arg.startswith("-") or arg == "-":
            operands.append(arg)
    return "uniq IN OUT writes OUT" if len(operands) > 1 else None


def _rg(args: tuple[str, ...]) -> str | None:
    runs = _long(args, "--pre", "--pre-glob", "--search-zip", "--hostname-bin")
    if runs or "z" in _clusters(args):
        return f"rg {runs or '-z'} runs other programs on the files"
    return None


def _find(args: tuple[str, ...]) -> str | None:
    bad = [a for a in args if a.startswith(("-exec", "-ok", "-fprint", "-fls")) or a == "-delete"]
    return f"find {bad[0]} runs a command, writes or deletes" if bad else None


def _file(args: tuple[str, ...]) -> str | None:
    if "C" in _clusters(args) or _long(args, "--compile"):
        return "file -C writes a compiled magic file"
    return None


def _tree(args: tuple[str, ...]) -> str | None:
    letters = _clusters(args)
    if "o" in letters or "R" in letters or _long(args, "--output"):
        return "tree -o/-R writes files"
    return None


def _date(args: tuple[str, ...]) -> str | None:
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if arg in ("-d", "-f", "-r", "--date", "--file", "--reference"):
            rest = rest[1:]
        elif _long((arg,), "--set") or (arg.startswith("-") and "s" in _clusters((arg,))):
            return "date -s sets the clock"
        elif not arg.startswith(("-", "+")):
            return "date with an operand sets the clock"
    return None


HOSTNAME_READS = frozenset(
    {
        "-s",
        "-f",
        "-d",
        "-i",
        "-I",
        "-a",
        "-A",
        "-y",
        "--short",
        "--fqdn",
        "--long",
        "--domain",
        "--ip-address",
        "--all-ip-addresses",
        "--alias",
        "--all-fqdns",
    }
)


def _hostname(args: tuple[str, ...]) -> str | None:
    return (
        None if set(args) <= HOSTNAME_READS else "hostname with an operand or -F/-b sets the name"
    )


def _no_v(program: str) -> Callable[[tuple[str, ...]], str | None]:
    def judge(args: tuple[str, ...]) -> str | None:
        if "-v" in args or (program != "printf" and "-R" in args):
            return f"{program} -v evaluates an array subscript, which can run commands"
        return None

    return judge


def _pytest(args: tuple[str, ...]) -> str | None:
    bad_flags = [a for a in args if a.startswith(PYTEST_UNSAFE_FLAGS)]
    return f"pytest with {bad_flags[0]}" if bad_flags else None


ARGUMENT_CHECKS: dict[str, Callable[[tuple[str, ...]], str | None]] = {
    "sort": _sort,
    "uniq": _uniq,
    "rg": _rg,
    "find": _find,
    "file": _file,
    "tree": _tree,
    "date": _date,
    "hostname": _hostname,
    "sed": sed_problem,
    "printf": _no_v("printf"),
    "test": _no_v("test"),
    "[": _no_v("["),
    "pytest": _pytest,
    "py.test": _pytest,
    "git": lambda args: git.read_problem(git.split(args)),
}
"""Programs that run code or write with some arguments: a glob or `$x` among their arguments
could expand to such an argument, so those are not known-safe either."""


def assignment_problem(assignments: tuple[str, ...]) -> str | None:
    unsafe = [a for a in assignments if not HARMLESS_VARIABLE.match(a)]
    if unsafe:
        return f"sets {unsafe[0].split('=')[0]}, which can change what a program runs"
    return None


def redirect_problem(redirects: tuple[Redirect, ...]) -> str | None:
    for redirect in redirects:
        if redirect.target.startswith(("/dev/tcp/", "/dev/udp/")):
            return f"opens a network connection ({redirect.target})"
        if redirect.kind in WRITING_REDIRECTS and redirect.target not in SAFE_TARGETS:
            return f"writes to {redirect.target}"
    return None


def _program_name(command: SimpleCommand, host: bool) -> tuple[str, str | None]:
    """The program's name to look up in the lists, or why it cannot be judged."""
    program = command.program
    if command.program_computed:
        return "", "the program is only known when it runs"
    if "/" not in program:
        return program, None
    if host or not program.startswith(PATH_OK_IN_SANDBOX):
        return "", f"runs {program} by path"
    return program.rsplit("/", 1)[1], None


def simple_problem(command: SimpleCommand, host: bool) -> str | None:
    """None when this one simple command only reads (`host`: even outside any sandbox)."""
    problem = assignment_problem(command.assignments) or redirect_problem(command.redirects)
    if problem or not command.argv:
        return problem
    name, problem = _program_name(command, host)
    if problem:
        return problem
    if command.transparent:
        if host and name not in ("command", "builtin"):
            return f"{name} runs another command, which the read-only guard does not allow"
        return None if name in SANDBOX_WRAPPERS else f"{name} runs commands it is given"
    if not host and name.startswith("python") and command.argv[1:3] == ("-m", "pytest"):
        return _pytest(command.argv[3:])
    if name not in (HOST_SAFE if host else READ_ONLY):
        if host and name in READ_ONLY:
            return f"{name} can run code from the repository; the read-only guard refuses it"
        return f"{name} is not on the read-only list"
    check = ARGUMENT_CHECKS.get(name)
    if check is None:
        return None
    if any(i > 0 for i in command.computed):
        return f"an argument of {name} is only known when it runs (it could become an option)"
    return check(command.argv[1:])
