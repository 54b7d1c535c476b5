"""OpenAI Responses API provider (the wire format Codex CLI uses), streaming or not.

We keep the conversation ourselves and send it whole each turn (`store=False`), so the same
neutral history works across both OpenAI wire formats and every other provider.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from autocodebase.models.base import (
    Message,
    ModelError,
    Response,
    TextSink,
    ToolCall,
    ToolSpec,
    Usage,
    parse_tool_arguments,
)
from autocodebase.models.clients import OPENAI_ENDPOINT, openai_http
from autocodebase.models.deadline import request_timeout, until_deadline
from autocodebase.models.faults import api_object, fields_of, provider_faults
from autocodebase.models.transport import JsonHttp


def input_to_wire(messages: Sequence[Message]) -> tuple[str, list[dict[str, Any]]]:
    instructions = "\n\n".join(m.content for m in messages if m.role == "system")
    items: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            continue
        if message.role == "tool":
            items.append(
                {
                    "type": "function_call_output",
                    "call_id": message.tool_call_id,
                    "output": message.content,
                }
            )
            continue
        if message.content:
            items.append({"role": message.role, "content": message.content})
        items.extend(
            {"type": "function_call", "call_id": c.id, "name": c.name, "arguments": c.raw_arguments}
            for c in message.tool_calls
        )
    return instructions, items


def _get(obj: Any, key: str, default: Any = None) -> Any:
    """A field of a JSON object; `default` when it is absent or `obj` is no object."""
    if isinstance(obj, dict):
        return obj.get(key, default)
    return default


def response_from_wire(wire: Any, fallback_model: str) -> Response:
    text: list[str] = []
    calls: list[ToolCall] = []
    for item in _get(wire, "output") or []:
        kind = _get(item, "type")
        if kind == "message":
            text.extend(
                _get(part, "text", "")
                for part in _get(item, "content") or []
                if _get(part, "type") == "output_text"
            )
        elif kind == "function_call":
            raw = _get(item, "arguments", "") or ""
            calls.append(
                ToolCall(
                    _get(item, "call_id") or _get(item, "id"),
                    _get(item, "name"),
                    parse_tool_arguments(raw),
                    raw,
                )
            )
    usage = _get(wire, "usage")
    details = _get(usage, "input_tokens_details") if usage is not None else None
    return Response(
        message=Message(role="assistant", content="".join(text), tool_calls=tuple(calls)),
        usage=Usage(
            _get(usage, "input_tokens", 0) or 0,
            _get(usage, "output_tokens", 0) or 0,
            (_get(details, "cached_tokens", 0) or 0) if details is not None else 0,
        ),
        stop_reason="tool_use" if calls else (_get(wire, "status") or "completed"),
        model=_get(wire, "model") or fallback_model,
    )


@dataclass
class OpenAIResponsesModel:
    """A model reached over `/responses`."""

    name: str
    model_id: str
    api_key: str
    base_url: str | None = None
    stream: bool = True
    timeout: float = 600.0
    max_output_tokens: int | None = None
    provider_label: str = "openai"
    _client: JsonHttp | None = field(default=None, repr=False)

    @property
    def endpoint(self) -> str:
        """Where requests go: the configured base URL, or OpenAI's."""
        return self.base_url or OPENAI_ENDPOINT

    def _http(self) -> JsonHttp:
        if self._client is None:
            self._client = openai_http(self.api_key, self.base_url)
        return self._client

    def complete(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec],
        on_text: TextSink | None = None,
    ) -> Response:
        instructions, items = input_to_wire(messages)
        request: dict[str, Any] = {"model": self.model_id, "input": items, "store": False}
        if instructions:
            request["instructions"] = instructions
        if tools:
            request["tools"] = [
                {
                    "type": "function",
                    "name": t.name,
                    "description": t.description,
                    "parameters": t.parameters,
                    # Strict mode (the Responses API's default for functions) refuses schemas
                    # with optional parameters; ours have them, and validate on our side.
                    "strict": False,
                }
                for t in tools
            ]
        if self.max_output_tokens:
            request["max_output_tokens"] = self.max_output_tokens
        with provider_faults(self.provider_label, self.endpoint):
            if not self.stream:
                answer = self._http().post("/responses", request, request_timeout(self.timeout))
                answer = api_object(answer, self.provider_label)
                return response_from_wire(answer, self.model_id)
            return self._complete_streamed(request, on_text)

    def _complete_streamed(self, request: dict[str, Any], on_text: TextSink | None) -> Response:
        stream = self._http().stream(
            "/responses", {**request, "stream": True}, request_timeout(self.timeout)
        )
        for item in until_deadline(stream, stream, self.provider_label):
            event = fields_of(item.data, self.provider_label)
            kind = _get(event, "type") or item.name
            if kind == "response.output_text.delta" and on_text is not None:
                on_text(_get(event, "delta", ""))
            elif kind in ("response.completed", "response.incomplete"):
                # Incomplete (cut at max_output_tokens, or filtered) is an answer too: its
                # status is the stop reason the loop acts on, not a fault to retry.
                return response_from_wire(_get(event, "response"), self.model_id)
            elif kind in ("response.failed", "error"):
                detail = _get(_get(_get(event, "response"), "error"), "message") or _get(
                    event, "message", "unknown error"
                )
                raise ModelError(f"{self.provider_label} response failed: {detail}", retryable=True)
        raise ModelError(
            f"{self.provider_label} stream ended before the response was complete", retryable=True
        )
