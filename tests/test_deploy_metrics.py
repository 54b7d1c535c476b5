"""What `acb deploy` and `acb monitor` measure: the 5xx share of an app's own Prometheus
request counter (read over HTTP from a real server, whatever the app calls its status label)
and the p95 latency the proxy and the probes report."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from autocodebase.delivery.local import app_metrics
from autocodebase.delivery.proxy import BackendStats, Second


class MetricsApp(BaseHTTPRequestHandler):
    """Serves whatever Prometheus text the test sets on the server."""

    def do_GET(self) -> None:
        body = self.server.metrics_text.encode()  # type: ignore[attr-defined]
        self.send_response(200 if self.path == "/metrics" else 404)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def app() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), MetricsApp)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def serve(app: ThreadingHTTPServer, text: str) -> int:
    app.metrics_text = text  # type: ignore[attr-defined]
    return int(app.server_address[1])


@pytest.mark.parametrize(
    "label",
    ["status", "code", "status_code", "http_status", "http_response_status_code", "statusCode"],
)
def test_the_5xx_share_is_read_whatever_the_status_label_is_called(
    app: ThreadingHTTPServer, label: str
) -> None:
    port = serve(
        app,
        "# HELP http_requests_total Requests.\n"
        "# TYPE http_requests_total counter\n"
        f'http_requests_total{{method="GET",{label}="200",path="/"}} 6\n'
        f'http_requests_total{{method="GET",{label}="503",path="/"}} 1\n'
        f'http_requests_total{{method="POST",{label}="500",path="/a"}} 1\n'
        f'http_requests_created{{method="GET",{label}="200",path="/"}} 1.7e+09\n',
    )
    assert app_metrics(port) == {"app_requests": 8, "app_error_rate": 0.25}


def test_grouped_status_classes_and_odd_label_values_are_read(app: ThreadingHTTPServer) -> None:
    """prometheus-fastapi-instrumentator groups codes as "5xx"; a label value may hold `}`,
    commas and escaped quotes; values may be written in exponent form; no TYPE line."""
    port = serve(
        app,
        'http_requests_total{handler="/a}b,c=\\"d\\"",status="2xx"} 1.5e+01\n'
        'http_requests_total{handler="/",status="5xx"} 5\n'
        'http_requests_total{handler="/",status="404"} 0\n',
    )
    assert app_metrics(port) == {"app_requests": 20, "app_error_rate": 0.25}


def test_other_metrics_and_unlabelled_totals(app: ThreadingHTTPServer) -> None:
    port = serve(
        app,
        "# TYPE http_requests_total counter\n"
        "http_requests_total 4\n"
        "# TYPE http_request_duration_seconds histogram\n"
        'http_request_duration_seconds_bucket{le="+Inf",status="500"} 99\n'
        "http_request_duration_seconds_count 99\n"
        "http_request_duration_seconds_sum 3.5\n",
    )
    assert app_metrics(port) == {"app_requests": 4, "app_error_rate": 0.0}


def test_unreadable_or_absent_metrics_measure_nothing(app: ThreadingHTTPServer) -> None:
    assert app_metrics(serve(app, "http_requests_total{status=500 oops\n")) == {}
    assert app_metrics(serve(app, "")) == {}


def p95_of(latencies: list[float]) -> tuple[float, float]:
    """The p95 (ms) the proxy reports for a backend and for one second of client traffic."""
    stats = BackendStats()
    stats.latencies.extend(latencies)
    second = Second(latencies=list(latencies))
    return stats.record()["p95_ms"], second.p95_ms()


def test_p95_of_few_requests_is_not_the_fast_one() -> None:
    """Two requests, one took 5 s: the hand copies picked index int(0.95 * 1) = 0, 10 ms."""
    assert p95_of([0.010, 5.0]) == (4750.5, 4750.5)


def test_p95_interpolates_between_the_closest_ranks() -> None:
    """statistics.quantiles(method="inclusive"): the 95th percentile of the requests measured,
    linear between closest ranks (numpy's default, Excel's PERCENTILE.INC)."""
    assert p95_of([i / 1000 for i in range(1, 101)]) == (95.05, 95.05)
    assert p95_of([0.25]) == (250.0, 250.0)
    assert p95_of([]) == (0.0, 0.0)
