"""Every provider, over real HTTP against the loopback mock server, streaming and not."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from autocodebase.config import ProviderConfig, Settings
from autocodebase.models.base import Message, Model, ModelError, ToolCall, ToolSpec
from autocodebase.models.deadline import MIN_REQUEST_TIMEOUT_S, request_timeout, requests_end_by
from autocodebase.models.registry import build_model
from tests.fakes.mock_server import Fault, MockModelServer, Reply

SPEC = ToolSpec(
    "read_file",
    "Read a file.",
    {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
)
WIRES = ["chat", "responses", "anthropic"]


def make_model(wire: str, url: str, stream: bool) -> Model:
    settings = Settings(
        stream=stream,
        providers={"mock": ProviderConfig(f"{url}/v1", "MOCK_KEY", wire)},
        request_timeout_s=10,
    )
    return build_model("mock/mock-model", settings)


@pytest.fixture
def model_factory(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Model]:
    monkeypatch.setenv("MOCK_KEY", "sk-mock-key-for-tests-0123456789")
    return make_model


def conversation() -> list[Message]:
    return [Message("system", "You are a test."), Message("user", "Read a.txt please.")]


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "json"])
@pytest.mark.parametrize("wire", WIRES)
def test_tool_call_then_text_round_trip(wire: str, stream: bool, model_factory: Any) -> None:
    script: list[Reply | Fault] = [
        Reply("Reading it.", [("read_file", {"path": "a.txt"})]),
        Reply("The file says hello."),
    ]
    with MockModelServer(script) as server:
        model = model_factory(wire, server.url, stream)
        deltas: list[str] = []
        first = model.complete(conversation(), [SPEC], deltas.append)
        assert first.message.tool_calls[0].name == "read_file"
        assert first.message.tool_calls[0].arguments == {"path": "a.txt"}
        assert first.message.content == "Reading it."
        assert first.usage.input_tokens > 0 and first.usage.output_tokens == 11
        if stream:
            assert "".join(deltas) == "Reading it."
        call = first.message.tool_calls[0]
        history = [
            *conversation(),
            first.message,
            Message("tool", "hello", tool_call_id=call.id, name=call.name),
        ]
        second = model.complete(history, [SPEC])
        assert second.message.content == "The file says hello."
        assert not second.message.tool_calls
    assert server.protocol_errors == []
    sent = server.requests[1]
    assert sent.body["model"] == "mock-model"
    assert bool(sent.body.get("stream")) == stream
    auth = sent.headers.get("authorization") or sent.headers.get("x-api-key", "")
    assert "sk-mock-key-for-tests-0123456789" in auth
    # the tool result travelled in the provider's own shape
    body = str(sent.body)
    assert "hello" in body and call.id in body


def test_chat_wire_shapes(model_factory: Any) -> None:
    with MockModelServer([Reply("ok")]) as server:
        model = model_factory("chat", server.url, False)
        call = ToolCall("call_9", "read_file", {"path": "x"}, '{"path": "x"}')
        history = [
            *conversation(),
            Message("assistant", "", tool_calls=(call,)),
            Message("tool", "content of x", tool_call_id="call_9"),
        ]
        model.complete(history, [SPEC])
    body = server.requests[0].body
    assert body["messages"][2]["tool_calls"][0]["function"]["arguments"] == '{"path": "x"}'
    assert body["messages"][3] == {
        "role": "tool",
        "tool_call_id": "call_9",
        "content": "content of x",
    }
    assert body["tools"][0]["function"]["name"] == "read_file"


def test_anthropic_wire_shapes(model_factory: Any) -> None:
    with MockModelServer([Reply("ok")]) as server:
        model = model_factory("anthropic", server.url, False)
        calls = (
            ToolCall("toolu_1", "read_file", {"path": "x"}, '{"path": "x"}'),
            ToolCall("toolu_2", "read_file", {"path": "y"}, '{"path": "y"}'),
        )
        history = [
            *conversation(),
            Message("assistant", "two reads", tool_calls=calls),
            Message("tool", "x!", tool_call_id="toolu_1"),
            Message("tool", "no such file", tool_call_id="toolu_2", is_error=True),
        ]
        model.complete(history, [SPEC])
    body = server.requests[0].body
    cache = {"type": "ephemeral"}
    assert body["system"] == [{"type": "text", "text": "You are a test.", "cache_control": cache}]
    # Prompt caching: the tools, the system prompt and the conversation so far are the next
    # request's prefix; three markers of the four the API allows.
    assert body["tools"][-1]["cache_control"] == cache
    assert body["messages"][-1]["content"][-1]["cache_control"] == cache
    assert json.dumps(body).count('"cache_control"') == 3
    # both tool results folded into one user turn, the error flagged
    results = body["messages"][-1]
    assert results["role"] == "user"
    assert [b["tool_use_id"] for b in results["content"]] == ["toolu_1", "toolu_2"]
    assert results["content"][1]["is_error"] is True
    assert body["tools"][0]["input_schema"]["required"] == ["path"]


@pytest.mark.parametrize("wire", WIRES)
def test_cut_stream_is_a_retryable_error(wire: str, model_factory: Any) -> None:
    with MockModelServer([Fault(cut_stream=True, then=Reply("a long answer " * 5))]) as server:
        model = model_factory(wire, server.url, True)
        with pytest.raises(ModelError) as caught:
            model.complete(conversation(), [SPEC])
    assert caught.value.retryable


@pytest.mark.parametrize("wire", WIRES)
def test_rate_limit_carries_retry_after(wire: str, model_factory: Any) -> None:
    with MockModelServer([Fault(status=429, retry_after="7")]) as server:
        model = model_factory(wire, server.url, False)
        with pytest.raises(ModelError) as caught:
            model.complete(conversation(), [SPEC])
    assert caught.value.retryable
    assert caught.value.retry_after == 7.0
    assert "429" in str(caught.value)


@pytest.mark.parametrize("status,retryable", [(500, True), (503, True), (401, False), (400, False)])
def test_status_classification(status: int, retryable: bool, model_factory: Any) -> None:
    with MockModelServer([Fault(status=status)]) as server:
        model = model_factory("chat", server.url, True)
        with pytest.raises(ModelError) as caught:
            model.complete(conversation(), [SPEC])
    assert caught.value.retryable is retryable
    assert f"HTTP {status}" in str(caught.value)


def test_connection_refused_here_fails_fast_and_elsewhere_is_retried(model_factory: Any) -> None:
    with MockModelServer([]) as server:
        url = server.url
    model = model_factory("chat", url, False)  # server is gone: nothing listens there now
    with pytest.raises(ModelError) as caught:
        model.complete(conversation(), [SPEC])
    # Nothing listens on this machine's port: retrying for a minute will not start a server.
    assert not caught.value.retryable
    assert f"at {url}/v1: connection refused" in str(caught.value)
    # A remote host refusing may be restarting or behind a balancer: that one is retried.
    from autocodebase.models.faults import to_model_error

    try:
        raise OSError("Connection error.") from ConnectionRefusedError(111, "Connection refused")
    except OSError as remote:
        error = to_model_error(remote, "vllm", "http://10.1.2.3:8000/v1")
    assert error.retryable and "vllm at http://10.1.2.3:8000/v1: connection failed" in str(error)


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "json"])
def test_malformed_tool_arguments_are_kept_raw(stream: bool, model_factory: Any) -> None:
    with MockModelServer([Reply("", [("read_file", '{"path": "a.txt"')])]) as server:
        model = model_factory("chat", server.url, stream)
        response = model.complete(conversation(), [SPEC])
    call = response.message.tool_calls[0]
    assert call.arguments is None
    assert call.raw_arguments == '{"path": "a.txt"'


@pytest.mark.parametrize("wire", WIRES)
def test_acbs_own_tool_schemas_are_accepted_by_every_wire_api(
    wire: str, model_factory: Any
) -> None:
    """The real toolbox (optional parameters included): the Responses API takes functions as
    strict unless told otherwise, and strict schemas must require every property."""
    from autocodebase.tools import default_toolbox

    with MockModelServer([Reply("ok")]) as server:
        model = model_factory(wire, server.url, False)
        assert model.complete(conversation(), default_toolbox().specs).message.content == "ok"
    assert server.protocol_errors == []


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "json"])
@pytest.mark.parametrize("wire", WIRES)
def test_a_silent_server_is_left_when_the_runs_time_is_up(
    wire: str, stream: bool, model_factory: Any
) -> None:
    """The SDK's timeout (10 s here, 600 s by default) bounds a read, not the run: with 1.5 s
    left, a server that thinks for 30 s before its first byte is left after about 1.5 s."""
    with MockModelServer([Fault(delay_s=30, then=Reply("too late"))]) as server:
        model = model_factory(wire, server.url, stream)
        started = time.monotonic()
        with requests_end_by(started + 1.5), pytest.raises(ModelError) as raised:
            model.complete(conversation(), [SPEC])
        waited = time.monotonic() - started
    assert raised.value.retryable  # the loop sees the time is up and stops as max_time
    assert 1.0 <= waited < 8, waited


@pytest.mark.parametrize("wire", WIRES)
def test_a_stream_that_keeps_trickling_is_cut_at_the_runs_end(
    wire: str, model_factory: Any
) -> None:
    """Each event arrives within the read timeout, so only the deadline can end this stream."""
    slow = Fault(trickle_s=0.4, then=Reply("word " * 60))
    with MockModelServer([slow]) as server:
        model = model_factory(wire, server.url, True)
        started = time.monotonic()
        with requests_end_by(started + 1.5), pytest.raises(ModelError) as raised:
            model.complete(conversation(), [SPEC])
        waited = time.monotonic() - started
    assert "time limit" in str(raised.value) and raised.value.retryable
    assert 1.4 <= waited < 6, waited


def test_without_a_time_limit_a_request_keeps_the_configured_timeout() -> None:
    assert request_timeout(600.0) == 600.0
    with requests_end_by(time.monotonic() + 30):
        assert 25 < request_timeout(600.0) <= 30
        assert request_timeout(5.0) == 5.0
    with requests_end_by(time.monotonic() - 5):  # already past: still a moment, never <= 0
        assert request_timeout(600.0) == MIN_REQUEST_TIMEOUT_S
