"""The deploy proxy over real loopback HTTP/1.1: request bodies (chunked or sized) reach the
release intact and the connection stays usable after them; HEAD, 204 and 304 answers carry no
body; responses stream; malformed requests and dead releases get proper status codes."""

from __future__ import annotations

import hashlib
import http.client
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from autocodebase.delivery import proxy


class Release(BaseHTTPRequestHandler):
    """A release that, like wsgiref apps, reads only sized request bodies: it answers what it
    received (method, path, body length and digest, framing headers)."""

    protocol_version = "HTTP/1.1"
    first_part = threading.Event()
    go_on = threading.Event()

    def _answer(self) -> None:
        if self.headers.get("Transfer-Encoding"):
            self._send(411, b"sized bodies only\n")
            return
        if self.path == "/slow":
            Release.go_on.wait(5)
            self._send(200, b"late\n")
            return
        if self.path == "/fixed":
            self._send(200, b"hello, world\n")
            return
        if self.path.startswith("/status/"):
            self._send(int(self.path.rsplit("/", 1)[1]), b"")
            return
        if self.path == "/stream":
            self._stream()
            return
        if self.path == "/slow-upload":
            self._slow_upload()
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        seen = {
            "method": self.command,
            "path": self.path,
            "length": len(body),
            "sha256": hashlib.sha256(body).hexdigest(),
            "content_length": self.headers.get("Content-Length"),
            "x_tag": self.headers.get_all("X-Tag"),
            "keep_me": self.headers.get("Keep-Me"),
            "hop": self.headers.get("X-Hop"),
        }
        self._send(200, json.dumps(seen).encode())

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        if status not in (204, 304):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _stream(self) -> None:
        """A chunked answer whose second half waits until the client has the first."""
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.write(b"5\r\nfirst\r\n")
        self.wfile.flush()
        assert Release.go_on.wait(10), "the client never saw the first half"
        self.wfile.write(b"6\r\nsecond\r\n0\r\n\r\n")

    def _slow_upload(self) -> None:
        """Reads the first KiB of the body, says so, then the rest."""
        length = int(self.headers["Content-Length"])
        head = self.rfile.read(1024)
        Release.first_part.set()
        rest = self.rfile.read(length - len(head))
        self._send(200, str(len(head) + len(rest)).encode())

    do_GET = do_POST = do_PUT = do_HEAD = _answer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


def serve(server: ThreadingHTTPServer) -> int:
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return int(server.server_address[1])


@pytest.fixture
def release() -> Iterator[int]:
    Release.first_part.clear()
    Release.go_on.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Release)
    yield serve(server)
    Release.go_on.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def front(release: int) -> Iterator[int]:
    """The proxy, in this process, sending traffic to `release`."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), proxy.ProxyHandler)
    before = proxy.STATE.active, proxy.STATE.shadow
    proxy.STATE.active, proxy.STATE.shadow = release, None
    yield serve(server)
    proxy.STATE.active, proxy.STATE.shadow = before
    server.shutdown()
    server.server_close()


@pytest.fixture
def connect() -> Iterator[Callable[[int], http.client.HTTPConnection]]:
    """Opens client connections, and closes them after the test."""
    opened: list[http.client.HTTPConnection] = []

    def open_one(port: int) -> http.client.HTTPConnection:
        opened.append(http.client.HTTPConnection("127.0.0.1", port, timeout=10))
        return opened[-1]

    yield open_one
    for connection in opened:
        connection.close()


Connect = Callable[[int], http.client.HTTPConnection]


def ask(
    connection: http.client.HTTPConnection, method: str, path: str, **kwargs: Any
) -> tuple[int, http.client.HTTPMessage, bytes]:
    connection.request(method, path, **kwargs)
    response = connection.getresponse()
    return response.status, response.headers, response.read()


def echoed(body: bytes) -> dict[str, Any]:
    return {"length": len(body), "sha256": hashlib.sha256(body).hexdigest()}


def test_a_chunked_body_reaches_the_release_and_the_connection_goes_on(
    front: int, connect: Connect
) -> None:
    body = b"".join(b"%d," % i for i in range(20000))
    pieces = (body[i : i + 7000] for i in range(0, len(body), 7000))
    connection = connect(front)
    status, _, answer = ask(connection, "POST", "/upload", body=pieces, encode_chunked=True)
    assert status == 200
    seen = json.loads(answer)
    assert {k: seen[k] for k in ("length", "sha256")} == echoed(body)
    assert seen["content_length"] == str(len(body)), "the release gets a sized body"
    status, _, answer = ask(connection, "GET", "/after")
    assert (status, json.loads(answer)["path"]) == (200, "/after"), "same connection, next request"


def test_sized_bodies_on_one_kept_alive_connection(front: int, connect: Connect) -> None:
    connection = connect(front)
    for size in (0, 1, 70000, 3 * 2**20):
        body = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
        status, _, answer = ask(connection, "PUT", f"/put/{size}", body=body)
        seen = json.loads(answer)
        assert status == 200
        assert {k: seen[k] for k in ("length", "sha256")} == echoed(body)


def test_head_204_and_304_carry_no_body_and_keep_the_connection(
    front: int, connect: Connect
) -> None:
    connection = connect(front)
    _, _, got = ask(connection, "GET", "/fixed")
    status, headers, body = ask(connection, "HEAD", "/fixed")
    assert (status, body) == (200, b"")
    assert headers["Content-Length"] == str(len(got)), "what a GET would have sent"
    for code in (204, 304):
        status, headers, body = ask(connection, "GET", f"/status/{code}")
        assert (status, body) == (code, b"")
        assert headers["Content-Length"] is None, f"{code} has no Content-Length"
    assert ask(connection, "GET", "/last")[0] == 200


def test_a_response_streams_to_the_client(front: int, connect: Connect) -> None:
    connection = connect(front)
    connection.request("GET", "/stream")
    response = connection.getresponse()
    assert response.status == 200
    assert response.read(5) == b"first", "the first half arrives before the release ends"
    Release.go_on.set()
    assert response.read() == b"second"
    assert ask(connection, "GET", "/next")[0] == 200


def test_a_request_body_streams_to_the_release(front: int) -> None:
    size = 64 * 1024
    with socket.create_connection(("127.0.0.1", front), timeout=10) as client:
        client.sendall(
            b"POST /slow-upload HTTP/1.1\r\nHost: x\r\n"
            b"Content-Length: %d\r\n\r\n" % size + b"a" * 2048
        )
        assert Release.first_part.wait(10), "the release got nothing before the body ended"
        client.sendall(b"a" * (size - 2048))
        answer = b""
        while not answer.endswith(b"\r\n\r\n65536") and (piece := client.recv(65536)):
            answer += piece
    assert answer.startswith(b"HTTP/1.1 200 ")


def raw(port: int, request: bytes) -> bytes:
    """Sends `request` as is; the answer up to when the proxy closes or goes quiet."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.sendall(request)
        received = b""
        try:
            while chunk := client.recv(65536):
                received += chunk
        except TimeoutError:
            pass
    return received


