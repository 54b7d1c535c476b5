"""Start commands from a small helper process that already sits in the commands' cgroup.

Moving a process into a cgroup (writing its pid to `cgroup.procs`) waits for an RCU grace
period on most kernels: ~10 ms on this 2-core VM, paid by every command that joins its cgroup
on its way in. A process forked by a member is a member from birth, at no cost. So each acb
process starts one launcher per set of limits, moves it into the cgroup once, and asks it to
start every command: the launcher applies the rlimit fallbacks to itself (inherited by what it
starts), spawns the command with the output pipe acb hands it over a unix socket, says the pid,
and later the exit status. acb keeps the pid to kill the command's group on timeout.

The launcher dies with acb: it watches a pipe whose other end only acb holds and, when that
closes, kills the command it is running and exits (bubblewrap's --die-with-parent then does
the rest). One launcher runs one command at a time; concurrent commands get launchers of their
own from a small pool.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from autocodebase.sandbox.limits import CommandCgroup, shared_cgroup

LAUNCHER_SOURCE = r"""
import json, os, resource, signal, socket, struct, subprocess, sys, threading
channel = socket.socket(fileno=0)
lifeline = int(sys.argv[2])
running = []
starting = threading.Lock()

def watch_lifeline():
    while os.read(lifeline, 1):
        pass
    starting.acquire()  # a command being started is in `running` before we look
    for pid in running:
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
    os._exit(0)

threading.Thread(target=watch_lifeline, daemon=True).start()
for name, value in json.loads(sys.argv[1]).items():
    resource.setrlimit(getattr(resource, name), (value, value))

def exactly(size, start=b""):
    data = start
    while len(data) < size:
        more = channel.recv(size - len(data))
        if not more:
            sys.exit(0)
        data += more
    return data

def answer(message):
    data = json.dumps(message).encode()
    channel.sendall(struct.pack("!I", len(data)) + data)

while True:
    head, fds, _, _ = socket.recv_fds(channel, 4, 1)
    if not head:
        break
    size = struct.unpack("!I", exactly(4, head))[0]
    request = json.loads(exactly(size))
    try:
        with starting:
            process = subprocess.Popen(
                request["argv"], cwd=request["cwd"], env=request["env"],
                stdin=subprocess.DEVNULL, stdout=fds[0], stderr=fds[0], start_new_session=True,
            )
            running[:] = [process.pid]
    except OSError as exc:
        answer({"error": str(exc)})
        continue
    finally:
        for fd in fds:
            os.close(fd)
    answer({"pid": process.pid})
    answer({"returncode": process.wait()})
    running.clear()
