"""`acb monitor`: the live deployment's traffic over a window (from the proxy's per-second
series), the app's own /metrics, and the release history, as a summary with small terminal
charts; anomalies (error rate or p95 latency over the deploy limits) are tied to the release
that went live before them. With a model, a plain-language diagnosis is added; without one the
diagnosis is the rule-based one, and says so.

After `acb deploy --stop` the traffic is read from the record the supervisor kept on disk
(`delivery.series`, six hours), and the report says the deployment is stopped.

Two request counts are shown and they differ on purpose: the window's requests are the
client requests the proxy served in that window; the app's /metrics count every request the
live release answered since it started, including its health checks and acb's own probes
during verification. Both are labelled so where they are rendered.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from autocodebase.delivery.local import (
    DeployConfig,
    DeployError,
    Supervisor,
    app_metrics,
    history,
)
from autocodebase.delivery.series import read_series
from autocodebase.models.base import Message, Model, Usage
from autocodebase.models.retry import RetryPolicy, call_with_retries
from autocodebase.quality.model_text import strip_thinking

BARS = "▁▂▃▄▅▆▇█"
_DURATION = re.compile(r"^(\d+)([smhd]?)$")


def parse_window(text: str) -> int:
    """ "15m", "90s", "2h", "1d" or plain seconds."""
    match = _DURATION.match(text.strip())
    if not match:
        raise ValueError(f"not a duration: {text!r} (try 15m, 90s, 2h)")
    return int(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]


@dataclass
class Bucket:
    start: int
    requests: int = 0
    errors: int = 0
    p95_ms: float = 0.0

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


@dataclass
class Anomaly:
    start: int
    end: int
    what: str
    release: dict[str, Any] | None


@dataclass
class Report:
    window_s: int
    buckets: list[Bucket] = field(default_factory=list)
    requests: int = 0
    errors: int = 0
    p95_ms: float = 0.0
    releases: list[dict[str, Any]] = field(default_factory=list)
    anomalies: list[Anomaly] = field(default_factory=list)
    app: dict[str, Any] = field(default_factory=dict)
    diagnosis: str = ""
    diagnosis_by: str = "rules"
    usage: Usage = field(default_factory=Usage)
    running: bool = True
    """False after `acb deploy --stop`: the window comes from the record kept on disk."""
    stopped_at: str = ""
    """When the deployment was stopped (the history's `stopped` entry), if it is."""


def gather(sup: Supervisor, config: DeployConfig, window_s: int, columns: int = 48) -> Report:
    now = int(time.time())
    since = now - window_s
    report = Report(window_s, running=sup.alive())
    series: list[Any] = []
    if report.running:
        try:
            series = sup.call("series", since=since)["series"]
        except (OSError, ValueError, DeployError):  # stopped while we asked
            report.running = False
    if not report.running:
        series = [list(row) for row in read_series(sup.root, config.env, since)]
    width = max(1, window_s // columns)
    columns = -(-window_s // width)
    report.buckets = [Bucket(since + i * width) for i in range(columns)]
    for second, requests, errors, p95 in series:
        index = min((second - since) // width, columns - 1)
        bucket = report.buckets[index]
        bucket.requests += requests
        bucket.errors += errors
        bucket.p95_ms = max(bucket.p95_ms, p95)
    report.requests = sum(b.requests for b in report.buckets)
    report.errors = sum(b.errors for b in report.buckets)
    report.p95_ms = max((b.p95_ms for b in report.buckets), default=0.0)
    releases = history(sup.root, config)
    report.releases = [r for r in releases if _epoch(r["at"]) >= since - 1]
    if report.running:
        state = sup.call("status")
        if state.get("active"):
            report.app = app_metrics(int(state["active"]))
    else:
        stops = [r for r in releases if r["outcome"] == "stopped"]
        report.stopped_at = stops[-1]["at"] if stops else ""
    report.anomalies = find_anomalies(report.buckets, config, releases, series)
    report.diagnosis = rule_diagnosis(report)
    return report


def _epoch(stamp: str) -> int:
    return int(datetime.fromisoformat(stamp).timestamp())


def find_anomalies(
    buckets: list[Bucket],
    config: DeployConfig,
    releases: list[dict[str, Any]],
    series: Sequence[Any] = (),
) -> list[Anomaly]:
    """Runs of buckets over the limits, each with the release it is blamed on (`_blamed`)."""
    found: list[Anomaly] = []
    live = [r for r in releases if r["outcome"] == "live"]
    for bucket in buckets:
        reasons = []
        if bucket.requests and bucket.error_rate > config.max_error_rate:
            reasons.append(f"error rate {bucket.error_rate:.0%}")
        if bucket.p95_ms > config.max_p95_ms:
            reasons.append(f"p95 {bucket.p95_ms:.0f} ms")
        if not reasons:
            continue
        what = ", ".join(reasons)
        end = bucket.start + _width(buckets)
        if found and found[-1].end == bucket.start:
            found[-1].end = end
            found[-1].what = _worse(found[-1].what, what)
            continue
        release = _blamed(live, bucket.start, end, series, config.max_p95_ms)
        found.append(Anomaly(start=bucket.start, end=end, what=what, release=release))
    return found


def _blamed(
    live: list[dict[str, Any]], start: int, end: int, series: Sequence[Any], max_p95_ms: float
) -> dict[str, Any] | None:
    """The release that served the bucket's bad seconds: each second's errors (and each second
    over the latency limit) count for the release live then, and the most counted is blamed.
    A wide bucket (`--window 10m`) can hold a bad release and the rollback after it; blaming
    the last release live in it named the rollback. Without seconds to count: the last
    release live before the bucket's end."""
    went_live = [_epoch(r["at"]) for r in live]  # parsed once, not once per second
    votes: dict[int, float] = {}
    for second, _requests, errors, p95 in series:
        if not start <= second < end:
            continue
        weight = errors + (1 if p95 > max_p95_ms else 0)
        serving = _last_live(went_live, second)
        if weight and serving >= 0:
            votes[serving] = votes.get(serving, 0) + weight
    if votes:
        return live[max(votes, key=lambda i: (votes[i], i))]
    before = _last_live(went_live, end)
    return live[before] if before >= 0 else None


def _last_live(went_live: list[int], at: int) -> int:
    """The index of the last release in the history that had gone live by `at` (-1: none)."""
    return max((i for i, when in enumerate(went_live) if when <= at), default=-1)


def _width(buckets: list[Bucket]) -> int:
    return buckets[1].start - buckets[0].start if len(buckets) > 1 else 1


def _worse(a: str, b: str) -> str:
    def rate(text: str) -> int:
        match = re.search(r"error rate (\d+)%", text)
        return int(match.group(1)) if match else 0

    return a if rate(a) >= rate(b) else b


def rule_diagnosis(report: Report) -> str:
    if not report.requests:
        stopped = "" if report.running else " (the deployment is stopped)"
        return f"no client traffic through the proxy in this window{stopped}"
    if not report.anomalies:
        return (
            f"healthy: {report.errors} errors in {report.requests} requests, "
            f"p95 at most {report.p95_ms:.0f} ms"
        )
    lines = []
    for anomaly in report.anomalies:
        when = _clock(anomaly.start)
        release = anomaly.release
        if release is None:
            lines.append(f"{anomaly.what} from {when}; no release went live before it here")
            continue
        after = anomaly.start - _epoch(release["at"])
        lines.append(
            f"{anomaly.what} from {when}, {max(after, 0)} s after release {release['sha'][:12]} "
            f"went live: likely caused by it"
        )
    return "\n".join(lines)


def model_diagnosis(model: Model, report: Report, retry: RetryPolicy | None = None) -> None:
    prompt = (
        "A web service's traffic and releases over the last "
        f"{report.window_s} s follow. Say in plain language, in at most five sentences, whether "
        "anything is wrong, when it started, which release most likely caused it and why, and "
        "what to do. Do not invent data.\n\n" + render(report, charts=False)
    )
    messages = [Message("system", "You are an on-call engineer."), Message("user", prompt)]
    # A 429 or a cut stream is retried as the agent loop retries it.
    response = call_with_retries(lambda: model.complete(messages, []), retry or RetryPolicy())
    report.diagnosis = strip_thinking(response.message.content).strip()
    report.diagnosis_by = "model"
    report.usage = report.usage + response.usage


def sparkline(values: list[float]) -> str:
    top = max(values, default=0)
    if top <= 0:
        return BARS[0] * len(values)
    return "".join(BARS[min(int(v / top * (len(BARS) - 1) + 0.5), len(BARS) - 1)] for v in values)


def _clock(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%H:%M:%S")


def render(report: Report, charts: bool = True) -> str:
    rate = report.errors / report.requests if report.requests else 0.0
    lines = []
    if not report.running:
        when = f" since {_clock(_epoch(report.stopped_at))} UTC" if report.stopped_at else ""
        lines.append(
            f"the deployment is stopped{when}: the traffic it served until then (kept six hours)"
        )
    lines.append(
        f"window: last {report.window_s} s; requests {report.requests} through the proxy, "
        f"errors {report.errors} ({rate:.1%}), p95 up to {report.p95_ms:.0f} ms"
    )
    if report.buckets and charts:
        start = _clock(report.buckets[0].start)
        end = _clock(report.buckets[-1].start + _width(report.buckets))
        lines += [
            f"requests {sparkline([b.requests for b in report.buckets])}",
            f"errors   {sparkline([b.errors for b in report.buckets])}",
            f"p95      {sparkline([b.p95_ms for b in report.buckets])}",
            f"         {start}{' ' * max(1, len(report.buckets) - 16)}{end} UTC",
        ]
    if report.app:
        lines.append(
            f"app /metrics: {report.app.get('app_requests', 0)} requests since it started "
            f"(health checks and acb's probes included), "
            f"{report.app.get('app_error_rate', 0.0):.1%} 5xx"
        )
    for release in report.releases:
        reason = f" ({release['reason']})" if release.get("reason") else ""
        at = _clock(_epoch(release["at"]))
        lines.append(f"release {at} {release['sha'][:12]} {release['outcome']}{reason}")
    lines.append(f"diagnosis ({report.diagnosis_by}): {report.diagnosis}")
    if any(anomaly.release is not None for anomaly in report.anomalies):
        # Advice for the person reading `acb monitor`, kept out of the diagnosis: autopilot
        # quotes that in a fix task after it has rolled back itself.
        lines.append("(acb deploy --rollback puts the previous release back)")
    return "\n".join(lines) + "\n"
