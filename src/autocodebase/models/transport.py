"""HTTP for the model providers: a JSON request, answered with JSON or server-sent events.

Why not the official SDKs: on the project machine `import openai` took 1.3 s and `import anthropic`
3.2 s, more than the whole first-request budget (issue 23), for features acb does not use (their
retries are off, ours are visible; their typed objects are read back as plain fields). The wire
formats themselves are small and documented, and `tests/conformance` replays the quirks real
servers send through this code. The standard library's `http.client` does the HTTP (80 ms to
import), with what the SDKs' transport gave us kept: one kept-alive connection per endpoint,
`HTTPS_PROXY`/`NO_PROXY` from the environment, certificates from `certifi` beside the system's,
a per-read timeout.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from autocodebase import __version__

UNSENT = (BrokenPipeError, ConnectionResetError)
"""What sending on a kept-alive connection the server has since closed raises: the request did
not reach it, so it is sent once more on a fresh connection. (A connection that closed while
idle is found before reuse; one dropped after the request went out is a fault for the retry
policy, visible and counted, never a silent second request.)"""


class HttpStatusError(Exception):
    """An HTTP error status. `status_code`, `body` (parsed JSON when it is JSON) and
    `response.headers` are the fields `faults.to_model_error` reads."""

    def __init__(self, status: int, body: Any, headers: Mapping[str, str]):
        super().__init__(f"HTTP {status}")
        self.status_code = status
        self.body = body
        self.response = _Headers(headers)


class StreamError(Exception):
    """An error the server sent inside a 200 stream (Anthropic's `overloaded_error`, OpenRouter's
    upstream failure): no status, only the error's own body. Providers raise it: each wire
    format says "error" its own way."""

    def __init__(self, body: dict[str, Any]):
        super().__init__(json.dumps(body)[:300])
        self.body = body


@dataclass(frozen=True)
class _Headers:
    headers: Mapping[str, str]


def _decoded(data: bytes) -> Any:
    """The body as JSON when it is JSON, else as text (an HTML page from a proxy)."""
    text = data.decode("utf-8", "replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


@dataclass(frozen=True)
class ServerEvent:
    """One server-sent event: its `event:` name (None when unnamed) and its `data:` as JSON."""

    name: str | None
    data: Any


class EventStream:
    """The events of a streamed answer, read as they arrive. `close()` hangs up (a deadline)."""

    def __init__(self, response: http.client.HTTPResponse, release: Any) -> None:
        self._response = response
        self._release = release
        self.content_type = response.getheader("content-type", "") or ""

    def __iter__(self) -> Iterator[ServerEvent]:
        with _deadline_explained(self._response):
            yield from self._events()

    def _events(self) -> Iterator[ServerEvent]:
        name: str | None = None
        data: list[str] = []
        try:
            for raw in self._response:
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if not line:
                    if data:
                        event = self._event(name, "\n".join(data))
                        if event is None:
                            return
                        yield event
                    name, data = None, []
                elif line.startswith(":"):
                    continue  # a comment: OpenRouter's "processing" keep-alives
                else:
                    field, _, value = line.partition(":")
                    value = value.removeprefix(" ")
                    if field == "event":
                        name = value
                    elif field == "data":
                        data.append(value)
            if data and not _expired(self._response):
                event = self._event(name, "\n".join(data))
                if event is not None:
                    yield event
        finally:
            self.close()

    @staticmethod
    def _event(name: str | None, text: str) -> ServerEvent | None:
        if text.strip().startswith("[DONE]"):
            return None
        return ServerEvent(name, json.loads(text))  # a broken line: a malformed answer

    def close(self) -> None:
        if self._release is not None:
            release, self._release = self._release, None
            release(self._response)


class JsonHttp:
    """Requests to one endpoint (`base_url`), with its headers, over kept-alive connections."""

    def __init__(self, base_url: str, headers: Mapping[str, str]) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.prefix = parts.path.rstrip("/")
        self.headers = {
            "User-Agent": f"acb/{__version__}",
            "Content-Type": "application/json",
            **headers,
        }
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        proxy = self._proxy_from_environment()
        self._via = urlsplit(proxy if "://" in proxy else f"http://{proxy}") if proxy else None
        if self._via is not None and self._via.scheme != "http":
            from autocodebase.errors import UsageError

            # Spoken to in plain text, its credentials would travel in clear.
            raise UsageError(
                f"the {self.scheme} proxy from the environment is a {self._via.scheme}:// URL, "
                "which acb cannot speak; give the proxy's http:// address (what goes to the "
                "API through it is still TLS)"
            )
        if self._via is not None and self._via.username and self.scheme == "http":
            self.headers["Proxy-Authorization"] = _basic(self._via.username, self._via.password)

    def post(self, path: str, payload: Mapping[str, Any], timeout: float) -> Any:
        """POST `payload`; the answer's JSON (or its text when it is not JSON)."""
        response = self._send(path, payload, timeout, "application/json")
        try:
            with _deadline_explained(response):
                return _decoded(response.read())
        finally:
            self._release(response)

    def stream(self, path: str, payload: Mapping[str, Any], timeout: float) -> EventStream:
        """POST `payload` and read the answer as server-sent events."""
        response = self._send(path, payload, timeout, "text/event-stream")
        return EventStream(response, self._release)

    def _send(
        self, path: str, payload: Mapping[str, Any], timeout: float, accept: str
    ) -> http.client.HTTPResponse:
        body = json.dumps(payload).encode()
        headers = {**self.headers, "Accept": accept, "Content-Length": str(len(body))}
        target = self.prefix + path
        while True:
            connection, reused = self._connection(timeout)
            try:
                timer = _hang_up_at_deadline(connection)  # from the connect to the last byte
            except TimeoutError:
                connection.close()
                raise
            try:
                connection.request("POST", self._request_target(target), body, headers)
                if timer is not None:
                    timer.connected()
            except UNSENT:
                _cancel(timer)
                connection.close()
                if reused:
                    continue
                raise
            except BaseException:
                _cancel(timer)
                connection.close()
                raise
            try:
                response = connection.getresponse()
            except BaseException:
                _cancel(timer)
                connection.close()
                raise
            response.connection_object = connection  # type: ignore[attr-defined]
            response.deadline_timer = timer  # type: ignore[attr-defined]
            if response.status >= 400:
                try:
                    error_body = _decoded(response.read())
                finally:
                    self._release(response)
                raise HttpStatusError(response.status, error_body, dict(response.getheaders()))
            return response

    def _connection(self, timeout: float) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            while self._idle:
                connection = self._idle.pop()
                if _closed_by_server(connection):
                    connection.close()
                elif connection.sock is not None:
                    connection.sock.settimeout(timeout)
                    connection.timeout = timeout
                    return connection, True
        return self._new_connection(timeout), False

    def _release(self, response: http.client.HTTPResponse) -> None:
        """Give the connection back for the next request when the whole answer was read and the
        server keeps it open; close it otherwise (a stream cut short, `Connection: close`)."""
        connection: http.client.HTTPConnection = response.connection_object  # type: ignore[attr-defined]
        _cancel(getattr(response, "deadline_timer", None))
        if response.isclosed() and not response.will_close and connection.sock is not None:
            with self._lock:
                self._idle.append(connection)
            return
        response.close()
        connection.close()

    def _proxy_from_environment(self) -> str | None:
        if not any(key.lower().endswith("_proxy") for key in os.environ):
            return None
        import urllib.request  # only when a proxy may be set: 25 ms of import

        if urllib.request.proxy_bypass(self.host):
            return None
        return urllib.request.getproxies().get(self.scheme)

    def _request_target(self, target: str) -> str:
        """An HTTP proxy is sent the absolute URL; everything else the path."""
        if self.scheme == "http" and self._via is not None:
            return f"http://{self.host}:{self.port}{target}"
        return target

    def _new_connection(self, timeout: float) -> http.client.HTTPConnection:
        via = self._via
        if via is None:
            if self.scheme == "https":
                return http.client.HTTPSConnection(
                    self.host, self.port, timeout=timeout, context=tls_context()
                )
            return http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        proxy_host, proxy_port = via.hostname or "", via.port or 80
        if self.scheme == "http":
            return http.client.HTTPConnection(proxy_host, proxy_port, timeout=timeout)
        # HTTPS through the proxy: a CONNECT tunnel, TLS to the endpoint inside it.
        tunnel = http.client.HTTPSConnection(
            proxy_host, proxy_port, timeout=timeout, context=tls_context()
        )
        credentials = (
            {"Proxy-Authorization": _basic(via.username, via.password)} if via.username else None
        )
        tunnel.set_tunnel(self.host, self.port, headers=credentials)
        return tunnel

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()


