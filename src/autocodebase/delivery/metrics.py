"""The numbers a deployment is judged on, computed one way wherever they are needed: the p95
latency (the proxy's per-backend stats, its per-second series for `acb monitor`, and the
verification probes) and the 5xx share of an app's own Prometheus request counter.

Standard library only at import time: the supervisor (`delivery.proxy`) imports this, and
`prometheus_client` is only loaded when an app's /metrics are actually read.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Collection, Mapping

REQUEST_COUNTER = "http_requests_total"
"""The counter read from an app's /metrics (the Prometheus naming convention)."""

_STATUS_LABEL = re.compile(r"(?:\w*_)?(?:status|code|status_?code)", re.IGNORECASE)
"""Label names that hold an HTTP status: `status` (prometheus_flask_exporter), `code`
(Go's promhttp), `status_code` (starlette-exporter), `http_status`,
`http_response_status_code` (OpenTelemetry), `statusCode`..."""

_SERVER_ERROR = re.compile(r"5(?:\d\d|xx)", re.IGNORECASE)
"""A 5xx status, also as the class prometheus-fastapi-instrumentator groups it into ("5xx")."""


def p95(seconds: Collection[float]) -> float:
    """The 95th percentile of the latencies measured, linear between the closest ranks
    (`statistics.quantiles(n=20, method="inclusive")`, numpy's default and Excel's
    PERCENTILE.INC): "inclusive" because these are every request of the window, not a sample
    of a larger population, so the result never leaves the range that was measured. Two
    requests, one slow, give a p95 near the slow one, not the fast one."""
    if len(seconds) < 2:  # quantiles() wants two points; one is its own percentile
        return float(next(iter(seconds), 0.0))
    return statistics.quantiles(seconds, n=20, method="inclusive")[-1]


def p95_ms(seconds: Collection[float]) -> float:
    """`p95` in milliseconds, rounded as the stats and the history show it."""
    return round(p95(seconds) * 1000, 2)


def request_counts(text: str) -> tuple[float, float] | None:
    """(requests, 5xx answers) from an app's Prometheus text exposition, or None when it has
    no request counter or cannot be parsed (an app's broken /metrics measure nothing; they do
    not fail a deployment on their own). Parsed by `prometheus_client`, so label values with
    braces, commas or escaped quotes and any label order are read as Prometheus reads them."""
    from prometheus_client.parser import text_string_to_metric_families

    found = False
    requests = errors = 0.0
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name != REQUEST_COUNTER or math.isnan(sample.value):
                    continue
                found = True
                requests += sample.value
                errors += sample.value if _server_error(sample.labels) else 0.0
    except ValueError:
        return None
    return (requests, errors) if found else None


def _server_error(labels: Mapping[str, str]) -> bool:
    """Whether any status label of a sample says 5xx, whatever the app calls that label."""
    return any(
        _STATUS_LABEL.fullmatch(name) and _SERVER_ERROR.fullmatch(value.strip())
        for name, value in labels.items()
    )
