"""One autopilot loop per repository at a time: an exclusive `flock` on a file in acb's state
directory. The kernel drops the lock when its process dies, however it dies, so a loop that
gets the lock knows any task still marked `running` belongs to a process that is gone."""

from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path
from types import TracebackType


class Busy(Exception):
    """Another autopilot holds the lock (its pid, when it wrote one)."""


class WorkspaceLock:
    def __init__(self, state_dir: Path, workspace: Path):
        key = hashlib.sha256(str(workspace).encode()).hexdigest()[:16]
        self.path = state_dir / "autopilot" / f"{key}.lock"
        self._fd: int | None = None

    def __enter__(self) -> WorkspaceLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip()
            os.close(fd)
            raise Busy(holder or "?") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the lock
            self._fd = None
