"""Real-model conformance (issue 26): answers in the shapes real providers send, with their
quirks, replayed byte for byte over the loopback mock through acb's real providers.

Two kinds of fixture live in tests/conformance/ (its README says where each came from):
- `recorded/llamacpp/`: bytes recorded on this machine from a real model (SmolLM2-135M behind
  llama-cpp-python's OpenAI-compatible server). Nobody wrote them.
- `shapes/`: written by us in the shapes the providers' API references and public bug reports
  show (hosted APIs cannot be reached from here), one quirk each.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from autocodebase.agent.guards import CONTEXT_OVERFLOW
from autocodebase.config import ProviderConfig, Settings
from autocodebase.models.base import Message, Model, ModelError, Response, ToolSpec
from autocodebase.models.faults import stream_error_is_transient
from autocodebase.models.openai_chat import OpenAIChatModel
from autocodebase.models.registry import build_model
from tests.fakes.mock_server import Fault, MockModelServer, Reply

FIXTURES = Path(__file__).parent / "conformance"
READ = ToolSpec(
    "read_file",
    "Read a file.",
    {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
)


@dataclass(frozen=True)
class Expect:
    """What acb must make of a fixture: a reply, or a fault (retryable or not)."""

    text: str = ""
    calls: list[tuple[str, dict[str, Any] | None]] = field(default_factory=list)
    stop: str | None = None
    fault: str | None = None
    """A substring of the `ModelError` raised instead of a reply."""
    retryable: bool = True


CASES: dict[str, tuple[str, Expect]] = {
    # ---- OpenAI Chat Completions and the servers that speak it ----
    "chat/parallel_calls_with_usage.sse": (
        "chat",
        Expect(calls=[("read_file", {"path": "a.txt"}), ("read_file", {"path": "b.txt"})]),
    ),
    "chat/gemini_calls_without_index.sse": (
        "chat",
        Expect(calls=[("read_file", {"path": "a.txt"}), ("read_file", {"path": "b.txt"})]),
    ),
    "chat/openrouter_processing_comments.sse": (
        "chat",
        Expect(text="All tests pass.", stop="stop"),
    ),
    "chat/openrouter_error_mid_stream.sse": ("chat", Expect(fault="Provider returned error")),
    "chat/deepseek_reasoning_content.sse": (
        "chat",
        Expect(text="Reading it.", calls=[("read_file", {"path": "a.txt"})]),
    ),
    "chat/length_cut_inside_a_call.json": (
        "chat",
        Expect(calls=[("apply_patch", None)], stop="length"),
    ),
    "chat/azure_content_filter.json": ("chat", Expect(stop="content_filter")),
    "chat/no_choices.json": ("chat", Expect(fault="no choices")),
    "chat/proxy_html_page.html": ("chat", Expect(fault="502 Bad Gateway")),
    "chat/broken_sse_line.sse": ("chat", Expect(fault="malformed")),
    # ---- Anthropic Messages ----
    "anthropic/thinking_text_and_tool_use.sse": (
        "anthropic",
        Expect(text="I'll read the file.", calls=[("read_file", {"path": "a.txt"})]),
    ),
    "anthropic/tool_use_without_input_deltas.sse": (
        "anthropic",
        Expect(calls=[("run_tests", {})], stop="tool_use"),
    ),
    "anthropic/overloaded_mid_stream.sse": ("anthropic", Expect(fault="Overloaded")),
    "anthropic/max_tokens_inside_a_call.sse": (
        "anthropic",
        Expect(calls=[("apply_patch", None)], stop="max_tokens"),
    ),
    "anthropic/empty_end_turn.json": ("anthropic", Expect(stop="end_turn")),
    "anthropic/refusal.json": ("anthropic", Expect(stop="refusal")),
    # ---- OpenAI Responses ----
    "responses/reasoning_then_function_call.sse": (
        "responses",
        Expect(calls=[("read_file", {"path": "a.txt"})]),
    ),
    "responses/incomplete_at_max_output_tokens.sse": (
        "responses",
        Expect(text="The fix is to", stop="incomplete"),
    ),
    "responses/failed_server_error.sse": ("responses", Expect(fault="server had an error")),
    "responses/error_event.sse": ("responses", Expect(fault="Rate limit reached")),
}

CONTENT_TYPES = {".sse": "text/event-stream", ".json": "application/json", ".html": "text/html"}


def replay(wire: str, fixture: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Response, Any]:
    """The fixture as the server's whole answer to one request, through the real provider."""
    monkeypatch.setenv("MOCK_KEY", "sk-mock-key-for-tests-0123456789")
    raw = Fault(raw=fixture.read_text(), raw_type=CONTENT_TYPES[fixture.suffix])
    with MockModelServer([raw]) as server:
        settings = Settings(
            stream=fixture.suffix == ".sse",
            providers={"mock": ProviderConfig(f"{server.url}/v1", "MOCK_KEY", wire)},
            request_timeout_s=10,
        )
        model: Model = build_model("mock/mock-model", settings)
        conversation = [Message("system", "You are a test."), Message("user", "Read a.txt.")]
        return model.complete(conversation, [READ]), server


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_provider_shape_is_understood(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    wire, expect = CASES[name]
    if expect.fault is not None:
        with pytest.raises(ModelError) as raised:
            replay(wire, FIXTURES / "shapes" / name, monkeypatch)
        assert expect.fault in str(raised.value)
        assert raised.value.retryable == expect.retryable, str(raised.value)
        return
    response, _ = replay(wire, FIXTURES / "shapes" / name, monkeypatch)
    message = response.message
    assert message.content == expect.text
    assert [(c.name, c.arguments) for c in message.tool_calls] == expect.calls
    assert len({c.id for c in message.tool_calls}) == len(message.tool_calls)
    assert all(c.id for c in message.tool_calls)
    if expect.stop is not None:
        assert response.stop_reason == expect.stop


def test_every_fixture_has_a_case() -> None:
    on_disk = {str(p.relative_to(FIXTURES / "shapes")) for p in (FIXTURES / "shapes").rglob("*.*")}
    assert on_disk == set(CASES)


def test_geminis_thought_signature_goes_back_with_its_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Gemini refuses a follow-up whose tool calls lost their `extra_content`."""
    monkeypatch.setenv("MOCK_KEY", "sk-mock-key-for-tests-0123456789")
    fixture = FIXTURES / "shapes" / "chat" / "gemini_calls_without_index.sse"
    script: list[Reply | Fault] = [
        Fault(raw=fixture.read_text(), raw_type="text/event-stream"),
        Reply("done"),
    ]
    with MockModelServer(script) as server:
        settings = Settings(
            providers={"mock": ProviderConfig(f"{server.url}/v1", "MOCK_KEY", "chat")},
            request_timeout_s=10,
        )
        model = build_model("mock/mock-model", settings)
        history = [Message("system", "You are a test."), Message("user", "Read a.txt.")]
        first = model.complete(history, [READ]).message
        results = [Message("tool", "x", tool_call_id=c.id, name=c.name) for c in first.tool_calls]
        model.complete([*history, first, *results], [READ])
    assert server.protocol_errors == []
    sent = server.requests[1].body["messages"][2]["tool_calls"]
    signature = {"google": {"thought_signature": "CiQB0e2Kb1sIGnatureBytes=="}}
    assert [c.get("extra_content") for c in sent] == [signature, None]
    assert [c["id"] for c in sent] == ["function-call-1", "function-call-2"]


@pytest.mark.parametrize(
    "body,transient",
    [
        ({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, True),
        ({"type": "error", "error": {"type": "api_error", "message": "Internal"}}, True),
        ({"type": "error", "error": {"type": "invalid_request_error", "message": "bad"}}, False),
        ({"code": 502, "message": "Provider returned error"}, True),
        ({"code": 400, "message": "This model's maximum context length is 8192"}, False),
        ({"code": "context_length_exceeded", "message": "too long"}, False),
        ({"code": "rate_limit_exceeded", "message": "slow down"}, True),
    ],
)
def test_an_error_inside_a_stream_is_retried_only_when_sending_again_can_help(
    body: dict[str, Any], transient: bool
) -> None:
    assert stream_error_is_transient(body) is transient


RECORDED = FIXTURES / "recorded" / "llamacpp"


def recorded(name: str, status: int = 200) -> Fault:
    path = RECORDED / name
    return Fault(raw=path.read_text(), raw_type=CONTENT_TYPES[path.suffix], raw_status=status)


def llamacpp(server: MockModelServer, stream: bool) -> Model:
    settings = Settings(
        stream=stream,
        providers={"llama": ProviderConfig(f"{server.url}/v1", None, "chat")},
        request_timeout_s=10,
    )
    return build_model("llama/smollm2", settings)


@pytest.mark.parametrize("name", ["chat_forced_tool.json", "chat_forced_tool_stream.sse"])
def test_a_real_local_models_tool_call_is_understood(name: str) -> None:
    """Streamed, llama.cpp repeats index, id and name on every fragment; whole, it adds the
    legacy `function_call` and leaves out `index`."""
    with MockModelServer([recorded(name)]) as server:
        answer = llamacpp(server, name.endswith(".sse")).complete(
            [Message("user", "Read README.md.")], [READ]
        )
    (call,) = answer.message.tool_calls
    assert call.name == "read_file" and isinstance((call.arguments or {}).get("path"), str)
    assert call.id.startswith("call__0_read_file")
    assert answer.stop_reason == "tool_calls"


@pytest.mark.parametrize("name", ["chat_text_stream.sse", "chat_tools.json"])
def test_a_real_local_models_text_is_understood(name: str) -> None:
    with MockModelServer([recorded(name)]) as server:
        answer = llamacpp(server, name.endswith(".sse")).complete(
            [Message("user", "Hello?")], [READ]
        )
    assert answer.message.content.strip() and not answer.message.tool_calls
    assert answer.stop_reason in ("stop", "length")


@pytest.mark.parametrize("start", [None, ""], ids=["hosted-default", "local-default"])
def test_a_server_that_refuses_null_content_gets_an_empty_string(start: str | None) -> None:
    """llama.cpp answers a tool-call message with `content: null` with HTTP 500 (its pydantic
    model wants a string): every run that called a tool failed at its next step. A server on
    this machine gets "" from the start; elsewhere the spec's null, switched once refused."""
    script = [
        recorded("chat_forced_tool.json"),
        recorded("chat_after_tool_result_null_content.json", 500),
        recorded("chat_after_tool_result.json"),
        recorded("chat_after_tool_result.json"),
    ]
    if start == "":
        del script[1]
    with MockModelServer(script) as server:
        model = llamacpp(server, False)
        assert isinstance(model, OpenAIChatModel) and model.no_text == ""
        model.no_text = start
        history = [Message("user", "Read README.md.")]
        first = model.complete(history, [READ]).message
        call = first.tool_calls[0]
        history += [first, Message("tool", "# README", tool_call_id=call.id, name=call.name)]
        assert model.complete(history, [READ]).message.content
        model.complete(history, [READ])  # the server's spelling is kept from then on
    sent = [r.body["messages"][1].get("content", "absent") for r in server.requests[1:]]
    assert sent == ([None, "", ""] if start is None else ["", ""])


def test_an_empty_stream_over_the_window_is_asked_again_and_reported_as_such() -> None:
    """Over its context window, llama.cpp's server sends an empty 200 stream (only its log says
    why); asked without streaming it answers 400 context_length_exceeded, which the loop
    compacts on, instead of retrying a 'cut stream' six times."""
    script = [
        recorded("chat_over_context_stream.sse"),  # 0 bytes, as recorded
        recorded("chat_over_context.json", 400),
    ]
    with MockModelServer(script) as server, pytest.raises(ModelError) as raised:
        llamacpp(server, True).complete([Message("user", "x" * 40_000)], [READ])
    assert not raised.value.retryable
    assert CONTEXT_OVERFLOW.search(str(raised.value)), str(raised.value)
    assert [bool(r.body.get("stream")) for r in server.requests] == [True, False]
