"""Rebuild a conversation from its ledger events, so that `acb resume` can continue it.

The ledger holds every message once: what each request added (`model_request.new_messages`,
a full resend after compaction) and each answer (`model_response`). Tool results that never
reached a request (the run was interrupted) are taken from `tool_result` events, and calls
left without any result are answered as interrupted, so the rebuilt conversation is valid.
Secrets were redacted before they were recorded; they stay redacted here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from autocodebase.models.base import Message, ToolCall, parse_tool_arguments
from autocodebase.sandbox.approvals import Approval, Match, program_of


@dataclass
class History:
    messages: list[Message] = field(default_factory=list)
    """Without the system prompt: the resumed run writes a fresh one."""
    task: str | None = None
    plan: list[dict[str, str]] = field(default_factory=list)
    session_approvals: list[Approval] = field(default_factory=list)


def _message(record: dict[str, Any]) -> Message:
    calls = tuple(
        ToolCall(c["id"], c["name"], parse_tool_arguments(c["arguments"]), c["arguments"])
        for c in record.get("tool_calls", [])
    )
    return Message(
        record["role"],
        record.get("content", ""),
        tool_calls=calls,
        tool_call_id=record.get("tool_call_id"),
        is_error=bool(record.get("is_error", False)),
    )


def rebuild(events: Sequence[dict[str, Any]]) -> History:
    history = History()
    results: dict[str, dict[str, Any]] = {}
    for event in events:
        kind = event["type"]
        if kind == "model_request":
            records = event["new_messages"]
            if records and records[0]["role"] == "system":
                history.messages = []  # a full resend (the first request, or after compaction)
            history.messages += [_message(r) for r in records if r["role"] != "system"]
            if history.task is None:
                history.task = next((r["content"] for r in records if r["role"] == "user"), None)
        elif kind == "model_response":
            calls = [
                {"id": c["id"], "name": c["name"], "arguments": c["arguments"]}
                for c in event["tool_calls"]
            ]
            history.messages.append(
                _message({"role": "assistant", "content": event["content"], "tool_calls": calls})
            )
        elif kind == "tool_result":
            results[event["call_id"]] = event
        elif kind == "plan_updated":
            history.plan = list(event["steps"])
        elif kind == "approval" and event["decision"].endswith("-session"):
            match: Match = "command" if "-command-" in event["decision"] else "program"
            value = event["command"].strip() if match == "command" else program_of(event["command"])
            history.session_approvals.append(Approval(match, value, event["escalated"], "session"))
    _answer_open_calls(history.messages, results)
    return history


def _answer_open_calls(messages: list[Message], results: dict[str, dict[str, Any]]) -> None:
    answered = {m.tool_call_id for m in messages if m.role == "tool"}
    last = next((m for m in reversed(messages) if m.role == "assistant"), None)
    for call in last.tool_calls if last else ():
        if call.id in answered:
            continue
        recorded = results.get(call.id)
        if recorded is not None:
            messages.append(
                Message(
                    "tool",
                    recorded["output"],
                    tool_call_id=call.id,
                    name=call.name,
                    is_error=recorded["is_error"],
                )
            )
        else:
            messages.append(
                Message("tool", "interrupted", tool_call_id=call.id, name=call.name, is_error=True)
            )
