"""wordstats over HTTP: `GET /count?text=...` answers the word count as JSON; `/healthz` says
whether the service is up; `/metrics` exposes request counts and latencies in the Prometheus
text format. Standard library only (a WSGI app served by wsgiref).

Run it with `python -m wordstats.service --port 8000`.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, make_server

from wordstats.core import word_count

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class Metrics:
    """Request counts by path and status, and a latency histogram, safe across threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: dict[tuple[str, str], int] = {}
        self.buckets = [0] * len(BUCKETS)
        self.total = 0
        self.seconds = 0.0

    def observe(self, path: str, status: str, seconds: float) -> None:
        with self.lock:
            key = (path, status.split()[0])
            self.requests[key] = self.requests.get(key, 0) + 1
            self.total += 1
            self.seconds += seconds
            for index, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    self.buckets[index] += 1

    def render(self) -> str:
        with self.lock:
            lines = ["# TYPE http_requests_total counter"]
            lines += [
                f'http_requests_total{{path="{path}",status="{status}"}} {count}'
                for (path, status), count in sorted(self.requests.items())
            ]
            lines.append("# TYPE http_request_duration_seconds histogram")
            lines += [
                f'http_request_duration_seconds_bucket{{le="{bound}"}} {count}'
                for bound, count in zip(BUCKETS, self.buckets, strict=True)
            ]
            lines.append(f'http_request_duration_seconds_bucket{{le="+Inf"}} {self.total}')
            lines.append(f"http_request_duration_seconds_sum {self.seconds}")
            lines.append(f"http_request_duration_seconds_count {self.total}")
        return "\n".join(lines) + "\n"


METRICS = Metrics()


def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    started = time.monotonic()
    path = environ.get("PATH_INFO", "/")
    status, content_type, body = route(path, environ.get("QUERY_STRING", ""))
    if path != "/metrics":
        METRICS.observe(path, status, time.monotonic() - started)
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]


def route(path: str, query: str) -> tuple[str, str, bytes]:
    if path == "/healthz":
        return "200 OK", "text/plain", b"ok\n"
    if path == "/metrics":
        return "200 OK", "text/plain; version=0.0.4", METRICS.render().encode()
    if path == "/count":
        text = parse_qs(query).get("text", [""])[0]
        return "200 OK", "application/json", json.dumps({"words": word_count(text)}).encode()
    return "404 Not Found", "text/plain", b"not found\n"


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # the stdlib names it `format`
        """Access logs would drown the supervisor's output; /metrics has the numbers."""


def main() -> None:
    parser = argparse.ArgumentParser(description="wordstats over HTTP")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    with make_server(args.host, args.port, app, handler_class=QuietHandler) as server:
        server.serve_forever()


if __name__ == "__main__":
    main()
