"""Process and memory limits for a sandboxed command, enforced per command where the machine
allows, and said plainly where it does not.

Both limits use a cgroup when one can be created (cgroup v2 with the controllers delegated, or
writable v1 `pids` and `memory` hierarchies, which is what root has in most containers): a pids
cgroup also holds for root, which the kernel exempts from RLIMIT_NPROC, and a memory cgroup
bounds the command as a whole — every process it starts and the files it leaves in its private
/tmp — where RLIMIT_AS bounds each process alone (four 45 MB processes pass a 64 MB RLIMIT_AS).
Without a cgroup the limits fall back to those rlimits, and `enforcement` says so.

One cgroup serves every command of a process (commands run one at a time and it is swept
after each). Commands are born in it, started by a launcher that joined it once (`launcher`):
joining costs ~10 ms per process here, being born in it nothing.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

V2_ROOT = Path("/sys/fs/cgroup")
V1_ROOTS = {"pids": Path("/sys/fs/cgroup/pids"), "memory": Path("/sys/fs/cgroup/memory")}
LAUNCHER_TASKS = 2
"""Tasks of the launcher in the pids cgroup (its process and its lifeline thread), added to the
limit so that commands still get `max_processes` of their own."""


def _v2_controllers() -> set[str]:
    try:
        return set((V2_ROOT / "cgroup.subtree_control").read_text().split())
    except OSError:
        return set()


def _own_cgroup(controller: str) -> str:
    """Our process's cgroup path for `controller` ("" for v2), so that a command's cgroup sits
    below it and any limit set on acb itself still holds for what it runs."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return "/"
    for line in lines:
        _, names, path = line.split(":", 2)
        if controller in names.split(",") or (controller == "" and names == ""):
            return path or "/"
    return "/"


def _parent(root: Path, controller: str) -> Path:
    own = root / _own_cgroup(controller).lstrip("/")
    return own if own.is_dir() else root


def _sweep(parent: Path) -> None:
    """Remove cgroups left by acb processes that were killed before their exit handler ran."""
    for stale in parent.glob("acb-*-*"):
        pid = stale.name.split("-")[1]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            with contextlib.suppress(OSError):
                stale.rmdir()


def _make(path: Path, settings: dict[str, str]) -> bool:
    try:
        path.mkdir()
        for name, value in settings.items():
            (path / name).write_text(value)
    except OSError:
        with contextlib.suppress(OSError):
            path.rmdir()
        return False
    return True


@dataclass
class CommandCgroup:
    """The cgroup directories (one on v2, one per controller on v1) a command joins."""

    paths: dict[str, Path]
    """Controller name -> the directory that enforces it ("pids", "memory")."""

    @classmethod
    def create(cls, max_processes: int, memory_mb: int) -> CommandCgroup:
        name = f"acb-{os.getpid()}-{secrets.token_hex(4)}"
        wanted = {"pids": max_processes, "memory": memory_mb}
        wanted = {controller: value for controller, value in wanted.items() if value}
        paths: dict[str, Path] = {}
        if wanted and set(wanted) <= _v2_controllers():
            settings = {"pids.max": str(max_processes + LAUNCHER_TASKS)} if "pids" in wanted else {}
            if "memory" in wanted:
                settings["memory.max"] = str(memory_mb * 1024 * 1024)
                settings["memory.swap.max"] = "0"
            parent = _parent(V2_ROOT, "")
            _sweep(parent)
            if _make(parent / name, settings):
                return cls(dict.fromkeys(wanted, parent / name))
        for controller, value in wanted.items():
            root = V1_ROOTS[controller]
            if controller == "pids":
                settings = {"pids.max": str(value + LAUNCHER_TASKS)}
            else:
                settings = {"memory.limit_in_bytes": str(value * 1024 * 1024)}
            if not root.is_dir():
                continue
            parent = _parent(root, controller)
            _sweep(parent)
            if _make(parent / name, settings) or (parent != root and _make(root / name, settings)):
                paths[controller] = parent / name if (parent / name).is_dir() else root / name
        return cls(paths)

    def directories(self) -> list[Path]:
        return sorted(set(self.paths.values()))

    def members(self) -> list[int]:
        pids: set[int] = set()
        for directory in self.directories():
            with contextlib.suppress(OSError, ValueError):
                pids.update(int(p) for p in (directory / "cgroup.procs").read_text().split())
        return sorted(pids)

    def kill_all(self, spare: set[int] | frozenset[int] = frozenset()) -> None:
        for pid in self.members():
            if pid in spare:
                continue
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, 9)

    def remove(self) -> None:
        """Remove the cgroups once their last (killed) member has gone, which takes a moment."""
        for directory in self.directories():
            for _ in range(50):
                try:
                    directory.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    self.kill_all()
                    time.sleep(0.01)


_shared: dict[tuple[int, int], CommandCgroup] = {}


def shared_cgroup(max_processes: int, memory_mb: int) -> CommandCgroup:
    """This process's cgroup for these limits, created on first use, removed at exit."""
    key = (max_processes, memory_mb)
    if key not in _shared:
        cgroup = CommandCgroup.create(max_processes, memory_mb)
        _shared[key] = cgroup
        if cgroup.paths:
            atexit.register(cgroup.remove)
    return _shared[key]


WORDING = {
    # name: (controller, with a cgroup, without one)
    "processes": (
        "pids",
        "{} per command (pids cgroup)",
        "{} per user (RLIMIT_NPROC; no pids cgroup here, and root is exempt)",
    ),
    "memory": (
        "memory",
        "{} MB per command, all processes and /tmp (memory cgroup)",
        "{} MB per process only (RLIMIT_AS; no memory cgroup here: several processes "
        "together can use more)",
    ),
}


def enforcement(max_processes: int, memory_mb: int) -> dict[str, str]:
    """How each limit is enforced on this machine, in words (for `acb sandbox --check`)."""
    cgroup = shared_cgroup(max_processes, memory_mb)
    values = {"processes": max_processes, "memory": memory_mb}
    said = {}
    for name, (controller, held, fallback) in WORDING.items():
        value = values[name]
        said[name] = "off" if not value else (held if controller in cgroup.paths else fallback)
        said[name] = said[name].format(value)
    return said
