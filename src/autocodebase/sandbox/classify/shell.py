"""Split a bash command line into the simple commands it would run, as far as can be known.

bashlex gives the tree; this module walks all of it (lists, pipelines, subshells, loops,
compound redirections, `$(..)`, backticks, `<(..)`, `>(..)`) and then looks inside the
commands that run other commands (`bash -c`, `eval`, `env`, `xargs`, `find -exec`, ...; see
`wrappers`). Whatever cannot be known statically is written down in `Parsed.problems`, so
that every judge built on this can refuse it instead of guessing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

MAX_DEPTH = 4
"""Nested `bash -c` / `eval` strings deeper than this are not judged (a problem)."""

GLOB_CHARS = re.compile(r"[*?]|\[[^\]]*\]|\{[^}]*(,|\.\.)[^}]*\}")

PLAIN = re.compile(r"[A-Za-z0-9_./:,+@%=' \"-]*")
"""A command line made only of these characters is one simple command whose words are what
`shlex` splits: no operator, redirection, expansion, glob, escape or comment can be written
with them. Such lines (`ls`, `cat a.py`, `git status --short`, `pytest -q tests`) skip
bashlex, whose import costs about 0.1 s even with its tables recorded (bash_tables.py)."""

RESERVED_WORDS = frozenset(
    {
        *("if", "then", "else", "elif", "fi", "case", "esac", "for", "select", "while"),
        *("until", "do", "done", "function", "time", "coproc", "in"),
    }
)
"""Words that make a plain line bash syntax rather than a program call: bashlex judges those."""


@dataclass(frozen=True)
class Redirect:
    kind: str
    """bash's operator: `>`, `>>`, `<`, `<>`, `>&`, `&>`, `<<<`, ..."""
    target: str
    """The file name as written, or `&N` for a file descriptor."""


@dataclass(frozen=True)
class SimpleCommand:
    """One program invocation (or bare assignment) that the command line would run."""

    argv: tuple[str, ...]
    """Words after quote removal; argv[0] is the program as written."""
    assignments: tuple[str, ...] = ()
    """`NAME=value` prefixes (and variables a `for` loop or `env` sets)."""
    redirects: tuple[Redirect, ...] = ()
    computed: frozenset[int] = frozenset()
    """Indexes of words whose value is only known when the command runs ($x, $(..), globs)."""
    transparent: bool = False
    """This command only runs the commands found inside it (`timeout 5 X`, `bash -c X`):
    judging those is judging it, apart from its own assignments and redirections."""
    via: str = ""
    """How it was reached, e.g. `bash -c` or `find -exec` ('' at the top level)."""

    @property
    def program(self) -> str:
        return self.argv[0] if self.argv else ""

    @property
    def program_computed(self) -> bool:
        return 0 in self.computed


@dataclass
class Parsed:
    commands: list[SimpleCommand] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    """Why some of what runs cannot be known; empty when every simple command is listed."""


def parse(command: str, depth: int = 0, via: str = "") -> Parsed:
    """Every simple command `command` would run (see the module docstring)."""
    parsed = Parsed()
    if depth > MAX_DEPTH:
        parsed.problems.append("commands nested too deeply to judge")
        return parsed
    words = _plain_words(command)
    if words is not None:
        from autocodebase.sandbox.classify.wrappers import expand

        expand(SimpleCommand(tuple(words), via=via), depth, parsed)
        return parsed
    from autocodebase.sandbox.classify.bash_tables import import_bashlex

    try:
        trees = import_bashlex().parse(command)  # lazy: only shell syntax needs it
    except Exception as exc:  # bashlex raises its own errors and sometimes plain ones
        parsed.problems.append(f"cannot parse the command ({type(exc).__name__})")
        return parsed
    walker = _Walker(command, depth, via, parsed)
    for tree in trees:
        walker.visit(tree)
    return parsed


