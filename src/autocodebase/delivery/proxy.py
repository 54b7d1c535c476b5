"""The local deployment's front door and supervisor, one long-lived process per project:

- a reverse proxy on a loopback port that sends each request to the active release, so a
  switch between releases is one assignment and no request is dropped; HTTP/1.1 to clients
  (kept-alive connections, sized and chunked bodies, streamed answers; request framing in
  `delivery.framing`), one connection per request to the release;
- a shadow: while a new release is being verified, GET/HEAD requests are also replayed to it
  (its answers are measured, never returned), so a release whose error rate jumps is caught on
  real traffic before any client sees it;
- per-backend counts, errors and latencies, and the per-second series of client traffic
  `acb monitor` reads, kept on disk for six hours (`delivery.series`) so it outlives this
  process;
- the release processes themselves, started and stopped on request (they die with it).

Control: JSON lines over a unix socket in a private directory outside the workspace
(`delivery.control`): each connection is checked (our user, not in a sandbox) and each request
carries the token. A release is started by its id only; the command comes from the project's
deploy config, and runs in the sandbox (`delivery.release`).
Run as `python -I -m autocodebase.delivery.proxy --listen PORT --control DIR --root ROOT
--env ENV`.
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
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import IOBase
from pathlib import Path
from tempfile import SpooledTemporaryFile
from typing import Any

from autocodebase.delivery.control import (
    SOCKET_NAME,
    TOKEN_NAME,
    peer_problem,
    read_token,
    token_matches,
)
from autocodebase.delivery.framing import (
    PIECE,
    Body,
    RequestError,
    end_to_end,
    forwarded_headers,
    request_body,
)
from autocodebase.delivery.metrics import p95_ms
from autocodebase.delivery.series import (
    SERIES_SECONDS,
    Row,
    append_series,
    read_series,
    rewrite_series,
)
from autocodebase.errors import UsageError


@dataclass
class BackendStats:
    requests: int = 0
    errors: int = 0
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=5000))

    def record(self) -> dict[str, Any]:
        return {"requests": self.requests, "errors": self.errors, "p95_ms": p95_ms(self.latencies)}


@dataclass
class Second:
    requests: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    recorded_p95_ms: float | None = None
    """Set for a second read back from the record on disk, which keeps its p95, not the
    latencies it came from."""

    def p95_ms(self) -> float:
        if self.recorded_p95_ms is not None:
            return self.recorded_p95_ms
        return p95_ms(self.latencies)


class State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active: int | None = None
        self.shadow: int | None = None
        self.stats: dict[int, BackendStats] = {}
        self.processes: dict[int, subprocess.Popen[bytes]] = {}
        self.series: deque[tuple[int, Second]] = deque(maxlen=SERIES_SECONDS)
        self.recorded_until = 0
        """The seconds before this one are in the record on disk."""

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

    def unrecorded(self, until: int) -> list[Row]:
        """The seconds before `until` not yet on disk, counted as recorded from now on."""
        with self.lock:
            rows = [
                (second, counts.requests, counts.errors, counts.p95_ms())
                for second, counts in self.series
                if self.recorded_until <= second < until
            ]
            self.recorded_until = max(self.recorded_until, until)
        return rows

    def recorded(self, since: int) -> list[Row]:
        """The seconds already on disk from `since` on: what a rewrite of the record keeps."""
        with self.lock:
            return [
                (second, counts.requests, counts.errors, counts.p95_ms())
                for second, counts in self.series
                if since <= second < self.recorded_until
            ]

    def note(self, port: int, seconds: float, failed: bool) -> None:
        with self.lock:
            stats = self.stats.setdefault(port, BackendStats())
            stats.requests += 1
            stats.errors += failed
            stats.latencies.append(seconds)


STATE = State()


BACKEND_TIMEOUT = 30.0
"""How long a release may take to accept a request or send the next part of its answer."""


def mirror(port: int, method: str, path: str, headers: dict[str, str], body: bytes | None) -> None:
    """Replay one request to the release being verified; its answer is measured, never
    returned. Runs in its own thread."""
    started, status = time.monotonic(), 0
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=BACKEND_TIMEOUT)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        status = response.status
    except (OSError, http.client.HTTPException):
        status = 502
    finally:
        connection.close()
        STATE.note(port, time.monotonic() - started, status >= 500)


class ProxyHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 to the client (kept-alive connections, chunked or sized bodies both ways),
    one connection per request to the release. Errors the proxy answers itself close the
    connection, since part of the client's body may be unread."""

    protocol_version = "HTTP/1.1"
    timeout = 120  # an idle or stalled client gives its thread back

    def _handle(self) -> None:
        body: Body = None
        try:
            with STATE.lock:
                active, shadow = STATE.active, STATE.shadow
            if active is None:
                raise RequestError(HTTPStatus.SERVICE_UNAVAILABLE, "no release is active")
            length, body = request_body(self.headers, self.rfile)
            headers = forwarded_headers(self.headers, length)
            if shadow is not None and self.command in ("GET", "HEAD"):
                whole = _whole(body)  # both get it; GET/HEAD bodies are rare and small
                args = (shadow, self.command, self.path, headers, whole)
                threading.Thread(target=mirror, args=args, daemon=True).start()
                self._forward(active, headers, whole)
            else:
                self._forward(active, headers, body)
        except RequestError as error:
            self._refuse(error.status, error.reason)
        except OSError:  # the client went away mid-request or mid-answer: nothing to tell it
            self.close_connection = True
        finally:
            if isinstance(body, IOBase | SpooledTemporaryFile):
                body.close()  # a spooled chunked body

    def _forward(self, port: int, headers: dict[str, str], body: Body | bytes) -> None:
        """Send the request to the release and relay its answer; a release that cannot be
        reached or answers nothing is a 502, one that takes too long a 504."""
        started, status = time.monotonic(), 0  # stays 0 when the client's body fails
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=BACKEND_TIMEOUT)
        try:
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            status = response.status
        except TimeoutError:
            status = HTTPStatus.GATEWAY_TIMEOUT
            raise RequestError(status, "the release did not answer in time") from None
        except (OSError, http.client.HTTPException) as error:
            status = HTTPStatus.BAD_GATEWAY
            raise RequestError(status, f"release unreachable: {error}") from None
        else:
            self._relay(response)
        finally:
            connection.close()
            if status:
                seconds = time.monotonic() - started
                STATE.note(port, seconds, status >= 500)
                STATE.served(status, seconds)

    def _relay(self, response: http.client.HTTPResponse) -> None:
        """The release's answer, streamed: sized as the release sized it, else chunked (or,
        to an HTTP/1.0 client, ended by closing the connection)."""
        bodiless = self.command == "HEAD" or response.status in (204, 304) or response.status < 200
        sized = bodiless or (response.length is not None and not response.chunked)
        self.send_response_only(response.status, response.reason)
        for key, value in end_to_end(response.getheaders()):
            if sized or key.lower() != "content-length":
                self.send_header(key, value)
        chunked = not sized and self.request_version == "HTTP/1.1"
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        elif not sized:
            self.send_header("Connection", "close")  # its end is where the connection ends
        self.end_headers()
        if not bodiless:
            self._copy(response, chunked)

    def _copy(self, response: http.client.HTTPResponse, chunked: bool) -> None:
        """A release that breaks off mid-answer leaves the client a cut answer and a closed
        connection: the status line is already sent."""
        try:
            while piece := response.read1(PIECE):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
        except (OSError, http.client.HTTPException):
            self.close_connection = True
            return
        if chunked:
            self.wfile.write(b"0\r\n\r\n")

    def _refuse(self, status: HTTPStatus, reason: str) -> None:
        """The proxy's own answer; the connection closes after it (the client may be gone)."""
        payload = f"{reason}\n".encode()
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle

    def log_message(self, format: str, *args: Any) -> None:  # the stdlib names it `format`
        """Counted in the stats instead of logged."""


