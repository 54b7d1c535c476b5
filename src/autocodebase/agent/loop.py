"""The agent loop: the model proposes, tools act, the world answers; repeat until done or a limit.

Control flow follows two kinds of trouble. A recoverable one (bad tool arguments, a failed
command, a patch that does not apply) becomes an observation and the loop goes on; a terminal one
(limits, an unrecoverable model error, Ctrl-C) ends the run with an outcome. `run_finished` is
emitted in a `finally`, so every run, however it ends, leaves a complete record.
"""

from __future__ import annotations

import dataclasses
import time
import traceback
from collections.abc import Callable
from dataclasses import InitVar, dataclass, field
from typing import TYPE_CHECKING, Any

from autocodebase import events
from autocodebase.agent.compaction import (
    Kept,
    compact,
    estimate_tokens,
    last_test_run,
    worth_compacting,
)
from autocodebase.agent.guards import (
    CONTEXT_OVERFLOW,
    FILTERED_STOPS,
    RepeatedFailures,
    few_steps_note,
    stall_of,
    stalled_again,
    unique_call_ids,
)
from autocodebase.errors import AcbError
from autocodebase.events import (
    EXIT_CODES,
    AssistantDelta,
    Compacted,
    Error,
    Event,
    FileChanged,
    ModelRequest,
    ModelResponse,
    ModelRetry,
    Outcome,
    RunFinished,
    TurnFinished,
)
from autocodebase.models.base import Message, Model, ModelError, Response, ToolCall, Usage
from autocodebase.models.deadline import requests_end_by
from autocodebase.models.pricing import Price, cost_of
from autocodebase.models.retry import RetryPolicy, call_with_retries
from autocodebase.signals import Terminated
from autocodebase.tools.base import Toolbox, ToolContext
from autocodebase.vcs.changes import ChangeTracker
from autocodebase.vcs.checkpoint import Snapshotter, Tree

if TYPE_CHECKING:
    from autocodebase.agent.test_gate import GateVerdict


@dataclass
class LoopLimits:
    max_steps: int = 50
    """Model calls allowed; the run ends with outcome `max_steps` when they are used up."""
    max_cost: float | None = None
    """USD; checked after every model call. Unenforceable (and said so) for unpriced models."""
    compact_at_tokens: int = 0
    """Compact the conversation before a model call once it is estimated to exceed this; 0:
    never."""
    max_seconds: float | None = None
    """Wall-clock seconds the run may take (checked before each model call and each retry);
    None: no limit."""


@dataclass
class RunResult:
    outcome: Outcome
    final_message: str
    steps: int
    usage: Usage
    cost: float | None
    diff: str | None
    error: str | None = None

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.outcome]


class LimitReached(Exception):
    """Terminal: a step or cost budget is spent."""

    def __init__(self, outcome: Outcome, message: str):
        super().__init__(message)
        self.outcome = outcome


def message_record(message: Message) -> dict[str, Any]:
    record: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        record["tool_calls"] = [
            {"id": c.id, "name": c.name, "arguments": c.raw_arguments} for c in message.tool_calls
        ]
    if message.tool_call_id:
        record["tool_call_id"] = message.tool_call_id
        record["is_error"] = message.is_error
    return record


