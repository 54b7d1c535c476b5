"""What the loop checks about a model's reply before acting on it, kept beside the loop so the
loop stays a loop: tool call ids the next request can carry, replies without a tool call that
are not the end of the task (empty, cut, filtered, or asking in a headless run), the same call
failing again and again, and the last few steps of a budget.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

from autocodebase.agent.headless import (
    CUT_NUDGE,
    EMPTY_NUDGE,
    NUDGE,
    awaits_answer,
    written_call,
    written_call_nudge,
)
from autocodebase.events import Outcome
from autocodebase.models.base import Message, ToolCall

CONTEXT_OVERFLOW = re.compile(
    r"context.{0,20}(length|window|limit)|maximum context|too many tokens|prompt is too long|"
    r"input is too long|exceeds? the (model's )?(context|maximum)",
    re.IGNORECASE,
)
"""How providers (OpenAI, Anthropic, vLLM, llama.cpp, Ollama) say a request is over the window."""
FEW_STEPS_LEFT = 3
"""Model calls left when the model is told to wrap up (budgets over twice this size only)."""
REPEAT_WARN_AT = 3
"""The same call failing this often in a turn: the model is told it is going round in circles."""
REPEAT_STOP_AT = 5
"""...and this often: the turn ends (outcome `failed`), instead of burning the step budget."""
CUT_STOPS = frozenset({"length", "max_tokens", "incomplete"})
"""Stop reasons of a reply cut at the output token limit (OpenAI, Anthropic, Responses)."""
FILTERED_STOPS = frozenset({"content_filter", "refusal"})
"""Stop reasons of a reply the provider's filter ended: not a finished task."""


def unique_call_ids(message: Message, conversation: list[Message], step: int) -> Message:
    """Tool call ids as the next request needs them: every provider rejects a conversation
    whose call ids are empty or repeated, which some local servers send (`call_0` on every
    step). Ours replace those; the tool results then answer ours."""
    used = {call.id for m in conversation for call in m.tool_calls}
    calls = []
    for index, call in enumerate(message.tool_calls):
        fresh = call.id
        if not fresh or fresh in used:
            fresh = f"call_acb_{step}_{index}"
            while fresh in used:
                fresh += "_"
            call = dataclasses.replace(call, id=fresh)
        used.add(fresh)
        calls.append(call)
    if all(a is b for a, b in zip(calls, message.tool_calls, strict=True)):
        return message
    return dataclasses.replace(message, tool_calls=tuple(calls))


def stall_of(
    reply: Message, stop_reason: str, headless: bool, tools: tuple[str, ...] = ()
) -> tuple[str, str] | None:
    """Why a reply without a tool call is not the end of the task, with the nudge for it:
    cut at the output limit, empty, a call or patch written as text, or (headless) a question
    or an announcement."""
    if stop_reason in CUT_STOPS:
        return "cut", CUT_NUDGE
    if not reply.content.strip():
        return "empty", EMPTY_NUDGE
    shown = written_call(reply.content, tools)
    if shown is not None:
        return "written", written_call_nudge(shown)
    if headless and awaits_answer(reply.content) is not None:
        return "waits", NUDGE
    return None


def stalled_again(kind: str, text: str) -> tuple[Outcome, str]:
    """The outcome and error when the model stalls again after its nudge."""
    if kind == "waits":
        asked = " ".join(text.split())[-300:]
        return (
            "needs_input",
            f"the model waits for an answer nobody can give in a headless run: {asked}",
        )
    if kind == "cut":
        return "failed", "the model's replies were cut at its output limit twice"
    if kind == "written":
        return "failed", "the model wrote tool calls as text twice instead of making them"
    return "failed", "the model sent empty replies twice"


def few_steps_note(left: int, max_steps: int) -> str | None:
    """The one note telling the model its step budget is nearly spent, so it wraps up
    (verifies and reports) instead of being cut off mid-change."""
    if left != FEW_STEPS_LEFT or max_steps <= 2 * FEW_STEPS_LEFT:
        return None
    return (
        f"[acb: {left} model calls are left in this run's budget. Finish now: complete or "
        "undo the change in progress, verify it, and reply with what you did.]"
    )


@dataclass
class RepeatedFailures:
    """The same call (tool and exact arguments) failing again within a turn."""

    counts: dict[tuple[str, str], int] = field(default_factory=dict)
    circling: str | None = None
    """Why the turn must end, once a call has failed `REPEAT_STOP_AT` times."""

    def clear(self) -> None:
        self.counts.clear()
        self.circling = None

    def note(self, call: ToolCall) -> str:
        """Record a failure of `call`; the text to append to its result (may be empty)."""
        key = (call.name, call.raw_arguments)
        failed = self.counts[key] = self.counts.get(key, 0) + 1
        if failed >= REPEAT_STOP_AT:
            self.circling = (
                f"the model repeated the same failing {call.name} call {failed} times: "
                f"{call.raw_arguments[:200]}"
            )
        if failed < REPEAT_WARN_AT:
            return ""
        return (
            f"\n[acb: this exact call has now failed {failed} times. Repeating it will not help: "
            "read the error, change the approach, or explain what blocks you.]"
        )