def _whole(body: Body) -> bytes | None:
    if body is None:
        return None
    return body.read() if isinstance(body, IOBase | SpooledTemporaryFile) else b"".join(body)


@dataclass(frozen=True)
class Supervision:
    """What this supervisor serves, fixed when it starts."""

    root: Path
    env: str
    control: Path
    token: str
    unsandboxed: bool = False
    """Releases may run without bubblewrap (the user's `sandbox_fallback = "none"`)."""


SUPERVISION: list[Supervision] = []


class ControlHandler(socketserver.StreamRequestHandler):
    """The peer is checked once, before anything it sends is acted on; then every request
    must carry the token."""

    def handle(self) -> None:
        problem = peer_problem(self.request)
        if problem is not None:
            # Its first line is read and dropped, so it gets the answer rather than a reset.
            self.request.settimeout(2)
            with contextlib.suppress(OSError):
                self.rfile.readline(65536)
                self._send({"ok": False, "error": f"refused: {problem}"})
            return
        token = SUPERVISION[0].token
        for raw in self.rfile:
            try:
                message = json.loads(raw)
                if not isinstance(message, dict) or not token_matches(token, message.get("token")):
                    self._send({"ok": False, "error": "refused: no valid token"})
                    return
                reply = control(message)
            except (UsageError, ValueError, KeyError, TypeError, OSError, queue.Empty) as error:
                reply = {"ok": False, "error": str(error)}
            self._send(reply)
            if reply.get("stopping"):
                threading.Thread(target=_shutdown, daemon=True).start()
                return

    def _send(self, reply: dict[str, Any]) -> None:
        self.wfile.write((json.dumps(reply) + "\n").encode())


