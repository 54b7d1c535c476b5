"""OpenAI Chat Completions provider: api.openai.com and every compatible server (Ollama, vLLM,
llama.cpp, LM Studio, OpenRouter), streaming or not."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

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
from autocodebase.models.faults import api_object, fields_of, on_this_machine, provider_faults
from autocodebase.models.transport import EventStream, JsonHttp, StreamError


def message_to_wire(message: Message, no_text: str | None = None) -> dict[str, Any]:
    """One neutral message as a Chat Completions message. `no_text` is the `content` of a
    tool-call message without text: null, as the spec has it, or "" for servers that refuse
    null (llama.cpp's, Ollama's)."""
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
    if message.role == "assistant" and message.tool_calls:
        return {
            "role": "assistant",
            "content": message.content or no_text,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.raw_arguments},
                    **(call.passed_back or {}),
                }
                for call in message.tool_calls
            ],
        }
    return {"role": message.role, "content": message.content}


def tool_to_wire(spec: ToolSpec) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": spec.name,
            "description": spec.description,
            "parameters": spec.parameters,
        },
    }


def usage_from_wire(usage: Any) -> Usage:
    if not isinstance(usage, dict):
        return Usage()
    details = usage.get("prompt_tokens_details")
    return Usage(
        input_tokens=usage.get("prompt_tokens") or 0,
        output_tokens=usage.get("completion_tokens") or 0,
        cached_input_tokens=(details.get("cached_tokens") or 0) if isinstance(details, dict) else 0,
    )


REFUSED_NULL_CONTENT = re.compile(
    r"content\W.{0,120}(valid string|<nil>|expected a string|must be a string|non-empty)",
    re.IGNORECASE | re.DOTALL,
)
"""How servers word refusing the `content` of a tool-call message without text: llama.cpp
("Input should be a valid string"), Ollama ("invalid message content type: <nil>"), Bedrock
("text content blocks must be non-empty")."""


def _has_bare_call(messages: Sequence[Message]) -> bool:
    return any(m.role == "assistant" and m.tool_calls and not m.content for m in messages)


PASSED_BACK_FIELDS = ("extra_content",)
"""Tool-call fields a server adds and expects back; anything else unknown is not echoed (OpenAI
refuses a request with fields it does not know)."""


def passed_back_of(call: dict[str, Any]) -> dict[str, Any] | None:
    kept = {key: call[key] for key in PASSED_BACK_FIELDS if call.get(key) is not None}
    return kept or None


@dataclass
class _PartialCall:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)
    passed_back: dict[str, Any] | None = None


def _slot_of(fragment: dict[str, Any], calls: dict[int, _PartialCall]) -> int:
    """Which call a streamed fragment belongs to. OpenAI numbers them (`index`); Gemini's
    OpenAI-compatible endpoint and some proxies do not, so a fragment with a new id starts the
    next call and one without continues the last."""
    index = fragment.get("index")
    if isinstance(index, int):
        return index
    last = max(calls, default=-1)
    if last < 0 or (fragment.get("id") and fragment.get("id") != calls[last].id):
        return last + 1
    return last


@dataclass
class OpenAIChatModel:
    """A model reached over `/chat/completions`."""

    name: str
    model_id: str
    api_key: str
    base_url: str | None = None
    stream: bool = True
    timeout: float = 600.0
    max_output_tokens: int | None = None
    provider_label: str = "openai"
    no_text: str | None = None
    """The `content` of a tool-call message without text (see `message_to_wire`); switched
    when the server refuses it."""
    _client: JsonHttp | None = field(default=None, repr=False)

    @property
    def endpoint(self) -> str:
        """Where requests go: the configured base URL, or OpenAI's."""
        return self.base_url or OPENAI_ENDPOINT

    def __post_init__(self) -> None:
        # The servers that refuse null (llama.cpp's, Ollama's, LM Studio's) run on this
        # machine: start them on "", and spare each run one refused request.
        if self.base_url and on_this_machine(urlsplit(self.base_url).hostname):
            self.no_text = ""

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
        try:
            return self._complete(messages, tools, on_text)
        except ModelError as error:
            if not REFUSED_NULL_CONTENT.search(str(error)) or not _has_bare_call(messages):
                raise
            # This server wants the other spelling of "no text" next to tool calls: use it
            # from now on.
            self.no_text = "" if self.no_text is None else None
            return self._complete(messages, tools, on_text)

    def _complete(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec], on_text: TextSink | None
    ) -> Response:
        request: dict[str, Any] = {
            "model": self.model_id,
            "messages": [message_to_wire(m, self.no_text) for m in messages],
        }
        if tools:
            request["tools"] = [tool_to_wire(t) for t in tools]
        if self.max_output_tokens:
            request["max_completion_tokens"] = self.max_output_tokens
        with provider_faults(self.provider_label, self.endpoint):
            if self.stream:
                return self._complete_streamed(request, on_text)
            return self._complete_whole(request)

    def _complete_whole(self, request: dict[str, Any]) -> Response:
        answer = self._http().post("/chat/completions", request, request_timeout(self.timeout))
        return self._parse(api_object(answer, self.provider_label))

    def _parse(self, completion: dict[str, Any]) -> Response:
        choices = completion.get("choices")
        if not choices:
            raise ModelError(f"{self.provider_label} returned no choices", retryable=True)
        choice = fields_of(choices[0], self.provider_label)
        wire = fields_of(choice.get("message") or {}, self.provider_label)
        calls = []
        for call in wire.get("tool_calls") or []:
            function = call.get("function") or {}
            raw = function.get("arguments") or ""
            calls.append(
                ToolCall(
                    id=call.get("id") or "",
                    name=function.get("name") or "",
                    arguments=parse_tool_arguments(raw),
                    raw_arguments=raw,
                    passed_back=passed_back_of(call),
                )
            )
        return Response(
            message=Message(
                role="assistant", content=wire.get("content") or "", tool_calls=tuple(calls)
            ),
            usage=usage_from_wire(completion.get("usage")),
            stop_reason=choice.get("finish_reason") or "stop",
            model=completion.get("model") or self.model_id,
        )

    def _complete_streamed(self, request: dict[str, Any], on_text: TextSink | None) -> Response:
        stream = self._http().stream(
            "/chat/completions",
            {**request, "stream": True, "stream_options": {"include_usage": True}},
            request_timeout(self.timeout),
        )
        text: list[str] = []
        calls: dict[int, _PartialCall] = {}
        finish: str | None = None
        usage = Usage()
        model = self.model_id
        received = False
        for event in until_deadline(stream, stream, self.provider_label):
            received = True
            chunk = fields_of(event.data, self.provider_label)
            if chunk.get("error"):
                raise StreamError(chunk)
            model = chunk.get("model") or model
            if chunk.get("usage") is not None:
                usage = usage_from_wire(chunk["usage"])
            for choice in chunk.get("choices") or []:
                delta = choice.get("delta") or {}
                if delta.get("content"):
                    text.append(delta["content"])
                    if on_text is not None:
                        on_text(delta["content"])
                for fragment in delta.get("tool_calls") or []:
                    partial = calls.setdefault(_slot_of(fragment, calls), _PartialCall())
                    partial.id = fragment.get("id") or partial.id
                    partial.passed_back = passed_back_of(fragment) or partial.passed_back
                    function = fragment.get("function")
                    if isinstance(function, dict):
                        partial.name = function.get("name") or partial.name
                        partial.arguments.append(function.get("arguments") or "")
                finish = choice.get("finish_reason") or finish
        if not received and _is_event_stream(stream):
            # An empty 200 stream is how llama.cpp's server answers a request over its context
            # window; asked without streaming, it says so (HTTP 400), and the loop can compact.
            # (A body that is no stream at all, an HTML page, is a garbled answer: retried.)
            return self._complete_whole(request)
        if finish is None:
            raise ModelError(
                f"{self.provider_label} stream ended before the response was complete",
                retryable=True,
            )
        tool_calls = tuple(
            ToolCall(
                id=p.id or f"call_{index}",
                name=p.name,
                arguments=parse_tool_arguments("".join(p.arguments)),
                raw_arguments="".join(p.arguments),
                passed_back=p.passed_back,
            )
            for index, p in sorted(calls.items())
        )
        return Response(
            message=Message(role="assistant", content="".join(text), tool_calls=tool_calls),
            usage=usage,
            stop_reason=finish,
            model=model,
        )


def _is_event_stream(stream: EventStream) -> bool:
    return "text/event-stream" in stream.content_type
