"""Is a command known to be safe? Parsed with bashlex, judged simple command by simple command.

`classify`: known to only read, inside the sandbox (decides whether `untrusted` asks).
`host_verdict`: provably harmless even on the host, for the `read-only-guard` fallback.
`destructive`: could destroy the user's work or publish it (always needs a person).
A command is known-safe only if every simple command it would run (through pipelines, `&&`,
subshells, substitutions, `bash -c`, `eval` and wrappers such as `env` or `timeout`) is, and
anything that cannot be parsed or known before it runs is not.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from autocodebase.sandbox.classify import git
from autocodebase.sandbox.classify.programs import READ_ONLY, simple_problem
from autocodebase.sandbox.classify.shell import Parsed, SimpleCommand, parse

__all__ = ["Classification", "classify", "destructive", "host_verdict", "parse", "simple_problem"]

CHANGES_DIRECTORY = frozenset({"cd", "pushd", "popd"})


@dataclass(frozen=True)
class Classification:
    safe: bool
    reason: str


def _judge(command: str, host: bool) -> Classification:
    parsed = parse(command)
    if parsed.problems:
        return Classification(False, parsed.problems[0])
    for simple in parsed.commands:
        problem = simple_problem(simple, host)
        if problem:
            return Classification(False, problem)
    names = {os.path.basename(c.program) for c in parsed.commands}
    if names & CHANGES_DIRECTORY and "git" in names:
        return Classification(False, "git after cd may use another repository's config and hooks")
    return Classification(True, "read-only")


def classify(command: str) -> Classification:
    """Whether `command` is known to only read (inside the sandbox)."""
    return _judge(command, host=False)


def host_verdict(command: str) -> Classification:
    """Whether `command` is harmless even run on the host with the user's full access: a
    short list of programs with their arguments checked, and nothing else (not git)."""
    return _judge(command, host=True)


def _destructive_simple(simple: SimpleCommand) -> str | None:
    argv = simple.argv
    name = os.path.basename(simple.program)
    if simple.program_computed and any(a in git.DESTRUCTIVE or a == "reset" for a in argv[1:]):
        return "runs a program whose name is only known when it runs, with git-like arguments"
    # `sudo git push`, `parallel git push`: git as an argument of a program that may run it
    starts = [0] if name == "git" else []
    if name not in READ_ONLY:
        starts += [i for i in range(1, len(argv)) if os.path.basename(argv[i]) == "git"]
    for start in starts:
        line = git.split(argv[start + 1 :])
        reason = git.alias_problem(line, simple.assignments) or git.destructive_problem(line)
        if reason:
            return reason
    return None


def _mentions_git(command: str) -> bool:
    return re.search(r"g.?i.?t", command) is not None


def destructive(command: str) -> str | None:
    """Why `command` could destroy the user's work or publish it (git push, reset --hard,
    clean, checkout -- .), or None. Such commands always need a person's approval; one that
    cannot be fully parsed and mentions git is treated as such."""
    parsed: Parsed = parse(command)
    for simple in parsed.commands:
        reason = _destructive_simple(simple)
        if reason:
            return reason
    if parsed.problems and _mentions_git(command):
        return f"cannot tell whether it runs git destructively ({parsed.problems[0]})"
    return None
