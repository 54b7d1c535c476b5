"""The per-second record of the client traffic a deployment's proxy served, kept on disk for
six hours so that it outlives the supervisor: `acb monitor` shows the last window after
`acb deploy --stop` too, and a supervisor started again carries on the same record.

One JSON line per second that saw traffic, `[epoch second, requests, errors, p95 ms]`, in
`.acb/deploy/<env>/series.jsonl`. The supervisor appends seconds once they are over and
rewrites the file without the seconds older than six hours. The file is in the workspace, where
the project's own commands can write, so it is read defensively: a line that is not four
numbers is skipped, never trusted or fatal. Standard library only at import time (the
supervisor imports this); writes go through `delivery.release`'s symlink checks.
"""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Iterable
from pathlib import Path

SERIES_SECONDS = 6 * 3600
"""How long the per-second record is kept (the README's "kept for six hours")."""
SERIES_FILE = "series.jsonl"
MAX_READ_BYTES = 32 * 1024 * 1024
"""Six hours of busy seconds is about 1 MB; anything much larger was not written by acb."""

Row = tuple[int, int, int, float]
"""One second: (epoch second, requests, errors, p95 latency in ms)."""


def series_path(root: Path, env: str) -> Path:
    return root.resolve() / ".acb" / "deploy" / env / SERIES_FILE


def _row(raw: str) -> Row | None:
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(value, list) or len(value) != 4:
        return None
    second, requests, errors, p95 = value
    counts = (second, requests, errors)
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in counts):
        return None
    if not isinstance(p95, int | float) or isinstance(p95, bool) or not 0 <= p95 < 1e9:
        return None
    return second, requests, errors, float(p95)


def read_series(root: Path, env: str, since: int = 0) -> list[Row]:
    """The recorded seconds from `since` on (and within the last six hours, none from the
    future: a planted far-future row would stretch every chart across years), oldest first;
    an absent, unreadable or not regular file (a FIFO would block the reader) is no record."""
    now = int(time.time())
    oldest = max(since, now - SERIES_SECONDS)
    newest = now + 60
    try:
        descriptor = os.open(series_path(root, env), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return []
    with os.fdopen(descriptor, "rb") as source:
        if not stat.S_ISREG(os.fstat(source.fileno()).st_mode):
            return []
        data = source.read(MAX_READ_BYTES)
    rows = (_row(line) for line in data.decode(errors="replace").splitlines())
    return sorted(row for row in rows if row is not None and oldest <= row[0] <= newest)


def _lines(rows: Iterable[Row]) -> bytes:
    return "".join(json.dumps(list(row)) + "\n" for row in rows).encode()


def append_series(root: Path, env: str, rows: list[Row]) -> None:
    """Add seconds that are over to the record (never through a symlink)."""
    if not rows:
        return
    from autocodebase.delivery.release import open_log

    with os.fdopen(open_log(root, series_path(root, env)), "ab") as sink:
        sink.write(_lines(rows))


def rewrite_series(root: Path, env: str, rows: list[Row]) -> None:
    """Replace the record with `rows` (the last six hours): a new file renamed over the old
    one, so a reader never sees half of it and a planted symlink is replaced, not followed."""
    from autocodebase.delivery.release import no_symlinks

    path = series_path(root, env)
    no_symlinks(root.resolve(), path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = path.with_name(f".{SERIES_FILE}.{os.getpid()}")
    fresh.unlink(missing_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    with os.fdopen(os.open(fresh, flags, 0o600), "wb") as sink:
        sink.write(_lines(rows))
    fresh.replace(path)
