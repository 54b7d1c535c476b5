"""Process and memory limits for a sandboxed command.

The process limit uses a pids cgroup when one can be created (cgroup v2 with the pids controller
delegated, or a writable v1 pids hierarchy): unlike RLIMIT_NPROC it also holds for root, which
the kernel exempts from the rlimit. Without a cgroup it falls back to RLIMIT_NPROC. Memory is
capped with RLIMIT_AS, which binds root too.

Limits are applied by a two-line `sh` trampoline that joins the cgroup, sets the rlimits and
execs the sandbox, rather than by a Python `preexec_fn`: that keeps the fast spawn path and
costs ~1 ms instead of ~7. One cgroup serves every command of a process (commands run one at a
time and it is swept after each): the first process in a fresh cgroup costs ~15 ms more.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import shlex
import time
from pathlib import Path

CGROUP_ROOTS = (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup"))


class PidsCgroup:
    """A throwaway pids cgroup that the command joins before it starts."""

    def __init__(self, path: Path):
        self.path = path

    @classmethod
    def create(cls, max_processes: int) -> PidsCgroup | None:
        for root in CGROUP_ROOTS:
            if root == Path("/sys/fs/cgroup"):
                controllers = root / "cgroup.subtree_control"
                if not controllers.exists() or "pids" not in controllers.read_text():
                    continue
            path = root / f"acb-{secrets.token_hex(4)}"
            try:
                path.mkdir()
                (path / "pids.max").write_text(str(max_processes))
            except OSError:
                with contextlib.suppress(OSError):
                    path.rmdir()
                continue
            return cls(path)
        return None

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
        """Remove the cgroup once its last (killed) member has gone, which takes a moment."""
        for _ in range(50):
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                self.kill_all()
                time.sleep(0.01)


_shared: dict[int, PidsCgroup | None] = {}


def shared_cgroup(max_processes: int) -> PidsCgroup | None:
    """This process's pids cgroup for `max_processes`, created on first use, removed at exit."""
    if max_processes not in _shared:
        cgroup = PidsCgroup.create(max_processes)
        _shared[max_processes] = cgroup
        if cgroup is not None:
            atexit.register(cgroup.remove)
    return _shared[max_processes]


def limited(
    argv: list[str], max_processes: int, memory_mb: int
) -> tuple[list[str], PidsCgroup | None]:
    """`argv` wrapped so that it runs under the limits, and the cgroup to sweep afterwards
    (unsandboxed commands only: in bubblewrap's pid namespace, everything dies with it)."""
    cgroup = shared_cgroup(max_processes) if max_processes else None
    steps = []
    if cgroup is not None:
        steps.append(f"echo $$ > {shlex.quote(str(cgroup.path / 'cgroup.procs'))}")
    elif max_processes:
        steps.append(f"ulimit -u {max_processes}")
    if memory_mb:
        steps.append(f"ulimit -v {memory_mb * 1024}")
    wrapped = (
        ["/bin/sh", "-c", " && ".join([*steps, 'exec "$@"']), "acb-limits", *argv]
        if steps
        else argv
    )
    return wrapped, cgroup
