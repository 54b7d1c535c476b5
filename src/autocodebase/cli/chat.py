"""`acb` in a terminal: a conversation with the codebase, turn by turn, in one recorded run.

Input comes through prompt_toolkit (history, Esc+Enter for a new line, `@path` completion that
puts files into the message); output is the same event stream `acb exec` renders. Ctrl-C stops
the current turn and keeps the session; at an empty prompt a second Ctrl-C (or Ctrl-D, /exit)
ends it. Approval questions from the sandbox layer are asked here, with their scope spelled out.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
from prompt_toolkit.completion import Completer, Completion
from prompt_toolkit.document import Document

from autocodebase.cli.options import approvals_option, directory_option, sandbox_option
from autocodebase.config import APPROVAL_POLICIES, ApprovalPolicy
from autocodebase.sandbox.gate import Edited
from autocodebase.signals import Terminated, ctrl_c_interrupts, terminating_signals

SLASH_HELP = {
    "/help": "this list",
    "/diff": "what this session has changed so far",
    "/undo": "put back the files the last turn changed",
    "/commit": "commit this session's changes (message written by the model)",
    "/tokens": "tokens and cost so far",
    "/approvals [POLICY]": f"show or set the approval policy ({', '.join(APPROVAL_POLICIES)})",
    "/model [PROVIDER/NAME]": "show or switch the model",
    "/compact": "summarise older turns now (the task, plan, files and last tests stay verbatim)",
    "/add PATH...": "keep files in the context: their current text goes with every message",
    "/drop [PATH...]": "stop sending those files (all of them without PATH)",
    "/init": "write a starter AGENTS.md from what acb sees in the repository",
    "/clear": "forget the conversation so far (files stay as they are)",
    "/exit": "end the session",
}
MAX_MENTION_BYTES = 64_000
CHAT_APPROVALS: ApprovalPolicy = "on-request"
"""The approval policy of a conversation unless you choose one: it can ask, so it asks when the
model wants to step outside the sandbox."""
APPROVAL_CHOICES = {
    "y": ("approve-once", "yes, this once"),
    "s": ("approve-command-session", "yes, and this exact command for this session"),
    "c": ("approve-command-project", "yes, and this exact command for this project"),
    "p": ("approve-program-project", "yes, and this program with any arguments for this project"),
    "e": ("edit", "edit the command, then run your version once"),
    "n": ("deny", "no"),
}


def expand_mentions(text: str, workspace: Path) -> str:
    """Append the contents of `@path` mentions that name files in the workspace."""
    attached = []
    for raw in text.split():
        word = raw.rstrip(".,;:!?)'\"")  # "look at @a.py, then" mentions a.py
        if not word.startswith("@") or len(word) < 2:
            continue
        target = (workspace / word[1:]).resolve()
        if workspace.resolve() not in target.parents or not target.is_file():
            continue
        data = target.read_bytes()[:MAX_MENTION_BYTES].decode("utf-8", "replace")
        attached.append(f"\n\n{word[1:]}:\n```\n{data}\n```")
    return text + "".join(attached)


class MentionCompleter(Completer):
    """Completes `@partial` with workspace files (tracked and untracked, not ignored)."""

    def __init__(self, files: list[str]):
        self.files = files

    def get_completions(self, document: Document, complete_event: Any) -> Iterator[Completion]:
        word = document.get_word_before_cursor(WORD=True)
        if not word.startswith("@"):
            return
        partial = word[1:]
        for path in self.files:
            if path.startswith(partial) or f"/{partial}" in f"/{path}":
                yield Completion("@" + path, start_position=-len(word))


@dataclass
class TerminalApprover:
    """Asks the person at the terminal; the choices say exactly how far an approval reaches."""

    ask: Any
    out: Any = field(default=sys.stdout)
    before: Any = None
    """Called before asking, to clear spinners and live output off the screen."""

    def __call__(self, request: Any) -> Any:
        if self.before is not None:
            self.before()
        where = "OUTSIDE the sandbox" if request.escalated else "in the sandbox"
        self.out.write(f"\n? The model wants to run {where}:\n    {request.command}\n")
        self.out.write(f"  reason: {request.reason}\n")
        if request.justification:
            self.out.write(f"  model's justification: {request.justification}\n")
        for key, (_, meaning) in APPROVAL_CHOICES.items():
            self.out.write(f"  [{key}] {meaning}\n")
        self.out.flush()
        while True:
            try:
                answer = self.ask("approve? [y/s/c/p/e/n] ").strip().lower()[:1]
            except Terminated:
                raise  # the session is ending, not declining
            except (KeyboardInterrupt, EOFError):
                return "deny"
            if answer == "e":
                try:
                    edited = self.ask("command: ", default=request.command).strip()
                except (KeyboardInterrupt, EOFError):
                    return "deny"
                return Edited(edited) if edited else "deny"
            if answer in APPROVAL_CHOICES:
                return APPROVAL_CHOICES[answer][0]


class Chat:
    """The read-eval loop: slash commands here, everything else is a turn of the agent."""

    def __init__(self, session: Any, prompt: Any, out: Any, resume: str | None = None):
        self.resume = resume
        self.session = session
        self.prompt = prompt
        self.out = out
        self.turns = 0
        self.pinned: list[str] = []
        self.last_turn_ref: str | None = None
        self.commit_base_ref: str | None = session.git.start_ref if session.git else None

    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def run(self) -> int:
        """Converse until the person leaves; 128 + N when signal N (SIGTERM, SIGHUP) ended it."""
        with terminating_signals() as caught, ctrl_c_interrupts():
            self._converse(lambda: caught.signum, caught.rearm)
        return 128 + caught.signum if caught.signum is not None else 0

    def _converse(self, stopped: Callable[[], int | None], rearm: Callable[[], None]) -> None:
        from autocodebase.agent.loop import RunResult
        from autocodebase.models.base import Usage

        result = RunResult("completed", "", 0, Usage(), None, None)
        interrupts = 0
        try:
            self.session.start()
            if self.resume:
                self.restore(self.resume)
            self.say(
                "acb: a conversation with this repository. /help lists commands; Ctrl-D ends it."
            )
            while True:
                try:
                    text = self.prompt("acb> ")
                except Terminated:
                    break  # recorded below, as every way a signal ends the session is
                except KeyboardInterrupt:
                    interrupts += 1
                    if interrupts >= 2:
                        break
                    self.say("(Ctrl-C again, Ctrl-D or /exit to leave)")
                    continue
                except EOFError:
                    break
                interrupts = 0
                text = text.strip()
                if not text:
                    continue
                if text.startswith("/"):
                    if self.command(text) == "exit":
                        break
                    continue
                rearm()  # the prompt's event loop let go of the signals' wakeup pipe
                result = self.turn(text)
                if stopped() is not None:
                    break
        finally:
            signum = stopped()
            if signum is not None and result.outcome != "interrupted":
                # However the signal reached us (at the prompt, during a turn, wherever else),
                # the record says the session was ended by it.
                why = f"terminated by {Terminated(signum)}"
                result = RunResult("interrupted", "", 0, Usage(), None, None, why)
            self.session.agent.finish(result)
            self.session.close()
            self.say(
                f"session {self.session.run_id} recorded (acb runs show {self.session.run_id})"
            )

    def restore(self, run_id: str) -> None:
        """Continue run `run_id`: its messages, its first task, its plan, its session approvals."""
        from autocodebase.cli.runs_cmd import reader

        turns, steps = self.session.resume(reader().events(run_id))
        self.say(f"resumed {run_id}: {turns} earlier message(s), plan of {steps} step(s)")

    def turn(self, text: str) -> Any:
        git = self.session.git
        self.turns += 1
        if git is not None:
            self.last_turn_ref = git.checkpoint(f"turn-{self.turns}")
        pins = " ".join(f"@{p}" for p in self.pinned)
        message = expand_mentions(f"{text} {pins}" if pins else text, self.session.workspace)
        result = self.session.agent.turn(message)
        if result.outcome == "interrupted":
            self.say("(turn interrupted; the session goes on)")
        elif result.outcome != "completed":
            self.say(f"(turn ended: {result.error or result.outcome})")
        return result

    def command(self, text: str) -> str | None:
        name, _, argument = text.partition(" ")
        argument = argument.strip()
        handlers = {
            "/help": self.help,
            "/diff": self.diff,
            "/undo": self.undo,
            "/commit": self.commit,
            "/tokens": self.tokens,
            "/approvals": self.approvals,
            "/model": self.model,
            "/clear": self.clear,
            "/compact": self.compact,
            "/add": self.add,
            "/drop": self.drop,
            "/init": self.init,
        }
        if name in ("/exit", "/quit"):
            return "exit"
        handler = handlers.get(name)
        if handler is None:
            self.say(f"unknown command {name}; /help lists them")
            return None
        handler(argument)
        return None

    def help(self, _: str) -> None:
        for command, meaning in SLASH_HELP.items():
            self.say(f"  {command:<24} {meaning}")
        self.say("  @path                    put a file's contents into your message")

    def diff(self, _: str) -> None:
        diff = self.session.agent.diff_since()
        self.say(diff or "no changes yet" if diff is not None else "not a git repository: no diff")

    def undo(self, _: str) -> None:
        from autocodebase.vcs.undo import restore_to

        if self.session.git is None or self.last_turn_ref is None:
            self.say("nothing to undo")
            return
        restored = restore_to(self.session.git.root, self.last_turn_ref)
        said = [
            f"{how} {path}" + (" (the turn created it)" if how == "removed" else "")
            for path, how in restored
        ]
        self.say("\n".join(said) or "the last turn changed no files")
        self.last_turn_ref = None
        self.session.tell("the user undid your last turn: the files it changed are as they were")

    def commit(self, _: str) -> None:
        from autocodebase.vcs.checkpoint import read_tree

        git = self.session.git
        if git is None or self.commit_base_ref is None:
            self.say("not a git repository: nothing to commit")
            return
        base = read_tree(git.root, self.commit_base_ref)
        end_ref = git.checkpoint(f"commit-{self.turns}")
        agent = self.session.agent
        record = git.commit(base, end_ref, agent.diff_since(base) or "")
        self.session.bus.emit(record)
        if record.commit:
            self.commit_base_ref = end_ref
            self.say(f"committed {record.commit[:12]}: {(record.message or '').splitlines()[0]}")
        else:
            self.say("nothing to commit")

    def tokens(self, _: str) -> None:
        from autocodebase.cli.render import format_cost, format_tokens

        agent = self.session.agent
        self.say(f"{format_tokens(vars(agent.usage))} · {format_cost(agent.cost)}")

    def approvals(self, argument: str) -> None:
        if argument:
            policy = next((p for p in APPROVAL_POLICIES if p == argument), None)
            if policy is None:
                self.say(f"approval policies: {', '.join(APPROVAL_POLICIES)}")
                return
            self.session.set_approvals(policy)
        self.say(f"approvals: {self.session.approvals}; sandbox: {self.session.policy.describe()}")

    def model(self, argument: str) -> None:
        from autocodebase.errors import AcbError

        if argument:
            try:
                self.session.switch_model(argument)
            except AcbError as exc:
                self.say(f"cannot switch: {exc}")
                return
        self.say(f"model: {self.session.agent.model.name}")

    def add(self, argument: str) -> None:
        workspace = self.session.workspace.resolve()
        for pattern in argument.split():
            matches = sorted(p for p in workspace.glob(pattern) if p.is_file())
            inside = [
                str(p.relative_to(workspace)) for p in matches if workspace in p.resolve().parents
            ]
            if not inside:
                self.say(f"no file matches {pattern}")
            for path in inside:
                if path not in self.pinned:
                    self.pinned.append(path)
        self.say("in context: " + (", ".join(self.pinned) or "nothing"))

    def drop(self, argument: str) -> None:
        dropped = set(argument.split()) if argument else set(self.pinned)
        self.pinned = [p for p in self.pinned if p not in dropped]
        self.say("in context: " + (", ".join(self.pinned) or "nothing"))

    def init(self, _: str) -> None:
        from autocodebase.quality.project_facts import gather, starter_agents_md

        target = self.session.workspace / "AGENTS.md"
        if target.exists():
            self.say("AGENTS.md exists already; edit it, or remove it first")
            return
        target.write_text(starter_agents_md(gather(self.session.workspace)))
        self.say(f"wrote {target.name}: read it and correct it; acb reads it from the next turn on")
        self.session.refresh_instructions()

    def compact(self, _: str) -> None:
        if self.session.agent.compact(forced=True):
            self.say(f"compacted: {len(self.session.agent.messages)} messages now")
        else:
            self.say("nothing to compact yet")

    def clear(self, _: str) -> None:
        self.session.agent.clear()
        self.say("conversation cleared (the files are as they are)")


def make_prompt(workspace: Path, history: Path) -> Any:
    """A prompt_toolkit prompt: history, Esc+Enter for a new line, @path completion."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory
    from prompt_toolkit.key_binding import KeyBindings

    from autocodebase.vcs.git import worktree_files

    bindings = KeyBindings()

    @bindings.add("escape", "enter")
    def _newline(event: Any) -> None:
        event.current_buffer.insert_text("\n")

    files = (worktree_files(workspace) or [])[:20_000]
    history.parent.mkdir(parents=True, exist_ok=True)
    prompt: PromptSession[str] = PromptSession(
        history=FileHistory(str(history)),
        key_bindings=bindings,
        completer=MentionCompleter(files),
        complete_while_typing=False,
    )
    return prompt.prompt


