"""Remembered approvals: which commands the user has allowed, with a visible, revocable scope.

An approval matches one exact command line, or one program with any arguments, and may extend
to running outside the sandbox (`escalated`). A program approval covers a command only if
EVERY simple command in it (through `&&`, pipes, `$(..)`, `bash -c`, `env`, `timeout`, ...)
is covered, by it or another approval, or (inside the sandbox) is known to only read; nothing
unparsable is covered. So approving `pytest` does not approve `pytest && curl ... | sh`.

Session approvals live in memory. Project approvals live in acb's per-user state directory
(`approvals/<sha256 of the workspace's real path>.toml`), written only by `acb approvals add`
and by a person's answer to a question: never inside the workspace, where anything the model
runs, or a cloned repository, could write them. A `.acb/approvals.toml` left in a workspace by
older versions is ignored with a warning.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import tempfile
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from autocodebase.config import default_state_dir
from autocodebase.errors import ConfigError
from autocodebase.sandbox.classify import parse, simple_problem
from autocodebase.sandbox.classify.programs import assignment_problem, redirect_problem
from autocodebase.sandbox.classify.shell import SimpleCommand

Match = Literal["command", "program"]
Scope = Literal["session", "project"]
LEGACY_FILE = Path(".acb") / "approvals.toml"
"""Where approvals used to live: ignored now (see the module docstring)."""


@dataclass(frozen=True)
class Approval:
    match: Match
    value: str
    escalated: bool = False
    scope: Scope = "project"
    created: str = ""

    def covers(self, command: str, escalated: bool) -> bool:
        """Whether this approval alone lets `command` run (see `covering`)."""
        return covering([self], command, escalated) is not None

    def covers_simple(self, simple: SimpleCommand, escalated: bool) -> bool:
        """A program approval covers one simple command running that program, as written
        (`pytest` does not cover `./pytest`), with no variable that changes what it runs and
        no redirection writing a file (that write is the shell's, not the program's)."""
        if (escalated and not self.escalated) or self.match != "program":
            return False
        if simple.program_computed or simple.program != self.value:
            return False
        return _own_parts_ok(simple)

    def describe(self) -> str:
        what = (
            f"command `{self.value}`"
            if self.match == "command"
            else f"program `{self.value}` (any arguments)"
        )
        where = " outside the sandbox" if self.escalated else " in the sandbox"
        return f"{what}{where}, for this {self.scope}"


def _own_parts_ok(simple: SimpleCommand) -> bool:
    """What a command line adds around a program: variables and redirections."""
    return not (assignment_problem(simple.assignments) or redirect_problem(simple.redirects))


def covering(approvals: Sequence[Approval], command: str, escalated: bool) -> Approval | None:
    """The approval that lets `command` run without asking, or None when some part of it is
    not covered (or when nothing needed approving: read-only commands are the classifier's)."""
    stripped = command.strip()
    for approval in approvals:
        exact = approval.match == "command" and approval.value == stripped
        if exact and (approval.escalated or not escalated):
            return approval
    parsed = parse(command)
    if parsed.problems:
        return None
    used: Approval | None = None
    for simple in parsed.commands:
        if simple.transparent or not simple.argv:
            if not _own_parts_ok(simple):
                return None
            continue
        found = next((a for a in approvals if a.covers_simple(simple, escalated)), None)
        if found is None and (escalated or simple_problem(simple, host=False) is not None):
            return None
        used = used or found
    return used


def program_of(command: str) -> str:
    """The program a program approval of `command` would name: the first one it runs, as
    written (wrappers such as `timeout` looked through)."""
    programs = [c.program for c in parse(command).commands if c.argv and not c.transparent]
    if programs:
        return programs[0]
    words = command.strip().split()
    return words[0] if words else ""


def approvals_path(workspace: Path, state_dir: Path | None = None) -> Path:
    """Where `workspace`'s project approvals live: outside it, keyed by its real path."""
    digest = hashlib.sha256(str(workspace.resolve()).encode()).hexdigest()
    return (state_dir or default_state_dir()) / "approvals" / f"{digest}.toml"


class ApprovalStore:
    def __init__(self, workspace: Path, state_dir: Path | None = None):
        self.workspace = workspace.resolve()
        self.path = approvals_path(self.workspace, state_dir)
        self.session: list[Approval] = []
        self.warning: str | None = self._legacy_warning()

    def _legacy_warning(self) -> str | None:
        legacy = self.workspace / LEGACY_FILE
        if not (legacy.is_file() or legacy.is_symlink()):
            return None
        return (
            f"ignoring {legacy}: approvals inside the workspace are not trusted (anything run "
            "there could have written them); re-add the ones you want with `acb approvals add`"
        )

    def project(self) -> list[Approval]:
        if not self.path.is_file():
            return []
        try:
            data = tomllib.loads(self.path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, OSError) as exc:
            raise ConfigError(f"cannot read {self.path}: {exc}") from exc
        if data.get("workspace") != str(self.workspace):
            return []  # another workspace's file (never expected: the name is its path's hash)
        return [
            Approval(
                e["match"], e["value"], bool(e.get("escalated")), "project", e.get("created", "")
            )
            for e in data.get("approval", [])
            if isinstance(e, dict)
            and e.get("match") in ("command", "program")
            and isinstance(e.get("value"), str)
        ]

    def all(self) -> list[Approval]:
        return [*self.project(), *self.session]

    def find(self, command: str, escalated: bool) -> Approval | None:
        return covering(self.all(), command, escalated)

    def remember(self, approval: Approval) -> Approval:
        stamped = Approval(
            approval.match,
            approval.value,
            approval.escalated,
            approval.scope,
            approval.created or datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        )
        if stamped.scope == "session":
            self.session.append(stamped)
        else:
            self._write([*self.project(), stamped])
        return stamped

    def revoke(self, index: int) -> Approval:
        """Revoke the `index`-th approval (1-based, as `acb approvals list` numbers them)."""
        everything = self.all()
        if not 1 <= index <= len(everything):
            raise ConfigError(f"there is no approval number {index} (see `acb approvals list`)")
        target = everything[index - 1]
        if target.scope == "session":
            self.session.remove(target)
        else:
            self._write([a for a in self.project() if a != target])
        return target

    def _write(self, approvals: list[Approval]) -> None:
        lines = [
            f"# acb approvals for {self.workspace}: see `acb approvals list`.",
            f"workspace = {json.dumps(str(self.workspace))}",
        ]
        for a in approvals:
            lines += [
                "",
                "[[approval]]",
                f"match = {json.dumps(a.match)}",
                f"value = {json.dumps(a.value)}",
                f"escalated = {'true' if a.escalated else 'false'}",
                f"created = {json.dumps(a.created)}",
            ]
        _write_private(self.path, "\n".join(lines) + "\n")


def _write_private(path: Path, text: str) -> None:
    """Write `text` to `path` atomically, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".approvals-")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
