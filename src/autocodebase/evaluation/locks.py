"""File locks that order environment builds among the workers of one machine (local processes
and Ray tasks alike: they share the environment cache, not memory)."""

from __future__ import annotations

import fcntl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SLOTS = "build-slots"
POLL_S = 0.2


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """One holder of `path` at a time: one builder per environment."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def build_slot(cache: Path, limit: int) -> Iterator[int]:
    """One of `limit` slots for building an environment, waited for: builds download, compile
    and install at once, and more of them than the machine has room for slow every instance
    down (workers that find their environment built do not wait). The slot's number is given."""
    folder = cache / SLOTS
    folder.mkdir(parents=True, exist_ok=True)
    while True:
        for number in range(max(limit, 1)):
            handle = (folder / str(number)).open("w")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            try:
                yield number
                return
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
                handle.close()
        time.sleep(POLL_S)