@click.command("chat")
@directory_option()
@click.option("-m", "--model", help="PROVIDER/NAME, e.g. openai/gpt-5.1, or replay:CASSETTE.")
@sandbox_option()
@approvals_option(f"When to ask before a command (default for chat: {CHAT_APPROVALS}).")
@click.option(
    "--network", is_flag=True, default=None, help="Let sandboxed commands use the network."
)
@click.option("--no-git", is_flag=True, help="Run outside git: no checkpoints, no undo, no commit.")
def chat(
    directory: Path,
    model: str | None,
    sandbox_mode: str | None,
    approvals: str | None,
    network: bool | None,
    no_git: bool,
) -> int:
    """Talk with the repository: each message is a turn of one recorded run.

    With stdin not a terminal, reads one task from it and behaves like `acb exec`.
    """
    if not sys.stdin.isatty():
        from autocodebase.cli.exec_cmd import exec_command

        context = click.get_current_context()
        # Every option of `chat` is an option of `exec` too: pass on each one given.
        given = {"-m": model, "--sandbox": sandbox_mode, "--approvals": approvals}
        arguments = ["-", "-C", str(directory)]
        arguments += [part for name, value in given.items() if value for part in (name, value)]
        arguments += ["--network"] * bool(network) + ["--no-git"] * no_git
        return int(
            context.invoke(exec_command, **exec_command.make_context("exec", arguments).params)
        )
    workspace = directory
    flags = {
        "model": model,
        "sandbox_mode": sandbox_mode,
        "approvals": approvals,
        "network": network,
        "use_git": False if no_git else None,
        "commit": False,  # in a conversation, /commit decides when
    }
    return open_conversation(workspace, flags, None)


def open_conversation(workspace: Path, flags: dict[str, Any], resume: str | None) -> int:
    """Converse in `workspace`, continuing run `resume` when given; the exit code."""
    from rich.console import Console

    from autocodebase.agent.runner import RunRequest, RunSession
    from autocodebase.cli.chat_render import ChatRenderer
    from autocodebase.cli.exec_cmd import settings_for
    from autocodebase.config import default_state_dir
    from autocodebase.models.registry import build_model

    settings = settings_for(workspace, flags)
    chosen = build_model(settings.model, settings)
    prompt = make_prompt(workspace, default_state_dir() / "history")
    renderer = ChatRenderer(Console())
    request = RunRequest(
        f"resume of {resume}" if resume else "interactive session",
        workspace,
        settings,
        chosen,
        [renderer],
        approver=TerminalApprover(prompt, before=renderer.pause),
        resumed_from=resume,
    )
    return Chat(
        RunSession(request, approvals_default=CHAT_APPROVALS), prompt, sys.stdout, resume
    ).run()
