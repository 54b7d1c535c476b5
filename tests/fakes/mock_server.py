"""A model server on 127.0.0.1 speaking OpenAI Chat Completions, OpenAI Responses and Anthropic
Messages, as JSON or SSE streams, with injectable faults.

Written by us for tests and demos: the replies come from a script, never from a model. It checks
each request like the real APIs would (every tool result must answer a tool call made earlier)
and keeps every request so tests can assert on what the providers actually sent.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """A scripted assistant turn; tool arguments given as a str are sent verbatim (bad JSON)."""

    text: str = ""
    tool_calls: list[tuple[str, dict[str, Any] | str]] = field(default_factory=list)
    call_ids: list[str] | None = None
    """Chat Completions: send these tool call ids as they are (a local server's empty or
    repeated ones) instead of fresh unique ones."""
    stop: str | None = None
    """The stop reason as the wire API spells it (`length`, `content_filter`, `max_tokens`,
    `refusal`); None: the usual one (a tool call, or a normal end)."""


@dataclass
class Fault:
    """A failure instead of a reply: an HTTP status (with Retry-After), a cut stream, or a delay."""

    status: int | None = None
    retry_after: str | None = None
    cut_stream: bool = False
    delay_s: float = 0.0
    then: Reply | None = None
    """With `delay_s` or `cut_stream`: the reply whose stream is delayed or cut."""
    message: str | None = None
    """With `status`: the error message the provider sends (default: 'injected HTTP N')."""
    raw: str | None = None
    """A 200 answer with this body as it is (invalid JSON, an HTML page, a broken SSE line),
    sent as `raw_type`."""
    raw_type: str = "application/json"
    raw_status: int = 200
    """With `raw`: the HTTP status to send it with (a recorded 400 or 500)."""
    trickle_s: float = 0.0
    """With `then`, streamed: wait this long before each event (a slow local model that keeps
    sending, a token every few seconds)."""


@dataclass
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    received_at: float = field(default_factory=time.monotonic)
    """`time.monotonic()` on arrival: one clock for every process on the machine."""
    body_bytes: int = 0
    served_at: float | None = None
    """When the whole answer had been written: `served_at - received_at` is the mock's own
    latency, which benchmarks subtract from a tool's wall time."""


