"""The approval gate: every command the model proposes passes here on its way to the sandbox.

Policies, as in Codex CLI: `untrusted` asks before anything not known to be read-only;
`on-request` runs commands in the sandbox without asking and asks only when the model requests
to escalate one command (with a justification); `never` never asks, and failures go back to the
model. Headless runs cannot ask: where a question would be needed the command is refused with a
message saying how to pre-approve it.

Without bubblewrap, `sandbox.fallback = "read-only-guard"` runs a command on the host only if
`host_verdict` proves it harmless (a short list of programs, arguments checked, no git), with a
fixed PATH and a minimal environment; approvals never widen that.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, Protocol

from autocodebase.config import ApprovalPolicy as ApprovalPolicy  # re-exported for callers
from autocodebase.sandbox.approvals import Approval, ApprovalStore, program_of
from autocodebase.sandbox.classify import classify, destructive, host_verdict
from autocodebase.sandbox.policy import SandboxPolicy
from autocodebase.sandbox.run import CommandOutcome, run_command, sandbox_unavailable

Decision = Literal[
    "approve-once",
    "approve-command-session",
    "approve-program-session",
    "approve-command-project",
    "approve-program-project",
    "deny",
]


HOST_PATH = "/usr/bin:/bin"
HOST_VARIABLES = frozenset(
    {"HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TERM", "NO_COLOR"}
)


def host_environment(env: Mapping[str, str]) -> dict[str, str]:
    """What a guarded command gets on the host: the system's programs first on PATH (never a
    workspace `.venv/bin` or `.`), and no variable that makes bash or a reader run code
    (BASH_ENV, BASH_FUNC_*, LD_*, GIT_*, PAGER, LESSOPEN, RIPGREP_CONFIG_PATH, ...)."""
    kept = {k: v for k, v in env.items() if k in HOST_VARIABLES or k.startswith("LC_")}
    return {**kept, "PATH": HOST_PATH}


@dataclass(frozen=True)
class Edited:
    """The person's answer was a corrected command: run that one, once, instead."""

    command: str


@dataclass(frozen=True)
class ApprovalRequest:
    command: str
    reason: str
    escalated: bool
    justification: str | None = None


class Approver(Protocol):
    def __call__(self, request: ApprovalRequest) -> Decision | Edited: ...


GateNotice = Callable[[ApprovalRequest, str, str], None]
"""(request, decision, how it was decided) — for events."""


@dataclass
class CommandGate:
    policy: SandboxPolicy
    approvals: ApprovalPolicy
    store: ApprovalStore
    approver: Approver | None = None
    """None when nobody can be asked (headless)."""
    notice: GateNotice | None = field(default=None, repr=False)

    def run(
        self,
        command: str,
        workspace: Path,
        env: Mapping[str, str],
        timeout_s: int | None = None,
        escalate: bool = False,
        justification: str | None = None,
        extra_writable: tuple[Path, ...] = (),
        content: Path | None = None,
    ) -> CommandOutcome:
        """Run `command` if the policy allows (asking when it says to). `extra_writable` lends
        the sandbox a directory acb made for this one command (e.g. for a test report);
        `content` is shown at the workspace's path (`run_command`)."""
        if extra_writable:
            gate = replace(
                self,
                policy=replace(
                    self.policy, writable_roots=(*self.policy.writable_roots, *extra_writable)
                ),
            )
            return gate.run(
                command, workspace, env, timeout_s, escalate, justification, content=content
            )
        if escalate and self.approvals == "never":
            escalate = False  # nobody to ask; it runs sandboxed and the model sees what happens
        needs_question, reason = self._needs_question(command, escalate)
        edited = None
        if needs_question:
            request = ApprovalRequest(command, reason, escalate, justification)
            refusal, edited = self._ask(request)
            if refusal is not None:
                return CommandOutcome(None, refusal, sandbox="refused", refused=refusal)
        if edited is not None:
            outcome = self._contained(edited, escalate, workspace, env, timeout_s, content)
            note = f"(the user changed the command to: {edited})\n"
            return replace(outcome, output=note + outcome.output)
        return self._contained(command, escalate, workspace, env, timeout_s, content)

    def _contained(
        self,
        command: str,
        escalate: bool,
        workspace: Path,
        env: Mapping[str, str],
        timeout_s: int | None,
        content: Path | None = None,
    ) -> CommandOutcome:
        policy = replace(self.policy, mode="full-access") if escalate else self.policy
        if sandbox_unavailable(policy) and policy.fallback == "read-only-guard":
            verdict = host_verdict(command)
            if not verdict.safe:
                message = (
                    f"sandbox unavailable and this command is not known to be harmless on the "
                    f"host ({verdict.reason}); sandbox.fallback = 'read-only-guard' refuses it"
                )
                return CommandOutcome(None, message, sandbox="refused", refused=message)
            policy = replace(policy, mode="full-access")
            env = host_environment(env)
        return run_command(policy, command, workspace, env, timeout_s, content=content)

    def _needs_question(self, command: str, escalate: bool) -> tuple[bool, str]:
        if self.store.find(command, escalate) is not None:
            return False, "approved before"
        danger = destructive(command)
        if danger:
            return True, f"{danger}: acb never does that without a person's approval"
        if escalate:
            return True, "asks to run outside the sandbox"
        if self.approvals == "untrusted":
            verdict = classify(command)
            return (not verdict.safe), verdict.reason
        return False, "runs in the sandbox"

    def _ask(self, request: ApprovalRequest) -> tuple[str | None, str | None]:
        """(the message the model gets when refused, the command the person wrote instead)."""
        if self.approver is None:
            if self.notice:
                self.notice(request, "deny", "headless: nobody to ask")
            what = "outside the sandbox" if request.escalated else "here"
            return (
                f"not run: this command needs approval to run {what} ({request.reason}), and "
                "this run cannot ask. The user can pre-approve it with `acb approvals add`."
            ), None
        decision = self.approver(request)
        if isinstance(decision, Edited):
            if self.notice:
                self.notice(request, f"edit: {decision.command}", "asked")
            return None, decision.command
        if self.notice:
            self.notice(request, decision, "asked")
        if decision == "deny":
            return "not run: the user declined this command. Try another way or ask them.", None
        if decision != "approve-once":
            _, match, scope = decision.split("-")
            value = request.command.strip() if match == "command" else program_of(request.command)
            self.store.remember(Approval(match, value, request.escalated, scope))  # type: ignore[arg-type]
        return None, None