"""


def _rlimits(cgroup: CommandCgroup, max_processes: int, memory_mb: int) -> dict[str, int]:
    """The per-user and per-process rlimits that stand in for the limits no cgroup holds."""
    limits = {}
    if max_processes and "pids" not in cgroup.paths:
        limits["RLIMIT_NPROC"] = max_processes
    if memory_mb and "memory" not in cgroup.paths:
        limits["RLIMIT_AS"] = memory_mb * 1024 * 1024
    return limits


class LauncherGone(OSError):
    """The launcher exited (killed, or out of memory) before it answered."""


class Launcher:
    """One helper process in the cgroup, and the socket acb talks to it over."""

    def __init__(self, max_processes: int, memory_mb: int):
        self.cgroup = shared_cgroup(max_processes, memory_mb)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        watched, self._lifeline = os.pipe()
        try:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-I",
                    "-S",
                    "-c",
                    LAUNCHER_SOURCE,
                    json.dumps(_rlimits(self.cgroup, max_processes, memory_mb)),
                    str(watched),
                ],
                stdin=theirs.fileno(),
                stdout=subprocess.DEVNULL,
                pass_fds=(watched,),
                # Nothing of acb's environment (API keys): a command outside bubblewrap can
                # read its parent's /proc/PID/environ, and its parent is the launcher.
                env={},
                start_new_session=True,  # a Ctrl-C at the terminal is acb's to handle
            )
        finally:
            theirs.close()
            os.close(watched)
        self.channel = ours
        # Before the first request, so that everything the launcher starts is born inside.
        for directory in self.cgroup.directories():
            with contextlib.suppress(OSError):
                (directory / "cgroup.procs").write_text(str(self.process.pid))

    def spawn(self, argv: list[str], env: Mapping[str, str], cwd: Path, output: int) -> int:
        """Start `argv` with its stdout and stderr on the pipe end `output`; its pid."""
        data = json.dumps({"argv": argv, "env": dict(env), "cwd": str(cwd)}).encode()
        try:
            socket.send_fds(self.channel, [struct.pack("!I", len(data))], [output])
            self.channel.sendall(data)
        except OSError as exc:
            raise LauncherGone(f"the command launcher is gone ({exc})") from exc
        answer = self._answer()
        if "error" in answer:
            raise OSError(answer["error"])
        return int(answer["pid"])

    def wait(self) -> int | None:
        """The exit status of the command last spawned (None: the launcher died first)."""
        try:
            return int(self._answer()["returncode"])
        except LauncherGone:
            return None

    def _answer(self) -> dict[str, Any]:
        head = self._exactly(4)
        answer: dict[str, Any] = json.loads(self._exactly(struct.unpack("!I", head)[0]))
        return answer

    def _exactly(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            try:
                more = self.channel.recv(size - len(data))
            except OSError as exc:  # reset: it died with our request unread
                raise LauncherGone(f"the command launcher is gone ({exc})") from exc
            if not more:
                raise LauncherGone("the command launcher exited")
            data += more
        return data

    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.channel.close()
        with contextlib.suppress(OSError):
            os.close(self._lifeline)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=2)


_idle: dict[tuple[int, int], list[Launcher]] = {}
_every: list[Launcher] = []
_lock = threading.Lock()
_closing_registered = False


def _borrow(max_processes: int, memory_mb: int) -> Launcher:
    """An idle launcher for these limits, started if none is idle."""
    global _closing_registered
    with _lock:
        idle = _idle.setdefault((max_processes, memory_mb), [])
        while idle:
            launcher = idle.pop()
            if launcher.alive():
                return launcher
            _discard(launcher)
    launcher = Launcher(max_processes, memory_mb)
    with _lock:
        if not _closing_registered:
            atexit.register(close_all)
            _closing_registered = True
        _every.append(launcher)
    return launcher


def _discard(launcher: Launcher) -> None:
    """Forget a launcher that died (called with `_lock` held)."""
    with contextlib.suppress(ValueError):
        _every.remove(launcher)
    launcher.close()


def launch(
    argv: list[str],
    env: Mapping[str, str],
    cwd: Path,
    output: int,
    max_processes: int,
    memory_mb: int,
) -> tuple[Launcher, int]:
    """Start `argv` from a launcher for these limits: the launcher (to `wait` on, then
    `give_back`) and the command's pid. A launcher found dead before it started anything
    (killed, or out of memory) is replaced once."""
    for attempt in (1, 2):
        launcher = _borrow(max_processes, memory_mb)
        try:
            return launcher, launcher.spawn(argv, env, cwd, output)
        except LauncherGone:
            with _lock:
                _discard(launcher)
            if attempt == 2:
                raise
        except OSError:
            give_back(launcher, max_processes, memory_mb)
            raise
        except BaseException:
            # Interrupted (Ctrl-C) mid-conversation with the launcher: its answers are out of
            # step with us now. Closing it kills whatever it had started.
            with _lock:
                _discard(launcher)
            raise
    raise AssertionError("unreachable")


def discard(launcher: Launcher) -> None:
    """Close a launcher whose conversation with us was cut (an interrupt while waiting): it
    kills the command it runs and exits."""
    with _lock:
        _discard(launcher)


def give_back(launcher: Launcher, max_processes: int, memory_mb: int) -> None:
    with _lock:
        if launcher.alive():
            _idle.setdefault((max_processes, memory_mb), []).append(launcher)
        else:
            _discard(launcher)


def prestart(max_processes: int, memory_mb: int) -> None:
    """Have a launcher for these limits idle and ready, so that the first command does not wait
    for one to start (a Python process and a cgroup join: 30-70 ms)."""
    if not (max_processes or memory_mb):
        return
    with _lock:
        if any(launcher.alive() for launcher in _idle.get((max_processes, memory_mb), [])):
            return
    give_back(_borrow(max_processes, memory_mb), max_processes, memory_mb)


def launcher_pids() -> set[int]:
    """Pids of our launchers: cgroup members that a sweep of stragglers must spare."""
    with _lock:
        return {launcher.process.pid for launcher in _every}


def close_all() -> None:
    """Close every launcher; runs at exit, before the cgroups are removed (atexit runs in
    reverse order of registration, and the cgroups were registered first)."""
    with _lock:
        launchers = list(_every)
        _every.clear()
        _idle.clear()
    for launcher in launchers:
        launcher.close()
