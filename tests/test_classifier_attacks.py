"""Real attempts against the classifier, the approvals and the read-only guard (issue 15, class 8).

Each table row is a bypass that today's checks let through: the reason asserted is the one a
person (or the model) is shown. The gate tests run the attempts for real and look for the file
the attempt would create.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from autocodebase.sandbox.approvals import Approval, ApprovalStore
from autocodebase.sandbox.bwrap import bwrap_problem
from autocodebase.sandbox.classify import classify, destructive, host_verdict
from autocodebase.sandbox.environment import command_environment
from autocodebase.sandbox.gate import CommandGate
from autocodebase.sandbox.policy import SandboxPolicy
from tests.helpers import tool_works

needs_bwrap = pytest.mark.skipif(
    bwrap_problem() is not None, reason=f"bubblewrap unusable here: {bwrap_problem()}"
)

NOT_READ_ONLY = [
    ("LESSOPEN='|touch x' cat f", "sets LESSOPEN"),
    ("GIT_EXTERNAL_DIFF=./x git diff", "sets GIT_EXTERNAL_DIFF"),
    ("GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=core.pager git log", "sets GIT_CONFIG_COUNT"),
    ("LD_PRELOAD=./evil.so ls", "sets LD_PRELOAD"),
    ("PAGER=./x git log", "sets PAGER"),
    ("BASH_ENV=./x ls", "sets BASH_ENV"),
    ("PYTHONSTARTUP=./x.py python -m pytest", "sets PYTHONSTARTUP"),
    ("PATH=.:$PATH ls", "sets PATH"),
    ("PATH=.; ls", "sets PATH"),
    ("for PATH in .; do ls; done", "sets PATH"),
    ("rg --pre ./x foo", "rg --pre runs other programs"),
    ("rg --pre-glob '*' --pre=./x foo", "rg --pre"),
    ("rg -z foo", "rg -z runs"),
    ("rg -iz foo", "rg -z runs"),
    ("rg --search-zip foo", "rg --search-zip runs"),
    ("git grep -O x", "git grep -O runs a pager"),
    ("git grep -Oless x", "git grep -O runs a pager"),
    ("git grep --open-files-in-pager=vim x", "--open-files-in-pager"),
    ("git grep --open-f x", "--open-files-in-pager"),
    ("git -c core.pager=./x log", "git -c changes"),
    ("git -C ../other status", "git -C changes"),
    ("git --exec-path=./bin status", "git --exec-path=./bin changes"),
    ("git --git-dir=evil/.git log", "git --git-dir=evil/.git changes"),
    ("git --work-tree=.. status", "git --work-tree=.. changes"),
    ("git --config-env=core.pager=X log", "git --config-env=core.pager=X changes"),
    ("git diff --ext-diff", "--ext-diff writes a file or runs"),
    ("git diff --output=notes.txt", "--output writes"),
    ("git log -p --out=x", "--output writes"),
    ("git reflog expire --all", "git reflog can change"),
    ("sed -Ei s/a/b/ f", "sed -i edits files"),
    ("sed -ni p f", "sed -i edits files"),
    ("sed --in-place=.bak s/a/b/ f", "sed --in-place edits"),
    ("sed --in-pl s/a/b/ f", "sed --in-place edits"),
    ("sed -n '1e touch x' f", "sed e command runs"),
    ("sed 's/x/y/e' f", "sed s///e runs"),
    ("sed 's/x/y/w out' f", "sed s///w runs a command or writes"),
    ("sed -n 'w out' f", "sed w command"),
    ("sed -e p -e 'W out' f", "sed W command"),
    ("sed -f script.sed f", "sed -f reads a script"),
    ("sort -o out f", "sort -o writes"),
    ("sort -ro out f", "sort -o writes"),
    ("sort --output=out f", "sort --output writes"),
    ("sort --compress-program=./x f", "sort --compress-program"),
    ("uniq in out", "uniq IN OUT writes OUT"),
    ("uniq -f 1 in out", "uniq IN OUT writes OUT"),
    ("find . -fprint out", "find -fprint"),
    ("find . -fprintf out %p", "find -fprintf"),
    ("find . -fls out", "find -fls"),
    ("find . -exec touch x ;", "find -exec"),
    ("find . -execdir touch x +", "find -execdir"),
    ("find . -ok rm {} ;", "find -ok"),
    ("find . -delete", "find -delete"),
    ("file -C -m magic", "file -C writes"),
    ("cat f <> F", "writes to F"),
    ("{ ls; } > f", "writes to f"),
    ("(ls) >> f", "writes to f"),
    ("cat < /dev/tcp/127.0.0.1/80", "opens a network connection"),
    ("less f", "less is not on the read-only list"),
    ("more f", "more is not on the read-only list"),
    ("ls | xargs cat", "xargs runs commands"),
    ("tree -o out", "tree -o/-R writes"),
    ("date -s 2020-01-01", "date -s sets the clock"),
    ("date --set=2020-01-01", "date -s sets the clock"),
    ("date 010100002020", "date with an operand sets the clock"),
    ("hostname evil", "hostname with an operand"),
    ("hostname -F /etc/x", "hostname with an operand"),
    ("printf -v 'a[$(id)]' x", "printf -v evaluates"),
    ("test -v 'a[$(id)]'", "test -v evaluates"),
    ("[ -v 'a[$(id)]' ]", "[ -v evaluates"),
    ("cd sub && git status", "git after cd"),
    ("echo ${x:-$(touch y)}", "a command inside a ${...} expansion"),
    ("cat <<EOF\n$(touch x)\nEOF", "a command inside a here-document"),
    ("eval 'touch x'", "touch is not on the read-only list"),
    ("bash -c 'ls; touch x'", "touch is not on the read-only list"),
    ("env -S 'touch x'", "touch is not on the read-only list"),
    ("bash --rcfile ./x -ic ls", "an interactive shell runs its startup files"),
    ("bash -ic ls", "an interactive shell runs its startup files"),
    ("timeout 5 touch x", "touch is not on the read-only list"),
    ("./ls", "runs ./ls by path"),
    (".venv/bin/cat f", "runs .venv/bin/cat by path"),
    ("rg foo *", "an argument of rg is only known when it runs"),
    ("sort $FLAGS f", "an argument of sort is only known when it runs"),
    ("rg foo $(cat list)", "an argument of rg is only known when it runs"),
    ("$CMD f", "the program is only known when it runs"),
]

KEPT_REFUSED = [
    ("sed -i s/a/b/ f", "sed -i edits files"),
    ("sed -s -i s/a/b/ f", "sed -i edits files"),
    ("pushd sub; git log", "pushd is not on the read-only list"),
    ("ls `touch x`", "touch is not on the read-only list"),
    ("cat <(touch x)", "touch is not on the read-only list"),
    ("ls >(tee x)", "tee is not on the read-only list"),
    ("source ./x.sh", "source is not on the read-only list"),
    (". ./x.sh", ". is not on the read-only list"),
    ("f() { ls; }; f", "defines a function"),
    ("tee f", "tee is not on the read-only list"),
    ("awk 'BEGIN{system(\"id\")}'", "awk is not on the read-only list"),
]
"""Refused before this work too: kept so the new parser does not lose them."""

STILL_READ_ONLY = [
    "ls -la | grep x",
    "git status && git diff HEAD~1",
    "git --no-pager log --oneline -5",
    "git log -p -- src",
    "python -m pytest -q tests/",
    "rg TODO src | wc -l",
    "rg -g '*.py' foo",
    "sed -n '1,20p' f",
    "sed -n -e '/x/p' -e 's/a/b/gp' f",
    "sed 's/a/b/g; 3q' f",
    "sort -u f | uniq -c",
    "find . -name '*.py' -type f",
    "LC_ALL=C sort f",
    "cat <<< hello",
    "echo ok > /dev/null 2>&1",
    "cd src && ls",
    "timeout 5 ls",
    "command -v git",
    "date +%Y",
    "hostname -s",
]


@pytest.mark.parametrize(("command", "reason"), NOT_READ_ONLY + KEPT_REFUSED)
def test_not_read_only(command: str, reason: str) -> None:
    verdict = classify(command)
    assert not verdict.safe
    assert reason in verdict.reason


@pytest.mark.parametrize("command", STILL_READ_ONLY)
def test_still_read_only(command: str) -> None:
    assert classify(command) == classify(command) and classify(command).safe


DESTRUCTIVE = [
    ("git -C . clean -fdx", "git clean deletes untracked files"),
    ("git -c a=b push", "git push pushes"),
    ("command git push", "git push pushes"),
    ('sh -c "git push"', "git push pushes"),
    ("bash -lc 'cd x && git push --force'", "git push pushes"),
    ("env git push", "git push pushes"),
    ("env -i A=1 git reset --hard", "git reset --hard"),
    ("git -c alias.x=push x", "git -c alias.* makes the subcommand mean anything"),
    ("git --config-env=alias.x=X x", "alias.* makes the subcommand mean anything"),
    ("GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=alias.x GIT_CONFIG_VALUE_0=push git x", "environment"),
    ("eval git clean -fd", "git clean deletes"),
    ("timeout 60 git push", "git push pushes"),
    ("nice -n 5 git checkout -- .", "git checkout of paths"),
    ("xargs -n1 git push < remotes", "git push pushes"),
    ("find . -maxdepth 0 -exec git clean -fdx ;", "git clean deletes"),
    ("sudo -u me git push", "git push pushes"),
    ("G=git; $G push", "name is only known when it runs"),
    ("$(echo git) push", "name is only known when it runs"),
    ("case x in x) git push;; esac", "cannot tell whether it runs git destructively"),
]


DESTRUCTIVE_KEPT = [
    ("git --git-dir=.git --work-tree=. push", "git push pushes"),
    ("/usr/bin/git push", "git push pushes"),
    ('"git" push', "git push pushes"),
    ("git pu\\sh", "git push pushes"),
    ("echo $(git push)", "git push pushes"),
    ("echo `git stash`", "git stash moves"),
]
"""Caught before this work too (bashlex removes the quoting): kept as a regression table."""


@pytest.mark.parametrize(("command", "reason"), DESTRUCTIVE + DESTRUCTIVE_KEPT)
def test_destructive(command: str, reason: str) -> None:
    found = destructive(command)
    assert found is not None and reason in found


@pytest.mark.parametrize("command", ["git status", "git stash list", "git log --grep push"])
def test_not_destructive(command: str) -> None:
    assert destructive(command) is None


HOST_REFUSED = [
    ("git status", "git can run code from the repository"),
    ("git --no-pager log", "git can run code from the repository"),
    ("python -m pytest", "python is not on the read-only list"),
    ("timeout 5 ls", "timeout runs another command"),
    ("env ls", "env runs another command"),
    ("/bin/ls", "runs /bin/ls by path"),
]


@pytest.mark.parametrize(("command", "reason"), HOST_REFUSED)
def test_host_guard_is_narrower(command: str, reason: str) -> None:
    assert classify(command).safe or "git" in command or "/" in command
    verdict = host_verdict(command)
    assert not verdict.safe and reason in verdict.reason


# --- approvals: a program approval covers a command only if every part of it is covered ---

CHAINS = [
    "echo hi && touch {marker}",
    "echo hi; touch {marker}",
    "echo hi || true; touch {marker}",
    "echo hi | tee {marker}",
    "echo $(touch {marker})",
    "echo `touch {marker}`",
    "echo <(touch {marker})",
    "echo hi > {marker}",
    "echo hi && timeout 5 touch {marker}",
    "echo hi && bash -c 'touch {marker}'",
    "echo hi && eval 'touch {marker}'",
    "echo hi && env touch {marker}",
    "echo hi && (touch {marker})",
    "echo hi && {{ echo hi; }} > {marker}",
    "echo hi; PATH=/tmp/nowhere:$PATH touch {marker}",
    "echo hi && find . -maxdepth 0 -exec touch {marker} ;",
]


@pytest.mark.parametrize("template", CHAINS)
def test_escalated_program_approval_covers_only_that_program(
    template: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """`echo` approved to run outside the sandbox must not carry anything else out with it."""
    workspace = tmp_path_factory.mktemp("ws")
    marker = tmp_path_factory.mktemp("host") / "marker"
    store = ApprovalStore(workspace)
    store.remember(Approval("program", "echo", escalated=True))
    gate = CommandGate(SandboxPolicy(), "on-request", store, approver=None)
    outcome = gate.run(template.format(marker=marker), workspace, command_environment(), 20, True)
    assert outcome.refused and "needs approval" in outcome.output
    assert not marker.exists()


def test_escalated_program_approval_still_runs_what_it_covers(tmp_path: Path) -> None:
    store = ApprovalStore(tmp_path)
    store.remember(Approval("program", "echo", escalated=True))
    gate = CommandGate(SandboxPolicy(), "on-request", store, approver=None)
    outcome = gate.run("echo a && timeout 5 echo b", tmp_path, command_environment(), 20, True)
    assert outcome.exit_code == 0 and outcome.output == "a\nb\n"
    assert outcome.sandbox == "none (full-access)"


@needs_bwrap
@pytest.mark.parametrize("template", CHAINS[:8])
def test_sandboxed_program_approval_covers_only_that_program(template: str, tmp_path: Path) -> None:
    """Under `untrusted`, an approval of `echo` does not let `touch` run without asking."""
    store = ApprovalStore(tmp_path)
    store.remember(Approval("program", "echo"))
    gate = CommandGate(SandboxPolicy(), "untrusted", store, approver=None)
    marker = tmp_path / "marker"
    outcome = gate.run(template.format(marker=marker), tmp_path, command_environment(), 20)
    assert outcome.refused and not marker.exists()
    covered = gate.run("echo hi && ls -a | wc -l", tmp_path, command_environment(), 20)
    assert covered.exit_code == 0 and covered.sandbox == "bubblewrap"


# --- the read-only guard: no bubblewrap, so whatever it lets through runs on the host ---


def _evil_workspace(root: Path, marker: Path) -> Path:
    """A workspace as a hostile repository or a model could leave it: scripts named like
    tools, a decompressor for rg, a nested repository whose config runs a command."""
    root.mkdir()
    touch = f"#!/bin/sh\ntouch {marker}\n"
    for name in ("ls", "cat", "evil.sh"):
        (root / name).write_text(touch)
        (root / name).chmod(0o755)
    (root / "f").write_text(f"touch {marker}\n")
    (root / "--pre=evil.sh").write_text("x\n")
    nested = root / "sub"
    nested.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "init", "-q"], cwd=nested, check=True)
    (nested / "f").write_text("x\n")
    for repo in (nested, root):
        subprocess.run(["git", "add", "f"], cwd=repo, check=True, capture_output=True)
        subprocess.run(["git", "config", "core.fsmonitor", str(root / "evil.sh")], cwd=repo)
    assert not marker.exists()
    return root


GUARD_BYPASSES = [
    "sed -n '1e touch {marker}' f",
    "sed 's/^//e' f",
    "sed -n 'w {marker}' f",
    "find . -maxdepth 0 -exec touch {marker} ;",
    "find . -maxdepth 0 -fprint {marker}",
    "sort -o {marker} f",
    "uniq f {marker}",
    "cat f <> {marker}",
    "{{ echo hi; }} > {marker}",
    "echo ${{x:-$(touch {marker})}}",
    "printf -v 'a[$(touch {marker})]' x",
    "test -v 'a[$(touch {marker})]'",
    "PATH=.:$PATH ls",
    "for PATH in .; do cat f; done",
    "./ls",
    "git status",
    "cd sub && git status",
    "rg --pre ./evil.sh x f",
    "rg x *",
    "rg -z x f",
]


@pytest.mark.parametrize("template", GUARD_BYPASSES)
def test_read_only_guard_runs_nothing_harmful_on_the_host(
    template: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if "rg " in template and not tool_works("rg", "--version"):
        pytest.skip("ripgrep is not installed")
    monkeypatch.setattr("autocodebase.sandbox.run.bwrap_problem", lambda: "bwrap is not installed")
    marker = tmp_path / "host-marker"
    workspace = _evil_workspace(tmp_path / "ws", marker)
    env = {**command_environment(), "PATH": f"{workspace}:{os.environ['PATH']}"}
    gate = CommandGate(SandboxPolicy(fallback="read-only-guard"), "never", ApprovalStore(workspace))
    outcome = gate.run(template.format(marker=marker), workspace, env, 20)
    assert outcome.refused and "read-only-guard" in outcome.output
    assert not marker.exists()


def test_read_only_guard_still_runs_plain_reads_with_a_system_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A workspace `cat` first on PATH is not what the guard runs."""
    monkeypatch.setattr("autocodebase.sandbox.run.bwrap_problem", lambda: "bwrap is not installed")
    marker = tmp_path / "host-marker"
    workspace = _evil_workspace(tmp_path / "ws", marker)
    env = {**command_environment(), "PATH": f"{workspace}:{os.environ['PATH']}", "BASH_ENV": "f"}
    gate = CommandGate(SandboxPolicy(fallback="read-only-guard"), "never", ApprovalStore(workspace))
    outcome = gate.run("cat f | wc -l && sed -n 1p f", workspace, env, 20)
    assert outcome.exit_code == 0 and outcome.output == f"1\ntouch {marker}\n"
    assert not marker.exists()