def _plain_words(command: str) -> list[str] | None:
    """The words of a plain command line (see `PLAIN`); None when it is not one, or when its
    first word would be an assignment (`A=1 cmd`) rather than the program."""
    if not PLAIN.fullmatch(command):
        return None
    import shlex

    try:
        words = shlex.split(command)
    except ValueError:  # an unclosed quote: bashlex says why
        return None
    if not words or "=" in words[0] or words[0] in RESERVED_WORDS:
        return None
    return words


def _raw(source: str, node: Any) -> str:
    start, end = node.pos
    return source[start:end]


class _Walker:
    def __init__(self, source: str, depth: int, via: str, parsed: Parsed):
        self.source, self.depth, self.via, self.parsed = source, depth, via, parsed

    def visit(self, node: Any) -> None:
        kind = node.kind
        if kind == "command":
            self._command(node)
        elif kind == "function":
            self.parsed.problems.append("defines a function")
        elif kind == "for":
            self._for(node)
        elif kind in ("word", "assignment"):
            self._word_parts(node)
        elif kind == "redirect":
            self._redirect(node)
        else:
            for child in getattr(node, "parts", None) or getattr(node, "list", None) or []:
                self.visit(child)
            for redirect in getattr(node, "redirects", None) or []:
                # `{ ..; } > f` writes f whatever runs inside: a command of its own, no program
                bare = SimpleCommand((), (), (self._redirect(redirect),), via=self.via)
                self.parsed.commands.append(bare)

    def _command(self, node: Any) -> None:
        from autocodebase.sandbox.classify.wrappers import expand

        words: list[str] = []
        computed: set[int] = set()
        assignments: list[str] = []
        redirects: list[Redirect] = []
        for part in node.parts:
            if part.kind == "word":
                if self._word_parts(part):
                    computed.add(len(words))
                words.append(part.word)
            elif part.kind == "assignment":
                self._word_parts(part)
                assignments.append(part.word)
            elif part.kind == "redirect":
                redirects.append(self._redirect(part))
        simple = SimpleCommand(
            tuple(words), tuple(assignments), tuple(redirects), frozenset(computed), via=self.via
        )
        expand(simple, self.depth, self.parsed)

    def _for(self, node: Any) -> None:
        name = next((p for p in node.parts if p.kind == "word"), None)
        if name is not None:  # `for PATH in ...` assigns PATH for the whole loop body
            bare = SimpleCommand((), (f"{name.word}=",), via=self.via)
            self.parsed.commands.append(bare)
        for child in node.parts:
            if child is not name:
                self.visit(child)

    def _word_parts(self, node: Any) -> bool:
        """Walk into a word's substitutions; True when its value is only known at run time."""
        raw = _raw(self.source, node)
        computed = "$'" in raw or '$"' in raw  # bashlex mangles ANSI-C quoting: never trust it
        if GLOB_CHARS.search(_unquoted(raw)):
            computed = True
        for part in getattr(node, "parts", None) or []:
            if part.kind in ("commandsubstitution", "processsubstitution"):
                computed = True
                self.visit(part.command)
            elif part.kind == "parameter":
                computed = True
                if "$(" in part.value or "`" in part.value:
                    self.parsed.problems.append("a command inside a ${...} expansion")
            elif part.kind != "tilde":
                self.visit(part)
        return computed

    def _redirect(self, node: Any) -> Redirect:
        heredoc = getattr(node, "heredoc", None)
        if heredoc is not None and ("$(" in heredoc.value or "`" in heredoc.value):
            self.parsed.problems.append("a command inside a here-document")
        target = node.output
        if isinstance(target, int):
            return Redirect(node.type, f"&{target}")
        self._word_parts(target)
        return Redirect(node.type, target.word)


def _unquoted(raw: str) -> str:
    """`raw` with quoted stretches removed (to find globs bash would expand)."""
    return re.sub(r"'[^']*'|\"(?:\\.|[^\"\\])*\"|\\.", "", raw)
