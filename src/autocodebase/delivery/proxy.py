"""The local deployment's front door and supervisor, one long-lived process per project:

- a reverse proxy on a loopback port that sends each request to the active release, so a
  switch between releases is one assignment and no request is dropped;
- a shadow: while a new release is being verified, GET/HEAD requests are also replayed to it
  (its answers are measured, never returned), so a release whose error rate jumps is caught on
  real traffic before any client sees it;
- per-backend counts, errors and latencies;
- the release processes themselves, started and stopped on request (they die with it).

Control: JSON lines over a unix socket in `.acb/deploy/` (only the project's user can reach it).
Run as `python -m autocodebase.delivery.proxy --listen PORT --control SOCKET`.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import queue
import signal
import socketserver
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
     "transfer-encoding", "upgrade"}
)  # fmt: skip


@dataclass
class BackendStats:
    requests: int = 0
    errors: int = 0
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=5000))

    def record(self) -> dict[str, Any]:
        ordered = sorted(self.latencies)
        p95 = ordered[int(0.95 * (len(ordered) - 1))] if ordered else 0.0
        return {"requests": self.requests, "errors": self.errors, "p95_ms": round(p95 * 1000, 2)}


SERIES_SECONDS = 6 * 3600
"""How much per-second history of client traffic the proxy keeps for `acb monitor`."""


@dataclass
class Second:
    requests: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)

    def p95_ms(self) -> float:
        ordered = sorted(self.latencies)
        return round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 2) if ordered else 0.0


class State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active: int | None = None
        self.shadow: int | None = None
        self.stats: dict[int, BackendStats] = {}
        self.processes: dict[int, subprocess.Popen[bytes]] = {}
        self.series: deque[tuple[int, Second]] = deque(maxlen=SERIES_SECONDS)

    def served(self, status: int, seconds: float) -> None:
        """One client request answered (by the active release): the monitor's time series."""
        now = int(time.time())
        with self.lock:
            if not self.series or self.series[-1][0] != now:
                self.series.append((now, Second()))
            second = self.series[-1][1]
            second.requests += 1
            second.errors += status >= 500
            if len(second.latencies) < 200:
                second.latencies.append(seconds)

    def note(self, port: int, seconds: float, failed: bool) -> None:
        with self.lock:
            stats = self.stats.setdefault(port, BackendStats())
            stats.requests += 1
            stats.errors += failed
            stats.latencies.append(seconds)


STATE = State()


def forward(port: int, method: str, path: str, headers: dict[str, str], body: bytes | None,
            timeout: float = 30.0) -> tuple[int, list[tuple[str, str]], bytes]:  # fmt: skip
    """One request to a backend; a connection failure is a 502, and counts as an error."""
    started = time.monotonic()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        payload = response.read()
        status, reply_headers = response.status, response.getheaders()
        connection.close()
    except OSError as error:
        STATE.note(port, time.monotonic() - started, True)
        return 502, [("Content-Type", "text/plain")], f"backend unreachable: {error}\n".encode()
    STATE.note(port, time.monotonic() - started, status >= 500)
    return status, reply_headers, payload


class ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        with STATE.lock:
            active, shadow = STATE.active, STATE.shadow
        if active is None:
            self._reply(503, [("Content-Type", "text/plain")], b"no release is active\n")
            return
        if shadow is not None and self.command in ("GET", "HEAD"):
            threading.Thread(
                target=forward, args=(shadow, self.command, self.path, headers, body), daemon=True
            ).start()
        started = time.monotonic()
        status, reply_headers, payload = forward(active, self.command, self.path, headers, body)
        STATE.served(status, time.monotonic() - started)
        self._reply(status, reply_headers, payload)

    def _reply(self, status: int, headers: list[tuple[str, str]], payload: bytes) -> None:
        self.send_response(status)
        for key, value in headers:
            if key.lower() not in HOP_BY_HOP and key.lower() != "content-length":
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle

    def log_message(self, format: str, *args: Any) -> None:  # the stdlib names it `format`
        """Counted in the stats instead of logged."""


class ControlHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        for raw in self.rfile:
            try:
                reply = control(json.loads(raw))
            except (ValueError, KeyError, TypeError, OSError) as error:
                reply = {"ok": False, "error": str(error)}
            self.wfile.write((json.dumps(reply) + "\n").encode())
            if reply.get("stopping"):
                threading.Thread(target=_shutdown, daemon=True).start()
                return


def control(message: dict[str, Any]) -> dict[str, Any]:
    op = message["op"]
    if op == "start":  # not under the lock: requests being proxied must not wait on a spawn
        return _start(message)
    if op == "stop-backend":  # nor on a release shutting down
        with STATE.lock:
            process = STATE.processes.pop(int(message["port"]), None)
        if process is not None:
            _terminate(process)
        return {"ok": True}
    with STATE.lock:
        if op == "status":
            return {"ok": True, "active": STATE.active, "shadow": STATE.shadow,
                    "running": sorted(p for p, proc in STATE.processes.items()
                                      if proc.poll() is None)}  # fmt: skip
        if op == "switch":
            STATE.active, STATE.shadow = int(message["port"]), None
            return {"ok": True, "active": STATE.active}
        if op == "shadow":
            STATE.shadow = message.get("port")
            return {"ok": True}
        if op == "stats":
            port = int(message["port"])
            STATE.stats.setdefault(port, BackendStats())
            record = STATE.stats[port].record()
            if message.get("reset"):
                STATE.stats[port] = BackendStats()
            return {"ok": True, **record}
        if op == "series":
            since = int(message.get("since", 0))
            return {"ok": True, "series": [[t, s.requests, s.errors, s.p95_ms()]
                                           for t, s in STATE.series if t >= since]}  # fmt: skip
        if op == "stop":
            return {"ok": True, "stopping": True}
    return {"ok": False, "error": f"unknown op {op!r}"}


def _start(message: dict[str, Any]) -> dict[str, Any]:
    reply: queue.Queue[subprocess.Popen[bytes] | OSError] = queue.Queue(maxsize=1)
    _SPAWN.put((message, reply))
    process = reply.get(timeout=30)
    if isinstance(process, OSError):
        raise process
    with STATE.lock:
        STATE.processes[int(message["port"])] = process
    return {"ok": True, "pid": process.pid}


_SPAWN: queue.Queue[tuple[dict[str, Any], queue.Queue[Any]]] = queue.Queue()


def _spawner() -> None:
    """Releases are started from this one long-lived thread: bubblewrap's --die-with-parent
    follows the thread that forked it, and the control socket's threads end with each call."""
    while True:
        message, reply = _SPAWN.get()
        log = Path(message["log"])
        try:
            log.parent.mkdir(parents=True, exist_ok=True)
            with log.open("ab") as sink:
                process = subprocess.Popen(
                    message["argv"], cwd=message["cwd"], env=message["env"], stdout=sink,
                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                )  # fmt: skip
            reply.put(process)
        except OSError as error:
            reply.put(error)


def _terminate(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=5)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    except PermissionError:
        process.kill()


_SERVERS: list[socketserver.BaseServer] = []


def _shutdown() -> None:
    with STATE.lock:
        for process in STATE.processes.values():
            _terminate(process)
        STATE.processes.clear()
    for server in _SERVERS:
        server.shutdown()


class ControlServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", type=int, required=True)
    parser.add_argument("--control", type=Path, required=True)
    args = parser.parse_args()
    args.control.unlink(missing_ok=True)
    proxy = ThreadingHTTPServer(("127.0.0.1", args.listen), ProxyHandler)
    proxy.daemon_threads = True
    controller = ControlServer(str(args.control), ControlHandler)
    args.control.chmod(0o600)
    _SERVERS.extend([proxy, controller])
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=_shutdown).start())
    threading.Thread(target=controller.serve_forever, daemon=True).start()
    threading.Thread(target=_spawner, daemon=True).start()
    try:
        proxy.serve_forever()
    finally:
        args.control.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