@dataclass
class Agent:
    """One run of the loop against one workspace."""

    model: Model
    toolbox: Toolbox
    context: ToolContext
    emit: Callable[[Event], None]
    limits: LoopLimits = field(default_factory=LoopLimits)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    price: Price | None = None
    snapshots: InitVar[Snapshotter | None] = None
    """How the tree is snapshotted (None: nothing is tracked); `changes` owns it from here."""
    before_finish: Callable[[RunResult], None] | None = None
    """Called with the result before `run_finished` is emitted (the runner commits there)."""
    ready: Callable[[], None] | None = None
    """Waits for set-up the runner does while the first request is out (the start checkpoint);
    called before any tool runs and before the run finishes, raising what that set-up raised."""
    check_done: Callable[[], GateVerdict] | None = None
    """Asked when the model says it is done (the test gate): feedback continues the turn."""
    verification: Callable[[], dict[str, Any] | None] | None = None
    """What the tests proved of the change, for `run_finished` (the test gate's answer)."""
    headless: bool = False
    """Nobody can answer (`acb exec`): a question or an announcement without a tool call gets
    one nudge to go on, and a second ends the run as `needs_input` (never committed)."""
    late_context: Callable[[], str | None] | None = None
    """Context that became ready after the run started (the repo map of a large repository):
    asked after each round of tool calls, and appended to the last tool result, which every
    provider's message order allows."""

    def __post_init__(self, snapshots: Snapshotter | None) -> None:
        self.changes = ChangeTracker(
            self.context.workspace,
            snapshots,
            warn=lambda message: self.emit(Error(message=message, fatal=False)),
        )
        """What the run changed, and which call changed it."""
        self.messages: list[Message] = []
        self.usage = Usage()
        self.cost: float | None = 0.0 if self.price is not None else None
        self.steps = 0
        self._sent = 0
        self.task: str | None = None
        """The first user message: kept verbatim through compaction."""
        self._started = time.monotonic()
        self._warned_cost = False
        self._last_stop = ""
        self._failures = RepeatedFailures()

    @property
    def file_calls(self) -> dict[str, list[str]]:
        """Repository path -> ids of the tool calls that changed it, for provenance."""
        return self.changes.file_calls

    def diff_since(self, baseline: Tree | None = None) -> str | None:
        """The working tree's diff against `baseline` (default: the run's start)."""
        return self.changes.diff_since(baseline)

    def start(self, system: str) -> None:
        """Begin a run: the system prompt, and the baseline its final diff is taken against."""
        self._started = time.monotonic()
        self.messages = [Message("system", system)]
        if self.ready is None:  # else the runner takes the baseline with its checkpoint
            self.changes.start()
        self._warned_cost = False

    def compact(self, forced: bool = False) -> bool:
        """Summarise older turns if the conversation is over the threshold (or `forced`)."""
        before = estimate_tokens(self.messages)
        threshold = self.limits.compact_at_tokens
        if not forced and (not threshold or before < threshold):
            return False
        # Keep the latest exchange word for word unless only it is left to summarise and the
        # request must shrink (the provider said it is over the window).
        keep_latest = worth_compacting(self.messages) or not forced
        if not worth_compacting(self.messages, keep_latest):
            return False  # only an earlier summary would go: a second one saves nothing
        first_user = next((m.content for m in self.messages if m.role == "user"), "")
        kept = Kept(
            task=self.task or first_user,
            plan=list(self.context.plan),
            files_touched=sorted(self.file_calls),
            last_test=last_test_run(self.messages),
        )
        compacted, usage = compact(self.messages, kept, self.model, self.retry, keep_latest)
        if compacted is self.messages:
            return False
        self.account(usage)
        self.emit(
            Compacted(
                tokens_before=before,
                tokens_after=estimate_tokens(compacted),
                messages_before=len(self.messages),
                messages_after=len(compacted),
                forced=forced,
            )
        )
        self.messages = compacted
        self._sent = 0  # the ledger gets the compacted conversation with the next request
        return True

    def turn(self, text: str) -> RunResult:
        """One user message, worked on until the model answers or a limit or fault ends it.

        A conversation is several turns of one run; each turn gets the full step budget. Faults
        end the turn, never the process: the caller decides whether the run goes on.
        """
        if self.task is None:
            self.task = text
        self.compact()
        self.messages.append(Message("user", text))
        first_step = self.steps
        try:
            result = self._loop(first_step)
        except LimitReached as stop:
            result = self._result(stop.outcome, str(stop))
        except (ModelError, AcbError) as exc:
            self.emit(Error(message=str(exc), fatal=True))
            result = self._result("failed", str(exc))
        except KeyboardInterrupt as stop:
            why = (
                f"terminated by {stop}"
                if isinstance(stop, Terminated)
                else "interrupted by the user"
            )
            result = self._result("interrupted", why)
            self._close_dangling_calls()
        except Exception as exc:  # a bug of ours: record it with its traceback, end the turn
            detail = "".join(traceback.format_exception(exc))
            self.emit(Error(message=f"internal error: {exc!r}\n{detail}", fatal=True))
            result = self._result("failed", f"internal error: {exc!r}")
        self.emit(
            TurnFinished(
                outcome=result.outcome,
                final_message=result.final_message,
                steps=self.steps - first_step,
                usage=vars(self.usage),
                cost_usd=self.cost,
            )
        )
        return result

    def finish(self, result: RunResult) -> RunResult:
        """End the run: final diff, the runner's hook (git), and `run_finished`."""
        try:
            if self.ready is not None:
                self.ready()
            result.diff = self.changes.diff_since()
            if self.before_finish is not None:
                self.before_finish(result)
        except AcbError as exc:
            self.emit(Error(message=str(exc), fatal=False))
        finally:
            self.emit(
                RunFinished(
                    outcome=result.outcome,
                    exit_code=result.exit_code,
                    final_message=result.final_message,
                    steps=self.steps,
                    usage=vars(self.usage),
                    cost_usd=self.cost,
                    duration_s=round(time.monotonic() - self._started, 3),
                    diff=result.diff,
                    error=result.error,
                    verification=self.verification() if self.verification else None,
                )
            )
        return result

    def run(self, system: str, task: str) -> RunResult:
        """A whole headless run: one task, one turn. `run_finished` is emitted whatever happens."""
        result = RunResult("failed", "", 0, Usage(), None, None, "the run did not finish")
        try:
            self.start(system)
            result = self.turn(task)
        finally:
            self.finish(result)
        return result

    def clear(self) -> None:
        """Forget the conversation but the system prompt (the files stay as they are)."""
        self.messages = self.messages[:1]
        self._sent = len(self.messages)

    def _close_dangling_calls(self) -> None:
        """After an interrupt, answer tool calls left without a result, so that the conversation
        stays valid for the next turn (every API rejects a call without its result)."""
        last = next((m for m in reversed(self.messages) if m.role == "assistant"), None)
        if last is None:
            return
        answered = {m.tool_call_id for m in self.messages if m.role == "tool"}
        for call in last.tool_calls:
            if call.id not in answered:
                self.messages.append(
                    Message(
                        "tool",
                        "interrupted by the user",
                        tool_call_id=call.id,
                        name=call.name,
                        is_error=True,
                    )
                )

    def _result(self, outcome: Outcome, error: str | None, final: str = "") -> RunResult:
        return RunResult(outcome, final, self.steps, self.usage, self.cost, None, error)

    def _loop(self, first_step: int = 0) -> RunResult:
        if self.price is None and self.limits.max_cost is not None and not self._warned_cost:
            self._warned_cost = True
            self.emit(
                Error(
                    message=f"no price known for {self.model.name}: --max-cost cannot be enforced "
                    "(add [prices] to your config)",
                    fatal=False,
                )
            )
        nudged: set[str] = set()
        self._failures.clear()
        while True:
            if self.steps - first_step >= self.limits.max_steps:
                raise LimitReached("max_steps", f"step limit reached ({self.limits.max_steps})")
            deadline = self._deadline()
            if deadline is not None and time.monotonic() >= deadline:
                minutes = (self.limits.max_seconds or 0) / 60
                raise LimitReached("max_time", f"time limit reached ({minutes:g} min)")
            self.steps += 1
            if self.steps > first_step + 1:
                self.compact()  # a long turn (every headless run is one) compacts as it goes
            self._warn_if_few_steps_left(first_step)
            reply = self._ask_model()
            if reply.tool_calls:
                nudged.clear()  # it went back to work: a later stall gets its own nudge
            else:
                tools = tuple(spec.name for spec in self.toolbox.specs)
                stall = stall_of(reply, self._last_stop, self.headless, tools)
                if stall is not None and stall[0] not in nudged:
                    nudged.add(stall[0])
                    self.messages.append(Message("user", stall[1]))
                    continue
                if stall is not None:
                    outcome, why = stalled_again(stall[0], reply.content)
                    return self._result(outcome, why, reply.content)
                if self._last_stop in FILTERED_STOPS:
                    why = f"the provider stopped the reply ({self._last_stop}) before it was done"
                    return self._result("failed", why, reply.content)
                verdict = self.check_done() if self.check_done is not None else None
                if verdict is not None and verdict.feedback:
                    self.messages.append(Message("user", verdict.feedback))
                    continue
                if verdict is not None and verdict.failure:
                    return self._result("failed", verdict.failure, reply.content)
                return self._result("completed", None, reply.content)
            for call in reply.tool_calls:
                self._run_tool(call)
            if self._failures.circling is not None:
                return self._result("failed", self._failures.circling)
            self._deliver_late_context()

    def _deadline(self) -> float | None:
        """When the run's time is up (`time.monotonic()`), or None without a limit."""
        if not self.limits.max_seconds:
            return None
        return self._started + self.limits.max_seconds

    def _warn_if_few_steps_left(self, first_step: int) -> None:
        left = self.limits.max_steps - (self.steps - first_step) + 1
        note = few_steps_note(left, self.limits.max_steps)
        if note is not None and not self._append_to_tool_result(note):
            self.messages.append(Message("user", note))

    def _deliver_late_context(self) -> None:
        if self.late_context is None or not self.messages or self.messages[-1].role != "tool":
            return
        text = self.late_context()
        if text and self._append_to_tool_result(text):
            self.late_context = None

    def _append_to_tool_result(self, text: str) -> bool:
        """Add `text` to the last message when it is a tool result, the one place every
        provider takes text of ours between a tool call and the model's next turn."""
        last = self.messages[-1] if self.messages else None
        if last is None or last.role != "tool":
            return False
        self.messages[-1] = dataclasses.replace(last, content=f"{last.content}\n\n{text}")
        return True

    def account_step(self, usage: Usage) -> float | None:
        """A model call made for the run outside the loop (test generation asks the model
        itself): counted as a step, with its usage and cost, so the run's record is true."""
        self.steps += 1
        return self.account(usage)

    def account(self, usage: Usage) -> float | None:
        """Add a model call's usage (and its cost, when priced) to the run's totals."""
        self.usage = self.usage + usage
        call_cost = cost_of(usage, self.price)
        if call_cost is not None and self.cost is not None:
            self.cost += call_cost
        return call_cost

    def _ask_model(self) -> Message:
        step = self.steps
        self.emit(
            ModelRequest(
                step=step,
                new_messages=[message_record(m) for m in self.messages[self._sent :]],
                message_count=len(self.messages),
                tools=[s.name for s in self.toolbox.specs],
            )
        )
        self._sent = len(self.messages)

        retried = False

        def on_retry(attempt: int, delay: float, error: ModelError) -> None:
            nonlocal retried
            retried = True
            self.emit(
                ModelRetry(step=step, attempt=attempt, delay_s=round(delay, 3), error=str(error))
            )

        def on_text(text: str) -> None:
            self.emit(AssistantDelta(text=text))

        started = time.monotonic()

        def ask() -> Response:
            deadline = self._deadline()
            with requests_end_by(deadline):  # a request in flight ends with the run's time too
                return call_with_retries(
                    lambda: self.model.complete(self.messages, self.toolbox.specs, on_text),
                    self.retry,
                    on_retry,
                    deadline=deadline,
                )

        try:
            try:
                response = ask()
            except ModelError as error:
                # Over the model's window (our estimate is characters / 4): compact and try
                # once more, rather than end a long run that a summary would let go on.
                if not CONTEXT_OVERFLOW.search(str(error)) or not self.compact(forced=True):
                    raise
                response = ask()
        except ModelError as error:
            deadline = self._deadline()
            if error.retryable and deadline and time.monotonic() >= deadline - self.retry.max_delay:
                # The retries (or the request itself) stopped for the time limit, not for
                # the fault itself.
                minutes = (self.limits.max_seconds or 0) / 60
                during = "while retrying" if retried else "while waiting for the model"
                raise LimitReached(
                    "max_time", f"time limit reached ({minutes:g} min) {during}: {error}"
                ) from error
            raise
        call_cost = self.account(response.usage)
        self._last_stop = response.stop_reason
        message = unique_call_ids(response.message, self.messages, self.steps)
        self.messages.append(message)
        self._sent = len(self.messages)
        self.emit(
            ModelResponse(
                step=step,
                content=message.content,
                tool_calls=message_record(message).get("tool_calls", []),
                usage=vars(response.usage),
                cost_usd=call_cost,
                total_cost_usd=self.cost,
                duration_s=round(time.monotonic() - started, 3),
                stop_reason=response.stop_reason,
                model=response.model,
            )
        )
        limit = self.limits.max_cost
        if limit is not None and self.cost is not None and self.cost > limit:
            raise LimitReached("max_cost", f"cost limit reached (${self.cost:.4f} > ${limit})")
        return message

    def _run_tool(self, call: ToolCall) -> None:
        if self.ready is not None:
            self.ready()
        self.emit(
            events.ToolCall(
                step=self.steps,
                call_id=call.id,
                name=call.name,
                arguments=call.arguments,
                raw_arguments=call.raw_arguments,
            )
        )
        chosen = self.toolbox.by_name.get(call.name)
        changes_files = chosen is not None and chosen.may_change_files(call.arguments)
        before = self.changes.snapshot() if changes_files else None
        result, elapsed = self.toolbox.call(self.context, call)
        output = result.output + (self._failures.note(call) if result.is_error else "")
        self.messages.append(
            Message(
                "tool",
                output,
                tool_call_id=call.id,
                name=call.name,
                is_error=result.is_error,
            )
        )
        if changes_files:
            announced = result.data.get("files")
            self._report_unannounced_changes(
                call, before, announced if isinstance(announced, list) else []
            )
        self.emit(
            events.ToolResult(
                step=self.steps,
                call_id=call.id,
                name=call.name,
                is_error=result.is_error,
                output=output,
                data=result.data,
                duration_s=round(elapsed, 3),
            )
        )

    def _report_unannounced_changes(
        self, call: ToolCall, before: Tree | None, announced: list[dict[str, Any]]
    ) -> None:
        """Attribute what `call` changed; emit `file_changed` for what the tool did not
        itself report (an edit tool lists its files; a shell command lists none)."""
        changes = self.changes.attribute(call.id, before)
        if not changes:
            return
        reported = {
            self.changes.repo_path(path)
            for item in announced
            if isinstance(item, dict)
            for path in (item.get("path"), item.get("moved_to"))
            if isinstance(path, str) and path
        }
        for change in changes:
            if change.path not in reported:
                self.emit(FileChanged(path=change.shown, change=change.kind, by=call.name))
