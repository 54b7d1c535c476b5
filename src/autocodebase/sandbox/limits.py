"""Process and memory limits for a sandboxed command.

The process limit uses a pids cgroup when one can be created (cgroup v2 with the pids controller
delegated, or a writable v1 pids hierarchy): unlike RLIMIT_NPROC it also holds for root, which
the kernel exempts from the rlimit. Without a cgroup it falls back to RLIMIT_NPROC and says so.
Memory is capped with RLIMIT_AS, which binds root too.
"""

from __future__ import annotations

import contextlib
import os
import resource
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

CGROUP_ROOTS = (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup"))


class PidsCgroup:
    """A throwaway pids cgroup; the child joins it before exec, so its descendants do too."""

    def __init__(self, path: Path):
        self.path = path

    @classmethod
    def create(cls, max_processes: int) -> PidsCgroup | None:
        for root in CGROUP_ROOTS:
            limit_file = "pids.max"
            if root == Path("/sys/fs/cgroup"):
                controllers = root / "cgroup.subtree_control"
                if not controllers.exists() or "pids" not in controllers.read_text():
                    continue
            path = root / f"acb-{secrets.token_hex(4)}"
            try:
                path.mkdir()
                (path / limit_file).write_text(str(max_processes))
            except OSError:
                with contextlib.suppress(OSError):
                    path.rmdir()
                continue
            return cls(path)
        return None

    def join_self(self) -> None:
        """Run in the child between fork and exec."""
        (self.path / "cgroup.procs").write_text("0")

    def members(self) -> list[int]:
        try:
            return [int(p) for p in (self.path / "cgroup.procs").read_text().split()]
        except OSError:
            return []

    def kill_all(self) -> None:
        for pid in self.members():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, 9)

    def remove(self) -> None:
        with contextlib.suppress(OSError):
            self.path.rmdir()


@contextlib.contextmanager
def process_limits(
    max_processes: int, memory_mb: int
) -> Iterator[tuple[Callable[[], None], PidsCgroup | None]]:
    """A `preexec_fn` applying the limits, and the cgroup (to sweep up leftovers) if any."""
    cgroup = PidsCgroup.create(max_processes) if max_processes else None

    def apply() -> None:
        if cgroup is not None:
            cgroup.join_self()
        elif max_processes:
            resource.setrlimit(resource.RLIMIT_NPROC, (max_processes, max_processes))
        if memory_mb:
            size = memory_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (size, size))

    try:
        yield apply, cgroup
    finally:
        if cgroup is not None:
            cgroup.kill_all()
            cgroup.remove()
