"""Commands that run other commands: find what they run, so it is judged too.

`timeout 5 X`, `env A=1 X`, `bash -c "X"`, `eval X`, `xargs X`, `find -exec X ;`: the outer
command is listed, and so is X (recursively). Wrappers that only change *how* X runs are
marked transparent, so an approval for X also covers `timeout 5 X`; those that decide *what*
runs (`find`, `sudo`, `watch`) are not, so both they and X need covering.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable
from dataclasses import dataclass, replace

from autocodebase.sandbox.classify.shell import Parsed, SimpleCommand, parse


@dataclass(frozen=True)
class Inner:
    argv: tuple[str, ...] = ()
    assignments: tuple[str, ...] = ()
    strings: tuple[str, ...] = ()
    """Shell source to parse (`bash -c S`, `eval S`)."""
    transparent: bool = True
    problem: str | None = None
    start: int | None = None
    """Where `argv` begins among the wrapper's arguments (None: it was made from a string)."""


def _skip_options(args: list[str], takes_value: frozenset[str]) -> int:
    """Index of the first operand after `args`' options (`takes_value` lists the options
    whose value is the next word; the others are taken for flags)."""
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            return i + 1
        if not arg.startswith("-") or arg == "-":
            return i
        if arg in takes_value:
            i += 2
            continue
        i += 1
    return i


def _command(args: list[str]) -> Inner:
    start = _skip_options(args, frozenset())
    flags = "".join(a for a in args[:start] if a.startswith("-"))
    if "v" in flags or "V" in flags:
        return Inner()  # `command -v X` only looks X up
    return Inner(tuple(args[start:]), start=start)


def _exec(args: list[str]) -> Inner:
    start = _skip_options(args, frozenset({"-a"}))
    return Inner(tuple(args[start:]), start=start)


def _plain(takes_value: frozenset[str], operands_before: int = 0) -> Callable[[list[str]], Inner]:
    def unwrap(args: list[str]) -> Inner:
        start = _skip_options(args, takes_value) + operands_before
        return Inner(tuple(args[start:]), start=start)

    return unwrap


def _env(args: list[str]) -> Inner:
    takes = frozenset({"-u", "--unset", "-C", "--chdir", "-S", "--split-string"})
    i, rest = 0, list(args)
    while i < len(rest) and rest[i].startswith("-") and rest[i] != "--":
        arg = rest[i]
        split = None
        if arg in ("-S", "--split-string") and i + 1 < len(rest):
            split = rest[i + 1]
            del rest[i : i + 2]
        elif arg.startswith(("--split-string=", "-S")) and arg not in ("-S",):
            split = arg.split("=", 1)[1] if arg.startswith("--") else arg[2:]
            del rest[i]
        if split is not None:
            try:
                rest[i:i] = shlex.split(split)
            except ValueError:
                return Inner(problem="env -S with a string that cannot be split")
            continue
        if arg.startswith(("-C", "--chdir")):
            return Inner(problem="env -C runs the command in another directory")
        i += 2 if arg in takes else 1
    if i < len(rest) and rest[i] == "--":
        i += 1
    assignments = []
    while i < len(rest) and "=" in rest[i] and not rest[i].startswith("="):
        assignments.append(rest[i])
        i += 1
    return Inner(tuple(rest[i:]), tuple(assignments))


def _xargs(args: list[str]) -> Inner:
    takes = frozenset({"-a", "-E", "-I", "-L", "-n", "-P", "-s", "-d"})
    start = _skip_options(args, takes)
    return Inner(tuple(args[start:]), start=start) if args[start:] else Inner(("echo",))


def _shell(args: list[str]) -> Inner:
    """`bash [options] -c STRING [name args]`: the string is what runs."""
    i, command_mode = 0, False
    while i < len(args) and args[i][:1] in "-+" and args[i] not in ("-", "--"):
        arg = args[i]
        if arg in ("--rcfile", "--init-file") or (arg[1:2] != "-" and "i" in arg[1:]):
            return Inner(problem="an interactive shell runs its startup files")
        if arg in ("-o", "+o", "-O", "+O"):
            i += 2
            continue
        if not arg.startswith("--") and "c" in arg[1:]:
            command_mode = True
        i += 1
    if not command_mode:
        return Inner(transparent=False)  # a script file or stdin: judged as the shell itself
    if i < len(args) and args[i] == "--":
        i += 1
    if i >= len(args):
        return Inner(problem="a shell -c without a command")
    return Inner(strings=(args[i],))


