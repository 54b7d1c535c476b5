"""Cassettes: JSONL files of model responses, for replaying a run offline and for recording one.

Line 1 is a header (`{"cassette": 1, "model": ..., "description": ...}`); each later line is one
model call: the `response` given, and what the request that produced it looked like (`expect`):
which tool results, by call id, preceded it and whether each failed. Replay checks `expect` so a
run that drifts from the recording stops with a clear message instead of feeding the model's old
answers to a new situation. Hand-written cassettes may add `contains` to an expected result.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autocodebase.errors import UsageError
from autocodebase.models.base import (
    Message,
    ModelError,
    ReplayDivergedError,
    Response,
    TextSink,
    ToolCall,
    ToolSpec,
    Usage,
    parse_tool_arguments,
)

CASSETTE_VERSION = 1


def response_to_dict(response: Response) -> dict[str, Any]:
    message = response.message
    return {
        "content": message.content,
        "tool_calls": [
            {"id": c.id, "name": c.name, "arguments": c.raw_arguments} for c in message.tool_calls
        ],
        "usage": {
            "input_tokens": response.usage.input_tokens,
            "output_tokens": response.usage.output_tokens,
            "cached_input_tokens": response.usage.cached_input_tokens,
        },
        "stop_reason": response.stop_reason,
        "model": response.model,
    }


def response_from_dict(data: dict[str, Any]) -> Response:
    calls = []
    for index, call in enumerate(data.get("tool_calls", [])):
        arguments = call.get("arguments", {})
        raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
        calls.append(
            ToolCall(call.get("id", f"call_{index}"), call["name"], parse_tool_arguments(raw), raw)
        )
    usage = data.get("usage", {})
    return Response(
        message=Message(role="assistant", content=data.get("content", ""), tool_calls=tuple(calls)),
        usage=Usage(
            usage.get("input_tokens", 0),
            usage.get("output_tokens", 0),
            usage.get("cached_input_tokens", 0),
        ),
        stop_reason=data.get("stop_reason", "tool_use" if calls else "stop"),
        model=data.get("model", ""),
    )


def trailing_tool_results(messages: Sequence[Message]) -> list[Message]:
    """The tool messages that answer the last assistant turn (what this request reacts to)."""
    results: list[Message] = []
    for message in reversed(messages):
        if message.role != "tool":
            break
        results.append(message)
    return list(reversed(results))


def summarize_request(messages: Sequence[Message]) -> dict[str, Any]:
    return {
        "tool_results": [
            {"id": m.tool_call_id, "is_error": m.is_error} for m in trailing_tool_results(messages)
        ]
    }


def check_expectation(step: int, expect: dict[str, Any], messages: Sequence[Message]) -> None:
    """Raise `ReplayDivergedError` when the live request differs from the recorded one."""
    actual = {m.tool_call_id: m for m in trailing_tool_results(messages)}
    for wanted in expect.get("tool_results", []):
        call_id = wanted.get("id")
        got = actual.get(call_id)
        if got is None:
            raise ReplayDivergedError(
                f"replay diverged at model call {step}: expected the result of tool call "
                f"{call_id!r}, which this run did not produce"
            )
        summary = got.content.strip().splitlines()[-1:] or [""]
        if "is_error" in wanted and bool(wanted["is_error"]) != got.is_error:
            verb = "fail" if wanted["is_error"] else "succeed"
            raise ReplayDivergedError(
                f"replay diverged at model call {step}: the recording expected tool call "
                f"{call_id!r} ({got.name or 'tool'}) to {verb}, here it did not: {summary[0][:200]}"
            )
        needle = wanted.get("contains")
        if needle and needle not in got.content:
            raise ReplayDivergedError(
                f"replay diverged at model call {step}: the result of tool call {call_id!r} "
                f"should contain {needle!r}; it ends with: {summary[0][:200]}"
            )


@dataclass(frozen=True)
class CassetteEntry:
    response: Response
    expect: dict[str, Any]


def load_cassette(path: Path) -> tuple[dict[str, Any], list[CassetteEntry]]:
    """Read a cassette, reporting the first bad line plainly instead of with a traceback."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UsageError(f"cannot read cassette {path}: {exc.strerror or exc}") from exc
    header: dict[str, Any] = {}
    entries: list[CassetteEntry] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            if number == 1 and "cassette" in data:
                header = data
                continue
            entries.append(
                CassetteEntry(response_from_dict(data["response"]), data.get("expect", {}))
            )
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise UsageError(f"cassette {path}:{number} is not a valid entry ({exc})") from exc
    if not entries:
        raise UsageError(f"cassette {path} holds no responses")
    return header, entries


class ReplayModel:
    """Answers from a cassette, in order, checking each request against the recording."""

    def __init__(self, path: Path):
        self.path = path
        self.header, self.entries = load_cassette(path)
        self.step = 0

    @property
    def name(self) -> str:
        return str(self.header.get("model") or f"replay/{self.path.name}")

    def complete(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec],
        on_text: TextSink | None = None,
    ) -> Response:
        if self.step >= len(self.entries):
            raise ReplayDivergedError(
                f"replay diverged: the run asked for model call {self.step + 1}, "
                f"but {self.path.name} recorded only {len(self.entries)}"
            )
        entry = self.entries[self.step]
        self.step += 1
        check_expectation(self.step, entry.expect, messages)
        known = {t.name for t in tools} | ANSWERED_UNLISTED
        for call in entry.response.message.tool_calls:
            if call.name not in known and tools:
                raise ReplayDivergedError(
                    f"replay diverged at model call {self.step}: the cassette calls tool "
                    f"{call.name!r}, which this run does not offer"
                )
        if on_text is not None and entry.response.message.content:
            on_text(entry.response.message.content)
        return entry.response


ANSWERED_UNLISTED = frozenset({"read_file", "search"})
"""Tools every run answers though its requests may not list them (`tools.FILE_TOOLS`): a
cassette calling them has not diverged."""


class RecordingModel:
    """Wraps a live model and appends every call to a cassette as it happens."""

    def __init__(self, inner: Any, path: Path, description: str = ""):
        self.inner = inner
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            header = {"cassette": CASSETTE_VERSION, "model": inner.name, "description": description}
            path.write_text(json.dumps(header) + "\n", encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write cassette {path}: {exc.strerror or exc}") from exc

    @property
    def name(self) -> str:
        return str(self.inner.name)

    def complete(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec],
        on_text: TextSink | None = None,
    ) -> Response:
        response: Response = self.inner.complete(messages, tools, on_text)
        line = {"response": response_to_dict(response), "expect": summarize_request(messages)}
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(line) + "\n")
        return response


class ScriptedModel:
    """A model whose answers are given in advance: for tests and demos, a provider like any other.

    Each item is a `Response` or a function of the conversation so far returning one.
    """

    def __init__(self, script: Sequence[Any], name: str = "scripted/model"):
        self.script = list(script)
        self._name = name
        self.requests: list[list[Message]] = []
        self.offered_tools: list[list[str]] = []

    @property
    def name(self) -> str:
        return self._name

    def complete(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec],
        on_text: TextSink | None = None,
    ) -> Response:
        self.requests.append(list(messages))
        self.offered_tools.append([t.name for t in tools])
        if not self.script:
            raise ModelError("the scripted model has no responses left")
        item = self.script.pop(0)
        response: Response = item(messages) if callable(item) else item
        if on_text is not None and response.message.content:
            on_text(response.message.content)
        return response
