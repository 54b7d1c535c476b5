"""The typed events a run emits: the only interface between the loop and everything that watches it.

Every event is a frozen dataclass with a `type`; `EventBus` stamps each with the run id, a sequence
number and a time, redacts secrets, and hands the resulting JSON-ready dict to every sink (the JSONL
printer, the terminal renderer, the ledger). docs/events.md documents the schema.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from autocodebase.redact import Redactor

Outcome = Literal[
    "completed", "failed", "max_steps", "max_cost", "max_time", "needs_input", "interrupted"
]
EXIT_CODES: dict[str, int] = {
    "completed": 0,
    "failed": 1,
    "max_steps": 3,
    "max_cost": 3,
    "max_time": 3,
    "needs_input": 4,
    "interrupted": 130,
}


@dataclass(frozen=True, kw_only=True)
class Event:
    type: str = "event"
    transient: bool = field(default=False, repr=False)
    """Transient events (streamed text) go to live views only, not to the ledger or JSONL."""


@dataclass(frozen=True, kw_only=True)
class RunStarted(Event):
    type: str = "run_started"
    task: str
    model: str
    workspace: str
    settings: dict[str, Any]
    sandbox: str
    acb_version: str
    resumed_from: str | None = None
    """The run whose conversation this one continues (`acb resume`)."""


@dataclass(frozen=True, kw_only=True)
class ModelRequest(Event):
    type: str = "model_request"
    step: int
    new_messages: list[dict[str, Any]]
    """Messages added since the previous request, so the ledger holds each message once."""
    message_count: int
    tools: list[str]


@dataclass(frozen=True, kw_only=True)
class Progress(Event):
    """What acb is doing during a phase that can take a while on a large repository (the
    checkpoint of a big tree, a long test run, the review's analysers), so a person watching
    does not sit through silence. Live views only: the phase's own event records its result."""

    type: str = "progress"
    transient: bool = True
    phase: str
    message: str


@dataclass(frozen=True, kw_only=True)
class AssistantDelta(Event):
    type: str = "assistant_delta"
    transient: bool = True
    text: str


@dataclass(frozen=True, kw_only=True)
class ModelRetry(Event):
    type: str = "model_retry"
    step: int
    attempt: int
    delay_s: float
    error: str


@dataclass(frozen=True, kw_only=True)
class ModelResponse(Event):
    type: str = "model_response"
    step: int
    content: str
    tool_calls: list[dict[str, Any]]
    usage: dict[str, int]
    cost_usd: float | None
    total_cost_usd: float | None
    duration_s: float
    stop_reason: str
    model: str


@dataclass(frozen=True, kw_only=True)
class ToolCall(Event):
    type: str = "tool_call"
    step: int
    call_id: str
    name: str
    arguments: dict[str, Any] | None
    raw_arguments: str


@dataclass(frozen=True, kw_only=True)
class ToolResult(Event):
    type: str = "tool_result"
    step: int
    call_id: str
    name: str
    is_error: bool
    output: str
    data: dict[str, Any]
    duration_s: float


ChangeKind = Literal["added", "modified", "deleted", "moved"]


@dataclass(frozen=True, kw_only=True)
class FileChanged(Event):
    type: str = "file_changed"
    path: str
    change: ChangeKind
    by: str
    """The tool whose call made the change (`apply_patch`, `shell`, ...)."""
    moved_to: str | None = None


@dataclass(frozen=True, kw_only=True)
class PlanUpdated(Event):
    type: str = "plan_updated"
    steps: list[dict[str, str]]


@dataclass(frozen=True, kw_only=True)
class Approval(Event):
    type: str = "approval"
    command: str
    escalated: bool
    reason: str
    """Why the command needed a decision (not known read-only, escalation requested, ...)."""
    decision: str
    how: str
    """`asked` (a person decided) or why nobody was asked."""


@dataclass(frozen=True, kw_only=True)
class Checkpoint(Event):
    type: str = "checkpoint"
    ref: str
    """`refs/acb/checkpoints/<run>/start`: `acb undo` restores the working tree to it."""


@dataclass(frozen=True, kw_only=True)
class Git(Event):
    type: str = "git"
    checkpoint: str
    end_checkpoint: str
    commit: str | None
    branch: str | None
    committed: list[str]
    left_uncommitted: list[str]
    message: str | None
    message_source: str | None
    """`model`, or `fallback: why` when the model could not write it."""


@dataclass(frozen=True, kw_only=True)
class ModelSwitched(Event):
    """A person switched the model mid-conversation (`/model`): costs and commit messages
    from here on are the new model's."""

    type: str = "model_switched"
    model: str
    previous: str
    priced: bool
    """Whether the new model has a known price (if not, the run's cost is unknown from here)."""


@dataclass(frozen=True, kw_only=True)
class Compacted(Event):
    type: str = "compacted"
    tokens_before: int
    """Estimated (characters / 4)."""
    tokens_after: int
    messages_before: int
    messages_after: int
    forced: bool


@dataclass(frozen=True, kw_only=True)
class TestsChecked(Event):
    """The test gate ran the project's tests before letting the model finish."""

    __test__ = False  # not a pytest test class, despite the name
    type: str = "tests_checked"
    command: str
    passed: int
    failed: list[str]
    """Tests failing now."""
    preexisting: list[str]
    """Of those, the ones that failed before the run too (not blamed on it)."""
    verdict: str
    """`passed`, `preexisting` (only old failures), `sent-back` (new failures went to the
    model), `gave-up` (still failing after the allowed rounds), `timed-out` (never a pass),
    `skipped: why`."""
    selected: list[str] = field(default_factory=list)
    """The test files chosen for the change; empty: the whole suite ran."""
    duration_s: float = 0.0


@dataclass(frozen=True, kw_only=True)
class TestCandidate(Event):
    """`acb tests` kept or rejected one generated test module, and why."""

    __test__ = False  # not a pytest test class, despite the name
    type: str = "test_candidate"
    target: str
    verdict: str
    """`kept` or `rejected`."""
    category: str
    """kept, syntax-error, import-error, fixture-error, failing, repr-assertion, flaky,
    nondeterministic or no-gain."""
    reason: str
    gain: int
    """Lines and branches it newly covers (0 when kept for a mutant it kills)."""
    code: str
    killed: int = 0
    """Surviving mutants it kills (mutation testing on)."""


@dataclass(frozen=True, kw_only=True)
class TestLessons(Event):
    """What `acb tests` took from the record of earlier generations for one module, before
    asking for its tests: the strategy, why, and the lessons the prompt carries."""

    __test__ = False
    type: str = "test_lessons"
    target: str
    strategy: str
    """examples, properties, edge-cases or mutants (`quality.testgen_memory`)."""
    why: str
    lessons: list[str]


@dataclass(frozen=True, kw_only=True)
class MutantsSurvived(Event):
    """After a mutation run of `acb tests`: the mutants of a module its tests still miss, for
    the next generation to aim at."""

    type: str = "mutants_survived"
    target: str
    mutants: list[str]


@dataclass(frozen=True, kw_only=True)
class ReviewChecked(Event):
    """The review gate looked at the run's change before the commit."""

    type: str = "review_checked"
    findings: list[dict[str, object]]
    """Every finding on the changed lines: tool, rule, severity, file, line, message, fix_hint."""
    blocking: int
    block_on: str
    verdict: str
    """`passed`, `passed-with-findings`, `sent-back` or `gave-up` (the run fails, no commit)."""
    failed_gates: list[str] = field(default_factory=list)
    """Gates whose tool crashed, each as a sentence: they did not check the change."""


@dataclass(frozen=True, kw_only=True)
class Error(Event):
    type: str = "error"
    message: str
    fatal: bool


@dataclass(frozen=True, kw_only=True)
class TurnFinished(Event):
    type: str = "turn_finished"
    outcome: Outcome
    final_message: str
    steps: int
    """Model calls in this turn."""
    usage: dict[str, int]
    """Run totals so far."""
    cost_usd: float | None


@dataclass(frozen=True, kw_only=True)
class RunFinished(Event):
    type: str = "run_finished"
    outcome: Outcome
    exit_code: int
    final_message: str
    steps: int
    usage: dict[str, int]
    cost_usd: float | None
    duration_s: float
    diff: str | None
    error: str | None = None
    verification: dict[str, Any] | None = None
    """What the tests proved of the change (`status`: verified, partly-verified, unverified;
    `detail`; `tests`); None when the run changed nothing."""


Sink = Callable[[dict[str, Any]], None]


def event_payload(event: Event) -> dict[str, Any]:
    """Fields of `event` as plain JSON-ready data, `type` first."""
    fields = {f.name: getattr(event, f.name) for f in dataclasses.fields(event)}
    fields.pop("transient")
    return {"type": fields.pop("type"), **fields}


class EventBus:
    """Fans events out to sinks after stamping and redacting them."""

    def __init__(self, run_id: str, redactor: Redactor, sinks: Iterable[Sink] = ()):
        self.run_id = run_id
        self.redactor = redactor
        self.sinks = list(sinks)
        self.seq = 0
        self._lock = threading.RLock()
        """`announce_if_slow` emits from a timer thread: sinks see one event at a time."""

    def emit(self, event: Event) -> None:
        with self._lock:
            self._emit(event)

    def _emit(self, event: Event) -> None:
        payload = self.redactor.value(event_payload(event))
        stamped = {"type": payload.pop("type"), "run_id": self.run_id, "ts": time.time()}
        if not event.transient:
            self.seq += 1
            stamped["seq"] = self.seq
        else:
            stamped["transient"] = True
        stamped.update(payload)
        for sink in self.sinks:
            sink(stamped)


@contextlib.contextmanager
def announce_if_slow(
    emit: Callable[[Event], None], phase: str, message: str, after_s: float = 1.0
) -> Iterator[None]:
    """Emit `Progress(phase, message)` if the block is still running after `after_s` seconds
    (0: at once). Quick phases stay silent; slow ones say what they are doing."""
    if after_s <= 0:
        emit(Progress(phase=phase, message=message))
        yield
        return
    guard = threading.Lock()
    ended = False

    def announce() -> None:
        with guard:  # never after the block ended (its own result may be out already)
            if not ended:
                emit(Progress(phase=phase, message=message))

    timer = threading.Timer(after_s, announce)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        with guard:
            ended = True
        timer.cancel()
