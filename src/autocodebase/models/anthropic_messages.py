"""Anthropic Messages provider with tool use, streaming or not."""

from __future__ import annotations

import json
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
from autocodebase.models.clients import ANTHROPIC_ENDPOINT, anthropic_http
from autocodebase.models.deadline import request_timeout, until_deadline
from autocodebase.models.faults import api_object, fields_of, provider_faults
from autocodebase.models.transport import JsonHttp, StreamError

EPHEMERAL = {"type": "ephemeral"}
"""Anthropic's prompt cache marker: the prefix up to a marked block is cached for 5 minutes and
read back at a tenth of the input price. Three markers (tools, system, the latest message) of
the four the API allows."""


def messages_to_wire(messages: Sequence[Message]) -> tuple[str, list[dict[str, Any]]]:
    """Split out the system prompt and fold tool results into user turns, as the API requires."""
    system = "\n\n".join(m.content for m in messages if m.role == "system")
    wire: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            continue
        blocks: list[dict[str, Any]]
        if message.role == "tool":
            role = "user"
            blocks = [
                {
                    "type": "tool_result",
                    "tool_use_id": message.tool_call_id,
                    "content": message.content,
                    "is_error": message.is_error,
                }
            ]
        elif message.role == "assistant":
            role = "assistant"
            blocks = [{"type": "text", "text": message.content}] if message.content else []
            blocks += [
                {"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments or {}}
                for c in message.tool_calls
            ]
        else:
            role = "user"
            blocks = [{"type": "text", "text": message.content}]
        if wire and wire[-1]["role"] == role:
            wire[-1]["content"].extend(blocks)
        else:
            wire.append({"role": role, "content": blocks})
    return system, wire


def usage_from_wire(usage: Any) -> Usage:
    """Anthropic counts cached and fresh input apart; we report their sum as input."""
    if not isinstance(usage, dict):
        return Usage()
    fresh = usage.get("input_tokens") or 0
    cache_read = usage.get("cache_read_input_tokens") or 0
    cache_write = usage.get("cache_creation_input_tokens") or 0
    return Usage(
        input_tokens=fresh + cache_read + cache_write,
        output_tokens=usage.get("output_tokens") or 0,
        cached_input_tokens=cache_read,
    )


@dataclass
class _Block:
    kind: str
    id: str = ""
    name: str = ""
    parts: list[str] = field(default_factory=list)


@dataclass
class AnthropicModel:
    """A model reached over Anthropic's `/v1/messages`."""

    name: str
    model_id: str
    api_key: str
    base_url: str | None = None
    stream: bool = True
    timeout: float = 600.0
    max_output_tokens: int = 8192
    provider_label: str = "anthropic"
    _client: JsonHttp | None = field(default=None, repr=False)

    @property
    def endpoint(self) -> str:
        """Where requests go: the configured base URL, or Anthropic's."""
        return self.base_url or ANTHROPIC_ENDPOINT

    def _http(self) -> JsonHttp:
        if self._client is None:
            self._client = anthropic_http(self.api_key, self.base_url)
        return self._client

    def complete(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec],
        on_text: TextSink | None = None,
    ) -> Response:
        system, wire = messages_to_wire(messages)
        request: dict[str, Any] = {
            "model": self.model_id,
            "max_tokens": self.max_output_tokens,
            "messages": wire,
        }
        if system:
            request["system"] = [{"type": "text", "text": system, "cache_control": EPHEMERAL}]
        if tools:
            request["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.parameters}
                for t in tools
            ]
            request["tools"][-1]["cache_control"] = EPHEMERAL
        if wire and wire[-1]["content"]:
            # The conversation so far is the next request's prefix: cache it too, so that a
            # 50-step run does not pay for its whole history on every step.
            wire[-1]["content"][-1] = {**wire[-1]["content"][-1], "cache_control": EPHEMERAL}
        with provider_faults(self.provider_label, self.endpoint):
            if self.stream:
                return self._complete_streamed(request, on_text)
            answer = self._http().post("/v1/messages", request, request_timeout(self.timeout))
            return self._parse(api_object(answer, self.provider_label))

    def _parse(self, wire: dict[str, Any]) -> Response:
        if wire.get("type") == "error":
            raise StreamError(wire)
        text: list[str] = []
        calls: list[ToolCall] = []
        for block in wire.get("content") or []:
            block = fields_of(block, self.provider_label)
            if block.get("type") == "text":
                text.append(block.get("text") or "")
            elif block.get("type") == "tool_use":
                raw = json.dumps(block.get("input") or {})
                calls.append(
                    ToolCall(
                        block.get("id") or "",
                        block.get("name") or "",
                        parse_tool_arguments(raw),
                        raw,
                    )
                )
        return Response(
            message=Message(role="assistant", content="".join(text), tool_calls=tuple(calls)),
            usage=usage_from_wire(wire.get("usage")),
            stop_reason=wire.get("stop_reason") or "end_turn",
            model=wire.get("model") or self.model_id,
        )

    def _complete_streamed(self, request: dict[str, Any], on_text: TextSink | None) -> Response:
        blocks: dict[int, _Block] = {}
        start_usage: Any = None
        output_tokens = 0
        stop_reason: str | None = None
        finished = False
        model = self.model_id
        stream = self._http().stream(
            "/v1/messages", {**request, "stream": True}, request_timeout(self.timeout)
        )
        for event in until_deadline(stream, stream, self.provider_label):
            data = fields_of(event.data, self.provider_label)
            kind = data.get("type") or event.name
            if kind == "error" or event.name == "error":
                raise StreamError(data)
            if kind == "message_start":
                message = data.get("message") or {}
                start_usage = message.get("usage")
                model = message.get("model") or model
            elif kind == "content_block_start":
                block = data.get("content_block") or {}
                blocks[data.get("index", len(blocks))] = _Block(
                    block.get("type") or "text", block.get("id") or "", block.get("name") or ""
                )
            elif kind == "content_block_delta":
                delta = data.get("delta") or {}
                target = blocks.setdefault(data.get("index", 0), _Block("text"))
                if delta.get("type") == "text_delta":
                    target.parts.append(delta.get("text") or "")
                    if on_text is not None:
                        on_text(delta.get("text") or "")
                elif delta.get("type") == "input_json_delta":
                    target.parts.append(delta.get("partial_json") or "")
            elif kind == "message_delta":
                stop_reason = (data.get("delta") or {}).get("stop_reason") or stop_reason
                output_tokens = (data.get("usage") or {}).get("output_tokens") or output_tokens
            elif kind == "message_stop":
                finished = True
        if not finished:
            raise ModelError(
                f"{self.provider_label} stream ended before the response was complete",
                retryable=True,
            )
        text = "".join("".join(b.parts) for _, b in sorted(blocks.items()) if b.kind == "text")
        calls = tuple(
            ToolCall(b.id, b.name, parse_tool_arguments("".join(b.parts)), "".join(b.parts))
            for _, b in sorted(blocks.items())
            if b.kind == "tool_use"
        )
        base = usage_from_wire(start_usage)
        usage = Usage(
            base.input_tokens, output_tokens or base.output_tokens, base.cached_input_tokens
        )
        return Response(
            message=Message(role="assistant", content=text, tool_calls=calls),
            usage=usage,
            stop_reason=stop_reason or "end_turn",
            model=model,
        )
