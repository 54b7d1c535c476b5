"""Small builders shared by tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from autocodebase.events import Event, event_payload
from autocodebase.models.base import Message, Response, ToolCall, Usage


def reply(text: str = "", *calls: tuple[str, dict[str, Any] | str], tokens: int = 0) -> Response:
    """A scripted response; string arguments are sent verbatim (to test malformed JSON)."""
    tool_calls = []
    for index, (name, arguments) in enumerate(calls):
        raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
        parsed = arguments if isinstance(arguments, dict) else None
        tool_calls.append(ToolCall(f"call_{index}_{name}", name, parsed, raw))
    return Response(
        Message("assistant", text, tool_calls=tuple(tool_calls)),
        Usage(tokens, tokens // 10),
        "tool_use" if calls else "stop",
        "scripted",
    )


class EventLog:
    """Collects events (as payload dicts) for assertions."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [event_payload(e) for e in self.events if e.type == kind]


def write_file(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def json_events(stdout: str) -> list[dict[str, Any]]:
    """The events of an `acb ... --json` run, from its stdout."""
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