class _DeadlineTimer(threading.Timer):
    """Shuts the connection's socket down at the deadline (`expired` says it fired)."""

    def __init__(self, delay: float, connection: http.client.HTTPConnection) -> None:
        super().__init__(delay, self._hang_up)
        self.daemon = True
        self.connection = connection
        self.sock: socket.socket | None = connection.sock
        """Kept: a response read until the server closes takes the socket from the
        connection (`connection.sock` is None from then on)."""
        self.expired = False

    def connected(self) -> None:
        """The request went out: hold on to its socket, and hang up now if time is up."""
        self.sock = self.connection.sock or self.sock
        if self.expired:
            self._hang_up()

    def _hang_up(self) -> None:
        self.expired = True
        sock = self.sock or self.connection.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def _hang_up_at_deadline(connection: http.client.HTTPConnection) -> _DeadlineTimer | None:
    """Close the connection when the run's time is up, whatever the server is doing: a read
    timeout bounds each read, and a server sending a keep-alive comment, a header or a byte
    every few seconds never lets one expire (the fault that follows is retried, and the retry
    policy sees the time is up). A request whose deadline has passed is not sent at all."""
    from autocodebase.models.deadline import current_deadline

    deadline = current_deadline()
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("the run's time limit has passed")
    timer = _DeadlineTimer(left, connection)
    timer.start()
    return timer


