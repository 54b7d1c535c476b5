"""Run one command under a sandbox policy, with a timeout, bounded output and process limits.

This is the only place commands proposed by a model are executed. When bubblewrap cannot be
used, the policy's `fallback` decides, and the outcome says what happened: commands never drop
silently to running unsandboxed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from autocodebase.output import HeadTailBuffer
from autocodebase.programs import distrust
from autocodebase.sandbox.bwrap import (
    INSTALL_HINT,
    bwrap_command,
    bwrap_problem,
    missing_protected,
    protected_problem,
    remove_placeholders,
)
from autocodebase.sandbox.launcher import discard, give_back, launch, launcher_pids
from autocodebase.sandbox.limits import shared_cgroup
from autocodebase.sandbox.policy import Limits, SandboxPolicy


@dataclass(frozen=True)
class CommandOutcome:
    exit_code: int | None
    """None when the command never ran (refused) or was killed."""
    output: str
    timed_out: bool = False
    output_bytes: int = 0
    duration_s: float = 0.0
    sandbox: str = ""
    """How it ran: 'bubblewrap', 'none (full-access)', 'none (fallback)', 'refused'."""
    refused: str | None = None
    killed_for_output: bool = False


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


class _OutputWatch(HeadTailBuffer):
    """Keeps head and tail, and kills the command when it floods."""

    def __init__(self, limit: int, kill_after: int, pid: int):
        super().__init__(limit)
        self.kill_after = kill_after
        self.pid = pid
        self.flooded = False

    def write(self, chunk: bytes) -> None:
        super().write(chunk)
        if self.total > self.kill_after and not self.flooded:
            self.flooded = True
            _kill_group(self.pid)


class _Started:
    """A started command: its pid (the leader of its process group), its output, its end."""

    def __init__(self, pid: int, output: IO[bytes], wait: Callable[[], int | None]):
        self.pid = pid
        self.output = output
        self.wait = wait
        self.release: Callable[[bool], object] = lambda _finished: None
        """Called once the command is over; `finished`: its end was waited for (an interrupt
        may cut the wait short, and the launcher that started it is then out of step)."""

    def close(self, finished: bool) -> None:
        self.output.close()
        self.release(finished)


_running: dict[tuple[int, int], int] = {}
_running_lock = threading.Lock()


def _counted(limits: Limits, change: int) -> int:
    """Count the unsandboxed commands running in the cgroup of `limits`; the new count."""
    key = (limits.max_processes, limits.memory_mb)
    with _running_lock:
        _running[key] = _running.get(key, 0) + change
        return _running[key]


def _start(argv: list[str], env: Mapping[str, str], cwd: Path, limits: Limits) -> _Started:
    """Start `argv` in a new session, through a launcher in the limits' cgroup when a limit is
    on (born there: joining costs ~10 ms a process), else directly."""
    if not (limits.max_processes or limits.memory_mb):
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        assert process.stdout is not None
        started = _Started(process.pid, process.stdout, process.wait)
        started.release = lambda finished: finished or process.wait()  # reaped, killed or not
        return started
    read_end, write_end = os.pipe()
    try:
        launcher, pid = launch(argv, env, cwd, write_end, limits.max_processes, limits.memory_mb)
    except OSError:
        os.close(read_end)
        raise
    finally:
        os.close(write_end)
    started = _Started(pid, os.fdopen(read_end, "rb"), launcher.wait)
    started.release = lambda finished: (
        give_back(launcher, limits.max_processes, limits.memory_mb)
        if finished
        else discard(launcher)
    )
    return started


def sandbox_unavailable(policy: SandboxPolicy) -> str | None:
    """Why commands under `policy` cannot be sandboxed here (None: they can, or need not be)."""
    if policy.mode == "full-access":
        return None
    problem = bwrap_problem()
    return f"{problem}; {INSTALL_HINT}" if problem else None


def run_command(
    policy: SandboxPolicy,
    command: str,
    workspace: Path,
    env: Mapping[str, str],
    timeout_s: int | None = None,
    cwd: Path | None = None,
    content: Path | None = None,
) -> CommandOutcome:
    """Run `command` with bash under `policy`; never raises for the command's own failures.

    `content`, if given, is a directory shown in the workspace's place, at the workspace's
    path: the test gate runs the tree as the run found it from an exported copy, and a project
    installed editable imports from its real path, which must then hold that copy. Without
    bubblewrap nothing can be shown elsewhere, and the command runs in `content` itself."""
    limits = policy.limits
    timeout = timeout_s or limits.timeout_s
    # Before any program is looked up (bwrap itself): what the command may write is never a
    # place acb takes programs from.
    writable = policy.writable_roots if policy.mode == "workspace-write" else ()
    distrust(workspace, *writable, *((content,) if content else ()))
    argv = ["bash", "-c", command]
    how = "none (full-access)"
    placeholders: list[Path] = []
    if policy.mode != "full-access":
        problem = sandbox_unavailable(policy)
        hostile = None
        if problem is None:
            hostile = protected_problem(policy, workspace) or (
                protected_problem(policy, content) if content else None
            )
        if hostile is not None:
            return CommandOutcome(None, f"not run: {hostile}", sandbox="refused", refused=hostile)
        if problem is None:
            placeholders = missing_protected(policy, workspace)
            argv = bwrap_command(policy, workspace, cwd or workspace, argv, env, content=content)
            how = "bubblewrap"
        elif policy.fallback == "none":
            how = "none (fallback: bubblewrap unavailable)"
        else:
            # read-only-guard decisions are made by the caller, which knows the classifier.
            return CommandOutcome(
                None, f"sandbox unavailable: {problem}", sandbox="refused", refused=problem
            )
    if content is not None and how != "bubblewrap":
        workspace = cwd = content
    started = time.monotonic()
    unsandboxed = how != "bubblewrap"
    if unsandboxed:
        # Counted before it starts: a command counted only once started could be swept as a
        # straggler by another command's end in between (seen under load, issue 23).
        _counted(limits, +1)
    try:
        command_run = _start(argv, env, cwd or workspace, limits)
    except OSError as exc:
        if unsandboxed:
            _counted(limits, -1)
        remove_placeholders(placeholders)
        return CommandOutcome(
            None, f"could not start the command: {exc}", sandbox=how, refused=str(exc)
        )
    buffer = _OutputWatch(limits.output_bytes, limits.kill_after_output_bytes, command_run.pid)
    reader = threading.Thread(target=buffer.drain, args=(command_run.output,), daemon=True)
    # A watchdog thread kills on timeout while we block in waitpid: Popen.wait(timeout) polls
    # with growing sleeps and would notice a 20 ms command's exit up to 30 ms late.
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        _kill_group(command_run.pid)

    watchdog = threading.Timer(timeout, expire)
    finished = False
    try:
        reader.start()
        watchdog.start()
        returncode = command_run.wait()
        finished = True
    finally:
        # Also when interrupted (Ctrl-C): the command never outlives this call.
        watchdog.cancel()
        timed_out = expired.is_set()
        _kill_group(command_run.pid)  # background children do not outlive the command
        if unsandboxed and _counted(limits, -1) == 0:
            # Without a pid namespace, the cgroup finds the stragglers: once no other command
            # is running in it, and never the launchers.
            shared_cgroup(limits.max_processes, limits.memory_mb).kill_all(launcher_pids())
        if reader.is_alive():
            reader.join(timeout=5)
        command_run.close(finished)
        remove_placeholders(placeholders)
    return CommandOutcome(
        None if timed_out or buffer.flooded else returncode,
        buffer.render(),
        timed_out=timed_out,
        output_bytes=buffer.total,
        duration_s=time.monotonic() - started,
        sandbox=how,
        killed_for_output=buffer.flooded,
    )
