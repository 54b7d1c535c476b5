"""Anthropic Messages provider with tool use, streaming or not, through the official SDK."""

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
from autocodebase.models.clients import ANTHROPIC_ENDPOINT, anthropic_client
from autocodebase.models.deadline import request_timeout, until_deadline
from autocodebase.models.faults import api_object, provider_faults

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
    if usage is None:
        return Usage()
    fresh = getattr(usage, "input_tokens", 0) or 0
    cache_read = getattr(usage, "cache_read_input_tokens", 0) or 0
    cache_write = getattr(usage, "cache_creation_input_tokens", 0) or 0
    return Usage(
        input_tokens=fresh + cache_read + cache_write,
        output_tokens=getattr(usage, "output_tokens", 0) or 0,
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
    _client: Any = field(default=None, repr=False)

    @property
    def endpoint(self) -> str:
        """Where requests go: the configured base URL, or the SDK's own default."""
        return self.base_url or ANTHROPIC_ENDPOINT

    def warm_up(self) -> None:
        """Import the SDK and build the client ahead of the first request."""
        self._sdk()

    def _sdk(self) -> Any:
        if self._client is None:
            self._client = anthropic_client(self.api_key, self.base_url, self.timeout)
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
            answer = self._sdk().messages.create(**request, timeout=request_timeout(self.timeout))
            return self._parse(api_object(answer, self.provider_label))

    def _parse(self, wire: Any) -> Response:
        text: list[str] = []
        calls: list[ToolCall] = []
        for block in wire.content or []:
            if block.type == "text":
                text.append(block.text)
            elif block.type == "tool_use":
                raw = json.dumps(block.input)
                calls.append(ToolCall(block.id, block.name, parse_tool_arguments(raw), raw))
        return Response(
            message=Message(role="assistant", content="".join(text), tool_calls=tuple(calls)),
            usage=usage_from_wire(wire.usage),
            stop_reason=wire.stop_reason or "end_turn",
            model=wire.model or self.model_id,
        )

    def _complete_streamed(self, request: dict[str, Any], on_text: TextSink | None) -> Response:
        blocks: dict[int, _Block] = {}
        start_usage: Any = None
        output_tokens = 0
        stop_reason: str | None = None
        finished = False
        model = self.model_id
        stream = self._sdk().messages.create(
            **request, stream=True, timeout=request_timeout(self.timeout)
        )
        for event in until_deadline(stream, stream, self.provider_label):
            kind = event.type
            if kind == "message_start":
                start_usage = event.message.usage
                model = event.message.model or model
            elif kind == "content_block_start":
                block = event.content_block
                blocks[event.index] = _Block(
                    block.type, getattr(block, "id", ""), getattr(block, "name", "")
                )
            elif kind == "content_block_delta":
                delta = event.delta
                target = blocks.setdefault(event.index, _Block("text"))
                if delta.type == "text_delta":
                    target.parts.append(delta.text)
                    if on_text is not None:
                        on_text(delta.text)
                elif delta.type == "input_json_delta":
                    target.parts.append(delta.partial_json)
            elif kind == "message_delta":
                stop_reason = event.delta.stop_reason or stop_reason
                output_tokens = getattr(event.usage, "output_tokens", 0) or output_tokens
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
