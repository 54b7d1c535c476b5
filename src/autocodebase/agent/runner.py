"""Wire one run together from settings: ids, redaction, sinks, ledger, model, tools, prompt.

Front ends (`acb exec`, later the interactive session) build their sinks and hand over here; they
never reach into the loop.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autocodebase import __version__
from autocodebase.agent.git_flow import RunGit, preflight
from autocodebase.agent.loop import Agent, LoopLimits, RunResult
from autocodebase.agent.prompts import sandbox_instructions, system_prompt
from autocodebase.config import Settings
from autocodebase.context.agents_md import discover
from autocodebase.context.background import BackgroundMap
from autocodebase.errors import AcbError
from autocodebase.events import (
    Approval,
    Error,
    EventBus,
    ModelSwitched,
    Progress,
    RunStarted,
    Sink,
    announce_if_slow,
)
from autocodebase.ledger.store import LedgerWriter, connect
from autocodebase.models.base import Message, Model
from autocodebase.models.pricing import price_for
from autocodebase.models.retry import RetryPolicy
from autocodebase.quality.verification import GATE_OFF, Verification, unverified
from autocodebase.redact import Redactor
from autocodebase.sandbox.approvals import ApprovalStore
from autocodebase.sandbox.environment import command_environment
from autocodebase.sandbox.gate import ApprovalPolicy, ApprovalRequest, Approver, CommandGate
from autocodebase.sandbox.policy import Limits, SandboxPolicy
from autocodebase.sandbox.run import sandbox_unavailable
from autocodebase.tools import FILE_TOOLS, default_toolbox, hidden_for
from autocodebase.tools.base import Toolbox, ToolContext

if TYPE_CHECKING:
    from autocodebase.agent.review_gate import ReviewGate
    from autocodebase.agent.test_gate import GateVerdict, TestGate
    from autocodebase.tools.mcp_servers import McpHub


class FirstStepWarmer:
    """What a first step may need and the first request does not (bashlex, the command
    classifier's parser for lines with shell syntax: 0.3 s or more of import; a command
    launcher in the sandbox's cgroup, 30-70 ms to start), prepared in a thread while the first
    request is out. Started before it, the thread would take the
    interpreter's lock from the set-up that request waits on; started after, it runs while the
    main thread waits on the network. A bus sink: `ModelRequest` is its signal."""

    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        self._thread: threading.Thread | None = None

    def __call__(self, event: dict[str, Any]) -> None:
        if self._thread is None and event.get("type") == "model_request":
            self._thread = threading.Thread(target=self._warm, daemon=True)
            self._thread.start()

    def _warm(self) -> None:
        from autocodebase.sandbox.launcher import prestart

        # Whatever fails here fails again, and is reported, when a command needs it.
        with contextlib.suppress(Exception):
            prestart(self._limits.max_processes, self._limits.memory_mb)
        with contextlib.suppress(Exception):
            from autocodebase.sandbox.classify.bash_tables import import_bashlex

            import_bashlex()


class InBackground:
    """Work started in a thread now, that something later must wait for (`wait` raises what
    the work raised, every time it is asked: nothing may go on as if it had been done)."""

    def __init__(self, work: Callable[[], None]) -> None:
        self._work = work
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._work()
        except AcbError as exc:  # handed to whoever waits
            self._error = exc
        except Exception as exc:  # a full disk, a locked ledger: the run's error, not a crash
            self._error = AcbError(f"the start checkpoint failed: {type(exc).__name__}: {exc}")

    def join(self) -> None:
        self._thread.join()

    def wait(self) -> None:
        self._thread.join()
        if self._error is not None:
            raise self._error


def new_run_id() -> str:
    """Sortable by time, unique enough to type a prefix of: 20261124-061502-3fa9c1."""
    return time.strftime("%Y%m%d-%H%M%S-", time.gmtime()) + secrets.token_hex(3)


def sandbox_policy(settings: Settings) -> SandboxPolicy:
    """The sandbox a run's commands get, from its settings."""
    return SandboxPolicy(
        mode=settings.sandbox_mode,
        network=settings.network,
        writable_roots=tuple(Path(r).expanduser().resolve() for r in settings.writable_roots),
        env_allow=settings.env_allow,
        fallback=settings.sandbox_fallback,
        limits=Limits(
            timeout_s=settings.shell_timeout_s,
            output_bytes=settings.output_limit,
            max_processes=settings.max_processes,
            memory_mb=settings.memory_mb,
        ),
    )


@dataclass
class RunRequest:
    task: str
    workspace: Path
    settings: Settings
    model: Model
    sinks: Sequence[Sink] = ()
    approver: Approver | None = None
    """Who answers approval questions; None for headless runs, which cannot ask."""
    branch: str | None = None
    """Work on this new branch (created from HEAD) instead of the current one."""
    resumed_from: str | None = None
    early_map: BackgroundMap | None = None
    """The start-of-run map, when the front end started building it before importing the rest
    of acb (`acb exec` does: it is the longest wait before the first request)."""
    secrets: Mapping[str, str] = field(default_factory=dict)
    """Secrets the run's records must never show that are not in the environment (a forge
    token from `gh auth token`): `{name: value}`, added to the redactor's."""


class RunSession:
    """One run, set up once and driven turn by turn: `acb exec` runs one turn, a conversation
    many. Everything a run does reaches the ledger through its event bus."""

    def __init__(
        self,
        request: RunRequest,
        approvals_default: ApprovalPolicy = "never",
        checkpoint_in_background: bool = False,
    ):
        self.request = request
        settings = request.settings
        self.workspace = request.workspace.resolve()
        self.approvals = settings.approvals or approvals_default
        self._map = request.early_map or BackgroundMap(
            self.workspace, settings.map_tokens, request.task
        )
        self.root = preflight(self.workspace, settings, request.branch)
        self.run_id = new_run_id()
        self.connection = connect(settings.ledger_path)
        warmer = FirstStepWarmer(sandbox_policy(settings).limits)
        sinks: list[Sink] = [LedgerWriter(self.connection), *request.sinks, warmer]
        redactor = Redactor.from_environment({**os.environ, **request.secrets})
        self.bus = EventBus(self.run_id, redactor, sinks)
        self.policy = sandbox_policy(settings)
        self._mcp = _start_mcp(settings, self.workspace)
        self.git: RunGit | None = None
        self._review: ReviewGate | None = None
        self._checkpointing: InBackground | None = None
        self._checkpoint_in_background = checkpoint_in_background
        self._test_gate: TestGate | None = None
        self._gate_chain: Callable[[], GateVerdict] | None = None
        self.agent = self._build()

    def _build(self) -> Agent:
        """The run's parts, in the order each needs the last: the record of how it starts,
        the command gate, the tools' context, the loop, the git flow, the checks."""
        self._announce()
        self.gate = self._command_gate()
        self.tool_context = self._tool_context()
        self._retry = RetryPolicy.from_settings(self.request.settings)
        agent = self._agent()
        if self.root is not None:
            self.git = self._git_flow(agent, self.root)
        self._checks(agent)
        return agent

    def _announce(self) -> None:
        """`run_started`, and what the run should know of its sandbox and approvals file."""
        request, settings, bus = self.request, self.request.settings, self.bus
        bus.emit(
            RunStarted(
                task=request.task,
                model=request.model.name,
                workspace=str(self.workspace),
                settings=settings.to_record(),
                sandbox=f"{self.policy.describe()}, approvals {self.approvals}",
                acb_version=__version__,
                resumed_from=request.resumed_from,
            )
        )
        problem = sandbox_unavailable(self.policy)
        if problem:
            message = f"sandbox: {problem} (fallback: {self.policy.fallback})"
            bus.emit(Error(message=message, fatal=False))

    def _command_gate(self) -> CommandGate:
        """Every command the run makes goes through it; each decision is recorded."""
        bus = self.bus
        store = ApprovalStore(self.workspace)
        if store.warning:
            bus.emit(Error(message=store.warning, fatal=False))

        def on_decision(asked: ApprovalRequest, decision: str, how: str) -> None:
            bus.emit(
                Approval(
                    command=asked.command,
                    escalated=asked.escalated,
                    reason=asked.reason,
                    decision=decision,
                    how=how,
                )
            )

        return CommandGate(
            self.policy,
            self.approvals,
            store,
            self.request.approver,
            on_decision,
        )

    def _tool_context(self) -> ToolContext:
        settings = self.request.settings
        return ToolContext(
            workspace=self.workspace,
            emit=self.bus.emit,
            shell_timeout_s=settings.shell_timeout_s,
            output_limit=settings.output_limit,
            env=command_environment(settings.env_allow),
            commands=self.gate,
            test_command=settings.test_command,
            test_timeout_s=settings.test_timeout_s,
        )

    def _agent(self) -> Agent:
        request, settings = self.request, self.request.settings
        return Agent(
            model=request.model,
            toolbox=default_toolbox(
                hidden_for(self.approvals),
                frozenset() if settings.file_tools else FILE_TOOLS,
            ),
            context=self.tool_context,
            emit=self.bus.emit,
            limits=LoopLimits(
                max_steps=settings.max_steps,
                max_cost=settings.max_cost,
                compact_at_tokens=settings.compact_at_tokens,
                max_seconds=settings.max_minutes * 60 or None,
            ),
            retry=self._retry,
            price=price_for(request.model.name, settings.prices),
            headless=request.approver is None,
        )

    def _git_flow(self, agent: Agent, root: Path) -> RunGit:
        """Checkpoints from the start, and the commit (with its provenance) at the end."""
        request = self.request
        git = RunGit(
            root=root,
            run_id=self.run_id,
            task=request.task,
            model=request.model,
            retry=self._retry,
            settings=request.settings,
            emit=self.bus.emit,
            account=agent.account,
            file_calls=lambda: agent.file_calls,
            branch=request.branch,
        )

        def start() -> None:
            with announce_if_slow(
                self.bus.emit,
                "checkpoint",
                "checkpointing the working tree (this run's undo point)",
            ):
                git.start()

        agent.changes.snapshots = git.snapshots
        if self._checkpoint_in_background:
            # The start checkpoint and the baseline of the run's diff are a dozen git commands
            # (child processes: the thread waits, the interpreter is free): taken while the
            # first request is built and sent, they are done before any tool runs
            # (`agent.ready`), which is all their promise needs. (A conversation reads the
            # checkpoint at once, and takes it here.)
            def start_and_baseline() -> None:
                start()
                agent.changes.start()

            self._checkpointing = InBackground(start_and_baseline)
            agent.ready = self._checkpointing.wait
        else:
            start()
        agent.before_finish = git.finish
        return git

    def _checks(self, agent: Agent) -> None:
        """The test and review gates a run passes before it may finish, and what its record
        says was verified. The gates are built when the run first asks to finish: their
        modules (test detection, the static reviewers) are a third of what acb imports, and
        the first request does not need them."""
        settings, git_flow = self.request.settings, self.git

        def verification() -> Verification | None:
            if not agent.file_calls:
                return None
            if not settings.test_gate:
                return GATE_OFF
            found = self._test_gate.verification if self._test_gate is not None else None
            return found or unverified("the run ended before its tests ran")

        agent.verification = lambda: found.record() if (found := verification()) else None
        if git_flow is not None:
            git_flow.verification = verification
            if settings.review_gate:
                git_flow.review_findings = lambda: (
                    [f.record() for f in self._review.findings] if self._review else []
                )
                git_flow.review_failed = lambda: self._review.failed if self._review else []
        if settings.test_gate or settings.review_gate:
            agent.check_done = lambda: self._gates(agent)()

    def _gates(self, agent: Agent) -> Callable[[], GateVerdict]:
        """The gates, chained; built on the first call (see `_checks`)."""
        if self._gate_chain is not None:
            return self._gate_chain
        from autocodebase.agent.review_gate import ReviewGate, chain
        from autocodebase.agent.test_gate import TestGate

        settings, bus, git_flow = self.request.settings, self.bus, self.git
        start = (lambda: (git_flow.root, git_flow.start_ref)) if git_flow else (lambda: None)
        checks: list[Callable[[], GateVerdict]] = []
        if settings.test_gate:
            self._test_gate = TestGate(
                context=self.tool_context,
                emit=bus.emit,
                changed=lambda: bool(agent.file_calls),
                baseline_tree=start,
                rounds=settings.test_rounds,
                changed_paths=lambda: self._workspace_paths(agent.file_calls),
                budget_s=min(settings.test_budget_s, settings.test_timeout_s),
            )
            checks.append(self._test_gate)
        if settings.review_gate:
            review = ReviewGate(
                workspace=self.workspace,
                emit=bus.emit,
                changed=lambda: self._workspace_paths(agent.file_calls),
                start=start,
                block_on=settings.review_block_on,
                rounds=settings.review_rounds,
            )
            self._review = review
            self._set_model_review()
            checks.append(review)
        self._gate_chain = chain(*checks)
        return self._gate_chain

    def _set_model_review(self) -> None:
        """The advisory model review, by the run's current model, when the user asked for it."""
        settings = self.request.settings
        if self._review is None or not settings.review_model:
            return
        from autocodebase.agent.review_gate import advisory_model_review

        self._review.model_review = advisory_model_review(
            self.agent.model,
            settings.review_model_tokens,
            self._retry,
            self.agent.account,
            self.bus.emit,
        )

    # -- what a front end may change; it never reaches into the loop -----------------------

    def switch_model(self, spec: str) -> str:
        """Use the model `spec` (`provider/name`) from the next request on, everywhere the run
        uses one: its requests, its price (cost and --max-cost), its commit messages and
        advisory review. Raises AcbError for a model that cannot be built."""
        from autocodebase.models.registry import build_model

        settings = self.request.settings
        model = build_model(spec, settings)
        previous = self.agent.model.name
        self.agent.model = model
        self.agent.price = price_for(model.name, settings.prices)
        if self.agent.price is None:
            self.agent.cost = None  # what the new model's calls cost is not known
        if self.git is not None:
            self.git.model = model
        self._set_model_review()
        self.bus.emit(
            ModelSwitched(model=model.name, previous=previous, priced=self.agent.price is not None)
        )
        return model.name

    def set_approvals(self, policy: ApprovalPolicy) -> None:
        """Ask before commands as `policy` says from now on (and offer the model the tools
        that policy allows)."""
        self.approvals = self.gate.approvals = policy
        self.agent.toolbox.hidden = hidden_for(policy)

    def resume(self, events: Sequence[dict[str, Any]]) -> tuple[int, int]:
        """Continue the conversation those events recorded: its messages, its first task, its
        plan, its session approvals. (user turns, plan steps) restored."""
        from autocodebase.agent.history import rebuild

        history = rebuild(events)
        agent = self.agent
        agent.messages = [agent.messages[0], *history.messages]
        agent.task = history.task
        agent.context.plan = history.plan
        self.gate.store.session += history.session_approvals
        return sum(1 for m in history.messages if m.role == "user"), len(history.plan)

    def tell(self, note: str) -> None:
        """Tell the model something that happened outside the conversation (an undo)."""
        self.agent.messages.append(Message("user", f"[acb: {note}]"))

    def refresh_instructions(self) -> None:
        """Rebuild the system prompt (after AGENTS.md changed)."""
        self.agent.messages[0] = Message("system", self.system_prompt())

    def _workspace_paths(self, calls: dict[str, list[str]]) -> list[str]:
        """`file_calls` keys are repository paths; the review reads workspace-relative ones."""
        if self.root is None:
            return list(calls)
        found = []
        for path in calls:
            try:
                found.append((self.root / path).resolve().relative_to(self.workspace).as_posix())
            except ValueError:
                continue
        return found

    def system_prompt(self) -> str:
        """The first request waits at most `map_wait_s` for the repo map; a map still being
        built (a cold index of a large repository) reaches the model with a later tool result."""
        built = self._map.wait(self.request.settings.map_wait_s)
        if built.error:
            self.bus.emit(Error(message=built.error, fatal=False))
        if built.pending:
            self.agent.late_context = self._late_map
            self.bus.emit(
                Progress(
                    phase="map",
                    message="the repository map is still being built; the model starts without "
                    "it and gets it when it is ready",
                )
            )
        return system_prompt(
            self.workspace,
            sandbox_instructions(self.policy, self.approvals),
            discover(self.workspace),
            self.root is not None,
            repo_map=built.text,
            map_pending=built.pending,
            headless=self.request.approver is None,
        )

    def _late_map(self) -> str | None:
        text = self._map.poll()
        if self._map.error:
            self.bus.emit(Error(message=self._map.error, fatal=False))
            self._map.error = None
        if text is None:
            return None
        return (
            "[acb: the repository map is ready — signatures of the definitions most relevant "
            "to the task, with line numbers]\n" + text.rstrip()
        )

    def start(self) -> None:
        """Begin a conversation (turns follow through `self.agent.turn`)."""
        self._offer_mcp_tools()
        self.agent.start(self.system_prompt())

    def run_task(self, task: str) -> RunResult:
        """A whole headless run of one task."""
        self._offer_mcp_tools()
        return self.agent.run(self.system_prompt(), task)

    def _offer_mcp_tools(self) -> None:
        """The MCP servers' tools beside acb's own, once the servers are up (they started
        with the session; one that did not come up in its time is left out, said once)."""
        if self._mcp is None:
            return
        tools = self._mcp.tools()
        for state in self._mcp.states.values():
            if state.status != "ready":
                message = f"MCP server {state.name} left out: {state.error}"
                self.bus.emit(Error(message=message, fatal=False))
        for warning in self._mcp.warnings:
            self.bus.emit(Error(message=warning, fatal=False))
        toolbox = self.agent.toolbox
        self.agent.toolbox = Toolbox([*toolbox.tools, *tools], toolbox.hidden, toolbox.unoffered)

    def close(self) -> None:
        if self._checkpointing is not None:
            self._checkpointing.join()  # never leave git half-way through a checkpoint
        if self._mcp is not None:
            self._mcp.close()
        self.connection.close()
        self._map.detach()
        if self.tool_context.context_engine is not None:
            self.tool_context.context_engine.close()

    def __enter__(self) -> RunSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _start_mcp(settings: Settings, workspace: Path) -> McpHub | None:
    """The user's MCP servers, starting now, while the rest of the run is set up."""
    servers = {name: c for name, c in settings.mcp_servers.items() if c.enabled}
    if not servers:
        return None
    from autocodebase.config import default_state_dir
    from autocodebase.tools.mcp_servers import McpHub

    return McpHub(servers, workspace, default_state_dir() / "mcp-logs")


def execute(request: RunRequest) -> tuple[str, RunResult]:
    """Run one task to an outcome; return the run id and result. Everything is in the ledger."""
    with RunSession(request, checkpoint_in_background=True) as session:
        return session.run_id, session.run_task(request.task)