@pytest.mark.parametrize(
    ("request_head", "status"),
    [
        (b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", 400),
        (b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 400),
        (b"Transfer-Encoding: gzip\r\n\r\n", 400),
        (b"Transfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 501),
        (b"Content-Length: ten\r\n\r\n", 400),
        (b"Content-Length: -1\r\n\r\n", 400),
        (b"Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400),
    ],
)
def test_malformed_framing_is_refused_and_the_connection_closed(
    front: int, request_head: bytes, status: int
) -> None:
    answer = raw(front, b"POST /x HTTP/1.1\r\nHost: x\r\n" + request_head)
    assert answer.startswith(b"HTTP/1.1 %d " % status), answer[:200]
    assert b"\r\nConnection: close\r\n" in answer
    assert answer.count(b"HTTP/1.1 ") == 1, "nothing after it is read as a request"


def test_chunk_extensions_and_trailers_are_accepted(front: int) -> None:
    answer = raw(
        front,
        b"POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3;name=value\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n"
        b"GET /y HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    assert answer.count(b"HTTP/1.1 200 ") == 2
    assert json.dumps(echoed(b"abc"))[1:-1].encode() in answer


def test_a_dead_release_is_a_502_and_no_release_a_503(front: int, connect: Connect) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    proxy.STATE.active = dead
    connection = connect(front)
    assert ask(connection, "POST", "/x", body=iter([b"abc"]), encode_chunked=True)[0] == 502
    proxy.STATE.active = None
    assert ask(connect(front), "POST", "/x", body=b"abc")[0] == 503


def test_an_oversized_chunked_body_is_a_413(front: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from autocodebase.delivery import framing

    monkeypatch.setattr(framing, "MAX_CHUNKED_BODY", 10)
    answer = raw(
        front,
        b"POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n",
    )
    assert answer.startswith(b"HTTP/1.1 413 ")


def test_an_http_1_0_client_gets_a_chunked_answer_ended_by_closing(front: int) -> None:
    Release.go_on.set()
    answer = raw(front, b"GET /stream HTTP/1.0\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding" not in head and b"Connection: close" in head
    assert body == b"firstsecond"


def test_mirrored_requests_reach_the_shadow_with_their_body(
    front: int, release: int, connect: Connect
) -> None:
    proxy.STATE.shadow = release
    proxy.STATE.stats.pop(release, None)
    body = b"query=" + b"q" * 100000
    status, _, answer = ask(
        connect(front), "GET", "/search", body=iter([body]), encode_chunked=True
    )
    assert (status, json.loads(answer)["length"]) == (200, len(body))
    deadline = time.monotonic() + 5
    while proxy.STATE.stats.get(release, proxy.BackendStats()).requests < 2:
        assert time.monotonic() < deadline, "the shadow never got the request"
        time.sleep(0.01)
    assert proxy.STATE.stats[release].errors == 0


def test_a_release_too_slow_to_answer_is_a_504(
    front: int, connect: Connect, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(proxy, "BACKEND_TIMEOUT", 0.3)
    assert ask(connect(front), "GET", "/slow")[0] == 504


def test_end_to_end_headers_reach_the_release_and_hop_by_hop_ones_do_not(front: int) -> None:
    """Repeated fields all arrive; fields the client's Connection names stay with it."""
    answer = raw(
        front,
        b"GET /h HTTP/1.1\r\nHost: x\r\nX-Tag: a\r\nx-tag: b\r\nKeep-Me: 1\r\n"
        b"X-Hop: secret\r\nConnection: X-Hop, close\r\n\r\n",
    )
    seen = json.loads(answer.partition(b"\r\n\r\n")[2])
    assert (", ".join(seen["x_tag"]), seen["keep_me"], seen["hop"]) == ("a, b", "1", None)
