"""Remembered approvals: which commands the user has allowed, with a visible, revocable scope.

An approval matches one exact command or one program with any arguments, and may extend to
running outside the sandbox (`escalated`). Session approvals live in memory; project approvals
in `.acb/approvals.toml`, which acb keeps out of git (it adds itself to `.git/info/exclude`)
and ignores if it is tracked: approvals are personal, and a repository must not be able to
approve commands on its users' behalf.
"""

from __future__ import annotations

import datetime
import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from autocodebase.errors import ConfigError
from autocodebase.vcs.git import git_ok, git_text

Match = Literal["command", "program"]
Scope = Literal["session", "project"]
APPROVALS_FILE = Path(".acb") / "approvals.toml"


@dataclass(frozen=True)
class Approval:
    match: Match
    value: str
    escalated: bool = False
    scope: Scope = "project"
    created: str = ""

    def covers(self, command: str, escalated: bool) -> bool:
        if escalated and not self.escalated:
            return False
        if self.match == "command":
            return command.strip() == self.value
        words = command.strip().split()
        return bool(words) and os.path.basename(words[0]) == self.value

    def describe(self) -> str:
        what = (
            f"command `{self.value}`"
            if self.match == "command"
            else f"program `{self.value}` (any arguments)"
        )
        where = " outside the sandbox" if self.escalated else " in the sandbox"
        return f"{what}{where}, for this {self.scope}"


def program_of(command: str) -> str:
    words = command.strip().split()
    return os.path.basename(words[0]) if words else ""


class ApprovalStore:
    def __init__(self, workspace: Path):
        self.workspace = workspace
        self.path = workspace / APPROVALS_FILE
        self.session: list[Approval] = []
        self.warning: str | None = None

    def _tracked(self) -> bool:
        return git_ok(self.workspace, "ls-files", "--error-unmatch", str(APPROVALS_FILE))

    def project(self) -> list[Approval]:
        if not self.path.is_file():
            return []
        if self._tracked():
            self.warning = (
                f"{APPROVALS_FILE} is tracked by git and is ignored: approvals are personal, "
                "a repository cannot grant them"
            )
            return []
        try:
            data = tomllib.loads(self.path.read_text(encoding="utf-8"))
            return [
                Approval(
                    e["match"],
                    e["value"],
                    bool(e.get("escalated", False)),
                    "project",
                    e.get("created", ""),
                )
                for e in data.get("approval", [])
                if e.get("match") in ("command", "program") and isinstance(e.get("value"), str)
            ]
        except (tomllib.TOMLDecodeError, KeyError, TypeError, OSError) as exc:
            raise ConfigError(f"cannot read {self.path}: {exc}") from exc

    def all(self) -> list[Approval]:
        return [*self.project(), *self.session]

    def find(self, command: str, escalated: bool) -> Approval | None:
        return next((a for a in self.all() if a.covers(command, escalated)), None)

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
            "# acb approvals for this project: personal, kept out of git. `acb approvals list`."
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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        self._exclude_from_git()

    def _exclude_from_git(self) -> None:
        if not git_ok(self.workspace, "rev-parse", "--git-dir"):
            return
        exclude = self.workspace / git_text(
            self.workspace, "rev-parse", "--git-path", "info/exclude"
        )
        entry = f"/{APPROVALS_FILE.as_posix()}"
        existing = exclude.read_text() if exclude.exists() else ""
        if entry not in existing.splitlines():
            exclude.parent.mkdir(parents=True, exist_ok=True)
            exclude.write_text(
                existing + ("" if existing.endswith("\n") or not existing else "\n") + entry + "\n"
            )