def _running(port: object) -> int:
    """A port this supervisor started a release on: traffic is only ever sent to those."""
    with STATE.lock:
        if not isinstance(port, int) or port not in STATE.processes:
            raise ValueError(f"no release of ours listens on {port!r}")
    return port


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
    if op in ("switch", "shadow") and message.get("port") is not None:
        _running(message["port"])
    with STATE.lock:
        if op == "status":
            running = sorted(p for p, proc in STATE.processes.items() if proc.poll() is None)
            return {"ok": True, "active": STATE.active, "shadow": STATE.shadow, "running": running}
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
            since = max(int(message.get("since", 0)), int(time.time()) - SERIES_SECONDS)
            series = [[t, s.requests, s.errors, s.p95_ms()] for t, s in STATE.series if t >= since]
            return {"ok": True, "series": series}
        if op == "stop":
            return {"ok": True, "stopping": True}
    return {"ok": False, "error": f"unknown op {op!r}"}


@dataclass(frozen=True)
class Launch:
    """A release to start, everything derived here from its id and the project's config."""

    port: int
    argv: list[str]
    cwd: Path
    env: dict[str, str]
    log: int


def _launch(sha: object) -> Launch:
    """The only way from a request to a process: the id must name a release acb built, and
    the command is the deploy config's, wrapped in the sandbox."""
    from autocodebase.delivery.local import free_port, load_config
    from autocodebase.delivery.release import (
        built_release,
        open_log,
        release_argv,
        release_environment,
    )

    served = SUPERVISION[0]
    release = built_release(served.root, sha)
    config = load_config(served.root, served.env)
    port = free_port()
    env = release_environment(release, port, config.secrets)
    argv = release_argv(config.command, release, port, env, served.unsandboxed)
    log = served.root / ".acb" / "deploy" / served.env / "logs" / f"{release.name}.log"
    return Launch(port, argv, release, env, open_log(served.root, log))


def _start(message: dict[str, Any]) -> dict[str, Any]:
    launch = _launch(message.get("release"))
    reply: queue.Queue[subprocess.Popen[bytes] | OSError] = queue.Queue(maxsize=1)
    _SPAWN.put((launch, reply))
    process = reply.get(timeout=30)
    if isinstance(process, OSError):
        raise process
    with STATE.lock:
        STATE.processes[launch.port] = process
    return {"ok": True, "pid": process.pid, "port": launch.port}


_SPAWN: queue.Queue[tuple[Launch, queue.Queue[Any]]] = queue.Queue()


def _spawner() -> None:
    """Releases are started from this one long-lived thread: bubblewrap's --die-with-parent
    follows the thread that forked it, and the control socket's threads end with each call."""
    while True:
        launch, reply = _SPAWN.get()
        try:
            process = subprocess.Popen(
                launch.argv,
                cwd=launch.cwd,
                env=launch.env,
                stdout=launch.log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            reply.put(process)
        except OSError as error:
            reply.put(error)
        finally:
            os.close(launch.log)


def _terminate(process: subprocess.Popen[bytes]) -> None:
    """End a release and every process under it. bubblewrap's --die-with-parent is not
    enough on its own: a release stopped in the first milliseconds of its life (a start
    followed at once by a stop) can lose its outer bwrap before the inner one has asked to die
    with it, and that inner one, in a session of its own, then serves on forever, reparented
    to init. So the whole tree is frozen (SIGSTOP: nothing in it can start another process),
    collected, and killed; the app was only ever ended by SIGKILL (the death signal) anyway."""
    tree = _frozen_tree(process.pid)
    for pid in tree:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)
    _wait_gone(tree)


def _wait_gone(pids: list[int], timeout_s: float = 5.0) -> None:
    """Until every process of the tree has exited (a zombie waiting for init counts): a killed
    process serves until the kernel has torn it down, which on a loaded machine is not at
    once, and "stopped" must mean that nothing answers on its port any more."""
    deadline = time.monotonic() + timeout_s
    left = list(pids)
    while left and time.monotonic() < deadline:
        left = [
            pid for pid in left if (stat := _proc_stat(pid)) is not None and stat[0] not in "ZX"
        ]
        if left:
            time.sleep(0.01)


def _frozen_tree(root: int) -> list[int]:
    """`root` and its descendants, each stopped before its children are looked up, so the
    list cannot miss a process forked meanwhile."""
    tree: list[int] = []
    frontier = [root]
    while frontier:
        for pid in frontier:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGSTOP)
        for pid in frontier:
            _wait_stopped(pid)
        tree += frontier
        parents = set(frontier)
        frontier = [pid for pid, parent in _parents().items() if parent in parents]
        frontier = [pid for pid in frontier if pid not in tree]
    return tree