def _eval(args: list[str]) -> Inner:
    return Inner(strings=(" ".join(args),)) if args else Inner()


def _dash_c(args: list[str]) -> Inner:
    """`su -c S`, `flock F -c S`, `script -c S`: the string runs; the outer program is judged."""
    for i, arg in enumerate(args):
        if arg in ("-c", "--command") and i + 1 < len(args):
            return Inner(strings=(args[i + 1],), transparent=False)
        if arg.startswith("--command="):
            return Inner(strings=(arg.split("=", 1)[1],), transparent=False)
    return Inner(transparent=False)


def _watch(args: list[str]) -> Inner:
    start = _skip_options(args, frozenset({"-n", "--interval", "-d", "-q"}))
    return Inner(strings=(" ".join(args[start:]),), transparent=False)


def _sudo(args: list[str]) -> Inner:
    takes = frozenset({"-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-T", "-U"})
    start = _skip_options(args, takes)
    return Inner(tuple(args[start:]), transparent=False, start=start)


def _find(args: list[str]) -> list[Inner]:
    runs, i = [], 0
    while i < len(args):
        if args[i] in ("-exec", "-execdir", "-ok", "-okdir"):
            end = next((j for j in range(i + 1, len(args)) if args[j] in (";", "+")), len(args))
            runs.append(Inner(tuple(args[i + 1 : end]), transparent=False, start=i + 1))
            i = end
        i += 1
    return runs


SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "rbash"})
UNWRAP: dict[str, Callable[[list[str]], Inner]] = {
    "command": _command,
    "builtin": _plain(frozenset()),
    "exec": _exec,
    "nice": _plain(frozenset({"-n", "--adjustment"})),
    "nohup": _plain(frozenset()),
    "setsid": _plain(frozenset()),
    "timeout": _plain(frozenset({"-s", "--signal", "-k", "--kill-after"}), operands_before=1),
    "stdbuf": _plain(frozenset({"-i", "-o", "-e"})),
    "env": _env,
    "xargs": _xargs,
    "eval": _eval,
    "sudo": _sudo,
    "doas": _sudo,
    "su": _dash_c,
    "runuser": _dash_c,
    "flock": _dash_c,
    "script": _dash_c,
    "watch": _watch,
    **dict.fromkeys(SHELLS, _shell),
}


def _inners(simple: SimpleCommand) -> list[Inner]:
    name = os.path.basename(simple.program)
    args = list(simple.argv[1:])
    if name == "find":
        return _find(args)
    unwrap = UNWRAP.get(name)
    return [unwrap(args)] if unwrap and not simple.program_computed else []


def expand(simple: SimpleCommand, depth: int, parsed: Parsed) -> None:
    """Add `simple` to `parsed`, and every command it runs (recursively)."""
    inners = _inners(simple)
    transparent = bool(inners) and all(i.transparent for i in inners)
    parsed.commands.append(replace(simple, transparent=transparent))
    via = os.path.basename(simple.program)
    for inner in inners:
        if inner.problem:
            parsed.problems.append(inner.problem)
        for string in inner.strings:
            nested = parse(string, depth + 1, via=f"{via} string")
            parsed.commands += nested.commands
            parsed.problems += nested.problems
        if inner.argv:
            child = SimpleCommand(
                inner.argv,
                simple.assignments + inner.assignments,
                (),
                _computed(simple, inner),
                via=via,
            )
            expand(child, depth + 1, parsed)


def _computed(outer: SimpleCommand, inner: Inner) -> frozenset[int]:
    """Which of `inner`'s words are only known at run time, from what was known of `outer`'s."""
    if inner.start is None:  # made from a string: computed throughout if any part was
        return frozenset(range(len(inner.argv))) if outer.computed else frozenset()
    first = inner.start + 1  # argv[0] is the wrapper itself
    return frozenset(i - first for i in outer.computed if first <= i < first + len(inner.argv))
