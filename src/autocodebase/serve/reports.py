"""The evaluation reports the dashboard shows: `report.json` files written by `acb eval` or
`acb batch`, read defensively (they lie in folders other processes may write): a regular file
only (a FIFO would block a worker thread, /dev/zero would fill memory), at most
`MAX_REPORT_BYTES`, each row given the fields the page needs, and cached until it changes."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path
from typing import Any

MAX_REPORT_BYTES = 32 * 1024 * 1024
MAX_ROWS = 5_000
ROW_FIELDS = {"status": "?", "environment": "", "steps": None, "cost_usd": None, "wall_s": None}

_cache: dict[Path, tuple[tuple[int, int], dict[str, Any] | None]] = {}
_lock = threading.Lock()


def read_report(folder: Path) -> dict[str, Any] | None:
    """The folder's report, normalised; None when there is none or it cannot be read."""
    path = folder / "report.json"
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(descriptor, "rb") as source:
        info = os.fstat(source.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_REPORT_BYTES:
            return None
        key = (info.st_mtime_ns, info.st_size)
        with _lock:
            cached = _cache.get(path)
        if cached is not None and cached[0] == key:
            return cached[1]
        report = _normalised(source.read(MAX_REPORT_BYTES))
    with _lock:
        _cache[path] = (key, report)
    return report


def _normalised(data: bytes) -> dict[str, Any] | None:
    try:
        raw = json.loads(data)
    except ValueError:
        return None
    if not isinstance(raw, dict):
        return None
    lists: dict[str, list[Any]] = {}
    for key in ("resolved", "unresolved", "error", "environment_error"):
        value = raw.get(key)
        lists[key] = value if isinstance(value, list) else []
    found = raw.get("instances")
    instances: dict[str, Any] = found if isinstance(found, dict) else {}
    rows = []
    for name, record in list(instances.items())[:MAX_ROWS]:
        record = record if isinstance(record, dict) else {}
        row = {key: record.get(key, default) for key, default in ROW_FIELDS.items()}
        run_id = record.get("run_id")
        row["run_id"] = run_id if isinstance(run_id, str) and run_id.isprintable() else None
        row["instance_id"] = str(name)
        rows.append(row)
    return {
        "model": str(raw.get("model", "")),
        "total": raw.get("total") if isinstance(raw.get("total"), int) else len(instances),
        **lists,
        "instances": sorted(rows, key=lambda r: r["instance_id"]),
        "left_out": max(0, len(instances) - MAX_ROWS),
    }
