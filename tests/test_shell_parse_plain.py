"""The plain-command path of the shell parser (no bashlex) must see exactly what bashlex sees,
and must leave every line with shell syntax to bashlex."""

from __future__ import annotations

import pytest

from autocodebase.sandbox.classify import classify
from autocodebase.sandbox.classify import shell as shell_parse

PLAIN = [
    "ls",
    "cat hello.py",
    "grep -n print hello.py",
    "git status --short",
    "pytest -q tests/test_core.py::test_x",
    "python3 -m pytest -x --tb=short",
    "git log --format=%H -n 3",
    "rg --pre ./x foo",
    "cat ''",
    'grep "two words" a.py',
    "grep 'it is' 'a b.py'",
    'echo "it\'s" done',
    "bash -c ls",
    "sh -c 'rm -rf build'",
    "find . -name x.py -delete",
    "env A=1 ls",
    "xargs rm",
    "git -c core.pager=less log",
    "timeout 5 python3 a.py",
    "sudo rm -rf /",
]

SYNTAX = [
    "A=1 ls",
    "PATH=. ls",
    "time ls",
    "for f in a; do rm f; done",
    "if ls; then rm x; fi",
    "ls | rm",
    "ls > out.txt",
    "echo $HOME",
    "echo `id`",
    "cat *.py",
    "ls ~",
    "ls # comment",
    "echo a\\ b",
    "ls; rm x",
    "ls && rm x",
    "cat 'unclosed",
    'echo "$(rm x)"',
    "ls\trm",
    "ls\nrm x",
]


def bashlex_parse(command: str, monkeypatch: pytest.MonkeyPatch) -> shell_parse.Parsed:
    monkeypatch.setattr(shell_parse, "_plain_words", lambda _command: None)
    return shell_parse.parse(command)


@pytest.mark.parametrize("command", PLAIN)
def test_plain_lines_parse_as_bashlex_parses_them(
    command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert shell_parse._plain_words(command) is not None
    fast = shell_parse.parse(command)
    with monkeypatch.context() as patched:
        slow = bashlex_parse(command, patched)
    assert fast == slow


@pytest.mark.parametrize("command", SYNTAX)
def test_lines_with_shell_syntax_go_to_bashlex(command: str) -> None:
    assert shell_parse._plain_words(command) is None


@pytest.mark.parametrize("command", PLAIN + SYNTAX)
def test_the_verdicts_do_not_depend_on_the_path(
    command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = classify(command)
    monkeypatch.setattr(shell_parse, "_plain_words", lambda _command: None)
    assert classify(command) == fast