def _alive(pid: int) -> bool:
    """Running, sleeping or stopped; not gone, not a zombie."""
    stat = _proc_stat(pid)
    return stat is not None and stat[0] not in "ZX"


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) from /proc/PID/stat, or None when the process is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()  # the name, in parentheses, may hold spaces
    return fields[0], int(fields[1])


def _parents() -> dict[int, int]:
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _proc_stat(int(entry.name))) is not None:
            found[int(entry.name)] = stat[1]
    return found


def _wait_stopped(pid: int, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        stat = _proc_stat(pid)
        if stat is None or stat[0] in "TtZX":
            return
        time.sleep(0.005)


_SERVERS: list[socketserver.BaseServer] = []
_RECORDING = threading.Lock()
"""One writer of the record on disk at a time (the keeper thread, the last flush at exit)."""


def _load_series(served: Supervision) -> None:
    """Carry on the record an earlier supervisor of this environment left (its last six
    hours), and rewrite it without anything older."""
    rows = read_series(served.root, served.env)
    with STATE.lock:
        for second, requests, errors, p95 in rows:
            STATE.series.append((second, Second(requests, errors, recorded_p95_ms=p95)))
        STATE.recorded_until = rows[-1][0] + 1 if rows else 0
    try:
        with _RECORDING:
            rewrite_series(served.root, served.env, rows)
    except (OSError, UsageError) as error:
        print(f"acb supervisor: the traffic record was not rewritten: {error}", flush=True)


def _record_series(served: Supervision, until: int, compact: bool = False) -> None:
    """Append the seconds before `until` to the record; with `compact`, rewrite it without
    the seconds older than six hours. A failed write is logged, never fatal: the proxy keeps
    serving."""
    try:
        with _RECORDING:
            append_series(served.root, served.env, STATE.unrecorded(until))
            if compact:
                oldest = int(time.time()) - SERIES_SECONDS
                rewrite_series(served.root, served.env, STATE.recorded(oldest))
    except (OSError, UsageError) as error:
        print(f"acb supervisor: the traffic record was not written: {error}", flush=True)


def _series_keeper(served: Supervision) -> None:
    """Every second, the seconds that are over go to disk; every hour the record is
    rewritten without what is older than six hours, so it neither grows nor is lost."""
    compacted = time.monotonic()
    while True:
        time.sleep(1)
        compact = time.monotonic() - compacted > 3600
        _record_series(served, int(time.time()), compact)
        compacted = time.monotonic() if compact else compacted


def _stop_releases() -> None:
    with STATE.lock:
        for process in STATE.processes.values():
            _terminate(process)
        STATE.processes.clear()


def _shutdown() -> None:
    _stop_releases()
    for server in _SERVERS:
        server.shutdown()


class ControlServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", type=int, required=True)
    parser.add_argument("--control", type=Path, required=True, help="the private directory")
    parser.add_argument("--root", type=Path, required=True, help="the workspace")
    parser.add_argument("--env", default="default")
    parser.add_argument("--unsandboxed", action="store_true")
    args = parser.parse_args()
    token = read_token(args.control)
    if not token:
        parser.error(f"no token in {args.control}")
    SUPERVISION.append(
        Supervision(
            root=args.root.resolve(),
            env=args.env,
            control=args.control,
            token=token,
            unsandboxed=args.unsandboxed,
        )
    )
    socket_path = args.control / SOCKET_NAME
    socket_path.unlink(missing_ok=True)
    proxy = ThreadingHTTPServer(("127.0.0.1", args.listen), ProxyHandler)
    proxy.daemon_threads = True
    controller = ControlServer(str(socket_path), ControlHandler)
    socket_path.chmod(0o600)
    _SERVERS.extend([proxy, controller])
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=_shutdown).start())
    served = SUPERVISION[0]
    _load_series(served)  # before the first `series` request is answered
    threading.Thread(target=controller.serve_forever, daemon=True).start()
    threading.Thread(target=_spawner, daemon=True).start()
    threading.Thread(target=_series_keeper, args=(served,), daemon=True).start()
    try:
        proxy.serve_forever()
    finally:
        _stop_releases()  # also when the proxy failed: no release outlives its supervisor
        _record_series(served, int(time.time()) + 1)  # the current second too: nothing follows
        _tidy(args.control, token)


def _tidy(control: Path, token: str) -> None:
    """Leave no socket, token or empty directory behind (unless a successor already took
    the directory over with its own token)."""
    if read_token(control) != token:
        return
    (control / SOCKET_NAME).unlink(missing_ok=True)
    (control / TOKEN_NAME).unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        control.rmdir()


if __name__ == "__main__":
    main()