def _expired(response: http.client.HTTPResponse) -> bool:
    timer = getattr(response, "deadline_timer", None)
    return timer is not None and timer.expired


@contextlib.contextmanager
def _deadline_explained(response: http.client.HTTPResponse) -> Iterator[None]:
    """An answer cut by the deadline's hang-up ends as what it is: the time limit."""
    try:
        yield
    except (OSError, http.client.HTTPException, ValueError) as exc:
        if _expired(response):
            raise TimeoutError(_TIME_UP) from exc
        raise
    if _expired(response):
        raise TimeoutError(_TIME_UP)


_TIME_UP = "the run's time limit came while the answer was still arriving"


def _cancel(timer: _DeadlineTimer | None) -> None:
    if timer is not None:
        timer.cancel()


def _closed_by_server(connection: http.client.HTTPConnection) -> bool:
    """An idle connection with something to read has been closed (or broken) by the server:
    a kept-alive connection says nothing until it is asked."""
    import select

    sock = connection.sock
    if sock is None:
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _basic(user: str, password: str | None) -> str:
    import base64

    pair = f"{unquote(user)}:{unquote(password or '')}".encode()
    return "Basic " + base64.b64encode(pair).decode()


_TLS: Any = None


def tls_context() -> Any:
    """The system's trusted certificates (and `SSL_CERT_FILE`), plus certifi's bundle: what the
    SDKs trusted, so a host that worked through them works here."""
    global _TLS
    if _TLS is None:
        import ssl

        context = ssl.create_default_context()
        try:
            import certifi
        except ImportError:
            pass
        else:
            context.load_verify_locations(certifi.where())
        _TLS = context
    return _TLS
