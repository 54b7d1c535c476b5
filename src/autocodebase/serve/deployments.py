"""The deployments page's data: each deployed workspace's releases from the ledger, and the
traffic its proxy recorded (requests, errors, p95 per minute) with the releases marked on it.

The traffic record lies in the workspace (`delivery.series`, six hours, read defensively: a
line that is not four numbers is skipped), so the page shows what `acb monitor` would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autocodebase.delivery.series import SERIES_FILE, read_series

BUCKET_S = 60
MIN_SPAN_S = 15 * 60


@dataclass
class Deployment:
    workspace: str
    environment: str
    releases: list[dict[str, Any]]
    chart: dict[str, list[float | None]] = field(default_factory=dict)
    """x (epoch seconds), requests, errors, p95_ms per minute; empty when nothing was recorded."""
    markers: list[dict[str, Any]] = field(default_factory=list)
    """Releases on the chart: at (epoch seconds), sha, outcome."""
    span: list[float] = field(default_factory=list)
    """The x range shown: the record and its releases, at least `MIN_SPAN_S` wide."""


def environments_of(workspace: Path) -> list[str]:
    """The deploy environments with a traffic record in `workspace`."""
    root = workspace / ".acb" / "deploy"
    try:
        return sorted(p.name for p in root.iterdir() if (p / SERIES_FILE).is_file())
    except OSError:
        return []


def bucketed(rows: list[tuple[int, int, int, float]]) -> dict[str, list[float | None]]:
    """Per-second rows summed into minutes (p95: the worst second's), gaps left empty."""
    if not rows:
        return {}
    first = rows[0][0] // BUCKET_S * BUCKET_S
    last = rows[-1][0] // BUCKET_S * BUCKET_S
    count = (last - first) // BUCKET_S + 1
    requests = [0.0] * count
    errors = [0.0] * count
    p95: list[float | None] = [None] * count
    for second, served, failed, latency in rows:
        index = (second - first) // BUCKET_S
        requests[index] += served
        errors[index] += failed
        worst = p95[index]
        p95[index] = latency if worst is None else max(worst, latency)
    return {
        "x": [float(first + i * BUCKET_S) for i in range(count)],
        "requests": list(requests),
        "errors": list(errors),
        "p95_ms": p95,
    }


def deployments(releases: list[dict[str, Any]]) -> list[Deployment]:
    """One entry per workspace and environment, newest release first within each."""
    by_workspace: dict[str, list[dict[str, Any]]] = {}
    for release in releases:
        by_workspace.setdefault(release["workspace"], []).append(release)
    found = []
    for workspace, recorded in sorted(by_workspace.items()):
        environments = environments_of(Path(workspace)) or [""]
        for environment in environments:
            entry = Deployment(workspace, environment, recorded)
            if environment:
                entry.chart = bucketed(read_series(Path(workspace), environment))
            if entry.chart:
                # Releases since the record began, also those after its last busy minute.
                start = entry.chart["x"][0] or 0.0
                entry.markers = [
                    {"at": r["at"], "sha": r["sha"][:12], "outcome": r["outcome"]}
                    for r in recorded
                    if r["at"] >= start
                ]
                last = (entry.chart["x"][-1] or 0.0) + BUCKET_S
                end = max([last, *(m["at"] + BUCKET_S for m in entry.markers)])
                entry.span = _span(start, end)
            found.append(entry)
    return found


def _span(start: float, end: float) -> list[float]:
    """[start, end] widened around its middle to at least `MIN_SPAN_S`: one minute of traffic
    is drawn as a point in a quarter of an hour, not stretched across the axis."""
    missing = MIN_SPAN_S - (end - start)
    if missing > 0:
        start, end = start - missing / 2, end + missing / 2
    return [start, end]