class MockModelServer:
    def __init__(self, script: list[Reply | Fault], model: str = "mock-model"):
        self.script = list(script)
        self.model = model
        self.requests: list[ReceivedRequest] = []
        self.protocol_errors: list[str] = []
        self.lock = threading.Lock()
        self.ids = itertools.count(1)
        handler = type("Handler", (_Handler,), {"server_state": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False  # a deliberately slow reply must not hold up teardown
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> MockModelServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def next_item(self) -> Reply | Fault | None:
        with self.lock:
            return self.script.pop(0) if self.script else None


def _check_chat_protocol(body: dict[str, Any]) -> str | None:
    called: set[str] = set()
    for message in body.get("messages", []):
        for call in message.get("tool_calls") or []:
            if not call.get("id") or call["id"] in called:  # what OpenAI answers with a 400
                return f"tool call id {call.get('id')!r} is empty or used twice"
            called.add(call["id"])
        if message.get("role") == "tool" and message.get("tool_call_id") not in called:
            return f"tool message answers unknown call {message.get('tool_call_id')!r}"
    return None


def _check_anthropic_protocol(body: dict[str, Any]) -> str | None:
    called: set[str] = set()
    for message in body.get("messages", []):
        content = message.get("content")
        for block in content if isinstance(content, list) else []:
            if block.get("type") == "tool_use":
                called.add(block["id"])
            if block.get("type") == "tool_result" and block.get("tool_use_id") not in called:
                return f"tool_result answers unknown tool_use {block.get('tool_use_id')!r}"
    return None


def _check_responses_protocol(body: dict[str, Any]) -> str | None:
    for tool in body.get("tools", []):
        # Functions are strict unless told otherwise, and strict schemas must require every
        # property (what the real API answers with a 400).
        schema = tool.get("parameters") or {}
        optional = set(schema.get("properties", {})) - set(schema.get("required", []))
        if tool.get("strict", True) and optional:
            return f"strict function {tool.get('name')!r}: 'required' must list {sorted(optional)}"
    called: set[str] = set()
    for item in body.get("input", []):
        if item.get("type") == "function_call":
            called.add(item["call_id"])
        if item.get("type") == "function_call_output" and item.get("call_id") not in called:
            return f"function_call_output answers unknown call {item.get('call_id')!r}"
    return None


def _arguments_text(arguments: dict[str, Any] | str) -> str:
    return arguments if isinstance(arguments, str) else json.dumps(arguments)


def _pieces(text: str, size: int = 7) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


class _Handler(BaseHTTPRequestHandler):
    server_state: MockModelServer

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        state = self.server_state
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        body = json.loads(raw or b"{}")
        received = ReceivedRequest(
            self.path, {k.lower(): v for k, v in self.headers.items()}, body, body_bytes=len(raw)
        )
        state.requests.append(received)
        try:
            self._answer(state, body)
        finally:
            received.served_at = time.monotonic()

    def _answer(self, state: MockModelServer, body: dict[str, Any]) -> None:
        kind = {
            "/v1/chat/completions": "chat",
            "/v1/messages": "anthropic",
            "/v1/responses": "responses",
        }.get(self.path)
        if kind is None:
            self._json(404, {"error": {"message": f"no route {self.path}"}})
            return
        checker = {
            "chat": _check_chat_protocol,
            "anthropic": _check_anthropic_protocol,
            "responses": _check_responses_protocol,
        }[kind]
        problem = checker(body)
        if problem:
            state.protocol_errors.append(problem)
            self._error(kind, 400, problem)
            return
        item = state.next_item()
        if item is None:
            self._error(kind, 500, "mock server script exhausted")
            return
        reply: Reply | None = item if isinstance(item, Reply) else item.then
        cut = False
        trickle = 0.0
        if isinstance(item, Fault):
            if item.raw is not None:
                data = item.raw.encode()
                self.send_response(item.raw_status)
                self.send_header("Content-Type", item.raw_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            if item.status is not None:
                headers = {"Retry-After": item.retry_after} if item.retry_after else {}
                message = item.message or f"injected HTTP {item.status}"
                self._error(kind, item.status, message, headers)
                return
            time.sleep(item.delay_s)
            cut = item.cut_stream
            trickle = item.trickle_s
        reply = reply or Reply()
        prompt_tokens = max(len(json.dumps(body)) // 4, 1)
        if body.get("stream"):
            events = {
                "chat": self._chat_events,
                "anthropic": self._anthropic_events,
                "responses": self._responses_events,
            }[kind](reply, prompt_tokens)
            self._sse(events[: len(events) // 2] if cut else events, kind, trickle)
        else:
            payload = {
                "chat": self._chat_json,
                "anthropic": self._anthropic_json,
                "responses": self._responses_json,
            }[kind](reply, prompt_tokens)
            self._json(200, payload)

    # --- transport helpers -------------------------------------------------------------------

    def _json(
        self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _error(
        self, kind: str, status: int, message: str, headers: dict[str, str] | None = None
    ) -> None:
        if kind == "anthropic":
            payload = {"type": "error", "error": {"type": "api_error", "message": message}}
        else:
            payload = {"error": {"message": message, "type": "server_error", "code": None}}
        self._json(status, payload, headers)

    def _sse(
        self,
        events: list[tuple[str | None, dict[str, Any] | str]],
        kind: str,
        trickle_s: float = 0.0,
    ) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        for name, data in events:
            time.sleep(trickle_s)
            text = data if isinstance(data, str) else json.dumps(data)
            prefix = f"event: {name}\n" if name else ""
            try:
                self.wfile.write(f"{prefix}data: {text}\n\n".encode())
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                return  # the client hung up (a deadline, a cut): what a real server sees too
        self.close_connection = True

    # --- OpenAI Chat Completions ------------------------------------------------------------

    def _chat_calls(self, reply: Reply) -> list[tuple[str, str, str]]:
        state = self.server_state
        ids = reply.call_ids or [f"call_{next(state.ids)}" for _ in reply.tool_calls]
        return [
            (cid, name, _arguments_text(a))
            for cid, (name, a) in zip(ids, reply.tool_calls, strict=True)
        ]

    def _chat_json(self, reply: Reply, prompt_tokens: int) -> dict[str, Any]:
        calls = self._chat_calls(reply)
        message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
        if calls:
            message["tool_calls"] = [
                {"id": cid, "type": "function", "function": {"name": n, "arguments": a}}
                for cid, n, a in calls
            ]
        return {
            "id": "chatcmpl-mock",
            "object": "chat.completion",
            "created": 0,
            "model": self.server_state.model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": reply.stop or ("tool_calls" if calls else "stop"),
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": 11,
                "total_tokens": prompt_tokens + 11,
            },
        }

    def _chat_events(
        self, reply: Reply, prompt_tokens: int
    ) -> list[tuple[str | None, dict[str, Any] | str]]:
        model = self.server_state.model

        def chunk(delta: dict[str, Any], finish: str | None = None) -> tuple[None, dict[str, Any]]:
            return None, {
                "id": "chatcmpl-mock",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }

        events: list[tuple[str | None, dict[str, Any] | str]] = [chunk({"role": "assistant"})]
        if reply.text:
            events += [chunk({"content": piece}) for piece in _pieces(reply.text)]
        for index, (cid, name, arguments) in enumerate(self._chat_calls(reply)):
            events.append(
                chunk(
                    {
                        "tool_calls": [
                            {
                                "index": index,
                                "id": cid,
                                "type": "function",
                                "function": {"name": name, "arguments": ""},
                            }
                        ]
                    }
                )
            )
            events += [
                chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
                for piece in _pieces(arguments)
            ]
        events.append(chunk({}, reply.stop or ("tool_calls" if reply.tool_calls else "stop")))
        events.append(
            (
                None,
                {
                    "id": "chatcmpl-mock",
                    "object": "chat.completion.chunk",
                    "created": 0,
                    "model": model,
                    "choices": [],
                    "usage": {
                        "prompt_tokens": prompt_tokens,
                        "completion_tokens": 11,
                        "total_tokens": prompt_tokens + 11,
                    },
                },
            )
        )
        events.append((None, "[DONE]"))
        return events

    # --- Anthropic Messages -----------------------------------------------------------------

    def _anthropic_json(self, reply: Reply, prompt_tokens: int) -> dict[str, Any]:
        state = self.server_state
        content: list[dict[str, Any]] = [{"type": "text", "text": reply.text}] if reply.text else []
        for name, arguments in reply.tool_calls:
            value = arguments if isinstance(arguments, dict) else {}
            content.append(
                {"type": "tool_use", "id": f"toolu_{next(state.ids)}", "name": name, "input": value}
            )
        return {
            "id": "msg_mock",
            "type": "message",
            "role": "assistant",
            "model": state.model,
            "content": content,
            "stop_reason": reply.stop or ("tool_use" if reply.tool_calls else "end_turn"),
            "stop_sequence": None,
            "usage": {"input_tokens": prompt_tokens, "output_tokens": 11},
        }

    def _anthropic_events(
        self, reply: Reply, prompt_tokens: int
    ) -> list[tuple[str | None, dict[str, Any] | str]]:
        state = self.server_state
        events: list[tuple[str | None, dict[str, Any] | str]] = [
            (
                "message_start",
                {
                    "type": "message_start",
                    "message": {
                        "id": "msg_mock",
                        "type": "message",
                        "role": "assistant",
                        "model": state.model,
                        "content": [],
                        "stop_reason": None,
                        "stop_sequence": None,
                        "usage": {"input_tokens": prompt_tokens, "output_tokens": 1},
                    },
                },
            ),
        ]
        index = 0
        if reply.text:
            events.append(
                (
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": 0,
                        "content_block": {"type": "text", "text": ""},
                    },
                )
            )
            events += [
                (
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": 0,
                        "delta": {"type": "text_delta", "text": piece},
                    },
                )
                for piece in _pieces(reply.text)
            ]
            events.append(("content_block_stop", {"type": "content_block_stop", "index": 0}))
            index = 1
        for offset, (name, arguments) in enumerate(reply.tool_calls):
            block = index + offset
            events.append(
                (
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": block,
                        "content_block": {
                            "type": "tool_use",
                            "id": f"toolu_{next(state.ids)}",
                            "name": name,
                            "input": {},
                        },
                    },
                )
            )
            events += [
                (
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": block,
                        "delta": {"type": "input_json_delta", "partial_json": piece},
                    },
                )
                for piece in _pieces(_arguments_text(arguments))
            ]
            events.append(("content_block_stop", {"type": "content_block_stop", "index": block}))
        events.append(
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {
                        "stop_reason": reply.stop
                        or ("tool_use" if reply.tool_calls else "end_turn"),
                        "stop_sequence": None,
                    },
                    "usage": {"output_tokens": 11},
                },
            )
        )
        events.append(("message_stop", {"type": "message_stop"}))
        return events

    # --- OpenAI Responses -------------------------------------------------------------------

    def _responses_json(self, reply: Reply, prompt_tokens: int) -> dict[str, Any]:
        state = self.server_state
        output: list[dict[str, Any]] = []
        if reply.text:
            output.append(
                {
                    "type": "message",
                    "id": "msg_mock",
                    "status": "completed",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": reply.text, "annotations": []}],
                }
            )
        for name, arguments in reply.tool_calls:
            number = next(state.ids)
            output.append(
                {
                    "type": "function_call",
                    "id": f"fc_{number}",
                    "call_id": f"call_{number}",
                    "name": name,
                    "arguments": _arguments_text(arguments),
                    "status": "completed",
                }
            )
        return {
            "id": "resp_mock",
            "object": "response",
            "created_at": 0,
            "model": state.model,
            "status": "completed",
            "output": output,
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
            "usage": {
                "input_tokens": prompt_tokens,
                "output_tokens": 11,
                "total_tokens": prompt_tokens + 11,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens_details": {"reasoning_tokens": 0},
            },
        }

    def _responses_events(
        self, reply: Reply, prompt_tokens: int
    ) -> list[tuple[str | None, dict[str, Any] | str]]:
        full = self._responses_json(reply, prompt_tokens)
        sequence = itertools.count()
        events: list[tuple[str | None, dict[str, Any] | str]] = [
            (
                "response.created",
                {
                    "type": "response.created",
                    "sequence_number": next(sequence),
                    "response": {**full, "status": "in_progress", "output": []},
                },
            )
        ]
        message = next((o for o in full["output"] if o["type"] == "message"), None)
        if message is not None:
            events.append(
                (
                    "response.output_item.added",
                    {
                        "type": "response.output_item.added",
                        "sequence_number": next(sequence),
                        "output_index": 0,
                        "item": {**message, "status": "in_progress", "content": []},
                    },
                )
            )
        events += [
            (
                "response.output_text.delta",
                {
                    "type": "response.output_text.delta",
                    "sequence_number": next(sequence),
                    "item_id": "msg_mock",
                    "output_index": 0,
                    "content_index": 0,
                    "delta": piece,
                },
            )
            for piece in (_pieces(reply.text) if reply.text else [])
        ]
        for index, item in enumerate(full["output"]):
            if item["type"] == "function_call":
                events.append(
                    (
                        "response.output_item.added",
                        {
                            "type": "response.output_item.added",
                            "sequence_number": next(sequence),
                            "output_index": index,
                            "item": item,
                        },
                    )
                )
            events.append(
                (
                    "response.output_item.done",
                    {
                        "type": "response.output_item.done",
                        "sequence_number": next(sequence),
                        "output_index": index,
                        "item": item,
                    },
                )
            )
        events.append(
            (
                "response.completed",
                {"type": "response.completed", "sequence_number": next(sequence), "response": full},
            )
        )
        return events
