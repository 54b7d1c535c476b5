"""The providers' HTTP transport over real loopback sockets: kept-alive connections (and a
server that dropped one), proxies from the environment, error statuses, server-sent events."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from autocodebase.models.transport import HttpStatusError, JsonHttp


class _KeepAlive(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.seen.append((self.requestline, dict(self.headers), body))
        if body.get("status"):
            data = json.dumps({"error": {"message": "slow down"}}).encode()
            self.send_response(int(body["status"]))
            self.send_header("Retry-After", "7")
        elif body.get("stream"):
            data = b'event: a\ndata: {"n": 1}\n\n: a comment\ndata: {"n": 2}\n\ndata: [DONE]\n\n'
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
        else:
            data = json.dumps({"echo": body, "connection": self.server.connections}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        if self.server.drop_after_answer:
            self.close_connection = True  # no `Connection: close`: the client learns on reuse


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _KeepAlive)
        self.seen: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        self.connections = 0
        self.drop_after_answer = False
        self.closed = threading.Event()
        """Set once the server has closed a connection (after its handler returned)."""

    def get_request(self) -> tuple[socket.socket, Any]:
        self.connections += 1
        return super().get_request()

    def shutdown_request(self, request: Any) -> None:
        super().shutdown_request(request)
        self.closed.set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


@pytest.fixture
def clients() -> Iterator[list[JsonHttp]]:
    made: list[JsonHttp] = []
    yield made
    for client in made:
        client.close()


def _client(made: list[JsonHttp], url: str, headers: dict[str, str] | None = None) -> JsonHttp:
    made.append(JsonHttp(url, headers or {}))
    return made[-1]


@pytest.fixture
def server() -> Iterator[_Server]:
    running = _Server()
    thread = threading.Thread(target=running.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield running
    running.shutdown()
    running.server_close()


def test_requests_share_one_kept_alive_connection(server: _Server, clients: list[JsonHttp]) -> None:
    client = _client(clients, server.url, {"Authorization": "Bearer k"})
    first = client.post("/chat", {"n": 1}, timeout=10)
    second = client.post("/chat", {"n": 2}, timeout=10)
    assert first["echo"] == {"n": 1} and second["echo"] == {"n": 2}
    assert server.connections == 1
    line, headers, _ = server.seen[0]
    assert line == "POST /v1/chat HTTP/1.1"
    assert headers["Authorization"] == "Bearer k" and headers["User-Agent"].startswith("acb/")


def test_a_connection_the_server_dropped_is_replaced_without_a_fault(
    server: _Server, clients: list[JsonHttp]
) -> None:
    server.drop_after_answer = True
    client = _client(clients, server.url, {})
    assert client.post("/chat", {"n": 1}, timeout=10)["echo"] == {"n": 1}
    # The answer reaches the client before the server's thread closes the socket; a request
    # sent in between meets a connection dropped after it went out, which is a fault for the
    # retry policy by design (transport.UNSENT). What is tested is the close found before reuse.
    assert server.closed.wait(10)
    assert client.post("/chat", {"n": 2}, timeout=10)["echo"] == {"n": 2}
    assert server.connections == 2 and len(server.seen) == 2


def test_an_error_status_carries_its_body_and_headers(
    server: _Server, clients: list[JsonHttp]
) -> None:
    client = _client(clients, server.url, {})
    with pytest.raises(HttpStatusError) as raised:
        client.post("/chat", {"status": 429}, timeout=10)
    assert raised.value.status_code == 429
    assert raised.value.body == {"error": {"message": "slow down"}}
    assert raised.value.response.headers["Retry-After"] == "7"
    assert client.post("/chat", {"n": 3}, timeout=10)["connection"] == 1  # still reusable


def test_server_sent_events_in_order_without_comments_or_the_end_marker(
    server: _Server, clients: list[JsonHttp]
) -> None:
    events = list(_client(clients, server.url, {}).stream("/chat", {"stream": True}, timeout=10))
    assert [(e.name, e.data) for e in events] == [("a", {"n": 1}), (None, {"n": 2})]


class _ForwardProxy(BaseHTTPRequestHandler):
    """An HTTP proxy: takes absolute-form requests and forwards them."""

    server: Any

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        import http.client
        from urllib.parse import urlsplit

        self.server.seen.append((self.path, self.headers.get("Proxy-Authorization")))
        target = urlsplit(self.path)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        upstream = http.client.HTTPConnection(target.hostname or "", target.port, timeout=10)
        upstream.request("POST", target.path, body, {"Content-Type": "application/json"})
        answer = upstream.getresponse()
        data = answer.read()
        upstream.close()
        self.send_response(answer.status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def test_http_proxy_from_the_environment_and_no_proxy(
    server: _Server, clients: list[JsonHttp], monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), _ForwardProxy)
    proxy.seen = []  # type: ignore[attr-defined]
    threading.Thread(target=proxy.serve_forever, args=(0.05,), daemon=True).start()
    try:
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", f"http://user:p%40ss@127.0.0.1:{proxy.server_address[1]}")
        answer = _client(clients, server.url, {}).post("/chat", {"n": 1}, timeout=10)
        assert answer["echo"] == {"n": 1}
        assert proxy.seen == [  # type: ignore[attr-defined]
            (f"{server.url}/chat", "Basic dXNlcjpwQHNz")
        ]
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        _client(clients, server.url, {}).post("/chat", {"n": 2}, timeout=10)
        assert len(proxy.seen) == 1  # type: ignore[attr-defined]
    finally:
        proxy.shutdown()
        proxy.server_close()


def test_a_key_with_a_stray_newline_is_used_stripped_and_never_shown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from autocodebase.config import Settings
    from autocodebase.errors import UsageError
    from autocodebase.models.registry import build_model
    from autocodebase.redact import Redactor

    secret = "corp-gateway-7f3a9b2c4d"
    monkeypatch.setenv("ANTHROPIC_API_KEY", secret + "\n")
    model = build_model("anthropic/claude-x", Settings())
    assert model.api_key == secret  # type: ignore[attr-defined]
    redactor = Redactor.from_environment()
    assert secret not in redactor.text(f"key {secret} and {secret!r} and {secret + chr(10)!r}")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "abc\ndef-0123456789")
    with pytest.raises(UsageError) as raised:
        build_model("anthropic/claude-x", Settings())
    assert "control character" in str(raised.value) and "def-0123" not in str(raised.value)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "nan"}, None),
        ({"Retry-After": "inf"}, None),
        ({"Retry-After": "Tue, 99 Foo 2026"}, None),
        ({"retry-after-ms": "-5"}, 0.0),
        ({"Retry-After": "7"}, 7.0),
    ],
)
def test_a_retry_after_that_is_no_number_of_seconds_is_ignored(
    headers: dict[str, str], expected: float | None
) -> None:
    from autocodebase.models.faults import parse_retry_after

    assert parse_retry_after(headers) == expected


@pytest.mark.parametrize(
    "body",
    [
        '{"choices": ["a string"]}',
        '{"choices": [{"message": "text", "finish_reason": "stop"}]}',
        "[" * 100_000,
    ],
)
def test_json_of_the_wrong_shape_is_a_malformed_answer_not_a_crash(
    body: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from autocodebase.models.base import Message, ModelError
    from autocodebase.models.openai_chat import OpenAIChatModel
    from tests.fakes.mock_server import Fault, MockModelServer

    with MockModelServer([Fault(raw=body)]) as mock:
        model = OpenAIChatModel("m/x", "x", "k", f"{mock.url}/v1", stream=False)
        with pytest.raises(ModelError) as raised:
            model.complete([Message("user", "hi")], [])
    assert raised.value.retryable and "malformed" in str(raised.value)


def test_a_proxy_acb_cannot_speak_to_safely_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from autocodebase.errors import UsageError

    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "https://user:secret-pass@proxy.example:8443")
    with pytest.raises(UsageError) as raised:
        JsonHttp("https://api.example.com/v1", {})
    assert "https:// URL" in str(raised.value) and "secret-pass" not in str(raised.value)


def test_a_server_that_keeps_sending_nothing_useful_is_hung_up_on_at_the_deadline() -> None:
    """Keep-alive comments every 0.2 s never let a read time out; the run's time limit still
    ends the request (found by an attack: it held `acb exec --max-minutes` forever)."""
    import time

    from autocodebase.models.base import Message, ModelError
    from autocodebase.models.deadline import requests_end_by
    from autocodebase.models.openai_chat import OpenAIChatModel

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                return
            client.recv(65536)
            try:
                client.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n")
                while not stop.is_set():
                    client.sendall(b": keep-alive\n")
                    time.sleep(0.2)
            except OSError:
                pass
            finally:
                client.close()

    threading.Thread(target=serve, daemon=True).start()
    port = listener.getsockname()[1]
    model = OpenAIChatModel("m/x", "x", "k", f"http://127.0.0.1:{port}/v1", timeout=5.0)
    started = time.monotonic()
    try:
        with requests_end_by(started + 1.5), pytest.raises(ModelError):
            model.complete([Message("user", "hi")], [])
    finally:
        stop.set()
        listener.close()
    assert time.monotonic() - started < 10  # without the hang-up: never
