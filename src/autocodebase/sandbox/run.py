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
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from autocodebase.programs import distrust
from autocodebase.sandbox.bwrap import (
    INSTALL_HINT,
    bwrap_command,
    bwrap_problem,
    missing_protected,
    protected_problem,
    remove_placeholders,
)
from autocodebase.sandbox.limits import limited
from autocodebase.sandbox.policy import SandboxPolicy
from autocodebase.tools.output import HeadTailBuffer


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


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


class _OutputWatch(HeadTailBuffer):
    """Keeps head and tail, and kills the command when it floods."""

    def __init__(self, limit: int, kill_after: int, process: subprocess.Popen[bytes]):
        super().__init__(limit)
        self.kill_after = kill_after
        self.process = process
        self.flooded = False

    def write(self, chunk: bytes) -> None:
        super().write(chunk)
        if self.total > self.kill_after and not self.flooded:
            self.flooded = True
            _kill_group(self.process)


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
) -> CommandOutcome:
    """Run `command` with bash under `policy`; never raises for the command's own failures."""
    limits = policy.limits
    timeout = timeout_s or limits.timeout_s
    # Before any program is looked up (bwrap itself): what the command may write is never a
    # place acb takes programs from.
    distrust(workspace, *(policy.writable_roots if policy.mode == "workspace-write" else ()))
    argv = ["bash", "-c", command]
    how = "none (full-access)"
    placeholders: list[Path] = []
    if policy.mode != "full-access":
        problem = sandbox_unavailable(policy)
        hostile = protected_problem(policy, workspace) if problem is None else None
        if hostile is not None:
            return CommandOutcome(None, f"not run: {hostile}", sandbox="refused", refused=hostile)
        if problem is None:
            placeholders = missing_protected(policy, workspace)
            argv = bwrap_command(policy, workspace, cwd or workspace, argv, env)
            how = "bubblewrap"
        elif policy.fallback == "none":
            how = "none (fallback: bubblewrap unavailable)"
        else:
            # read-only-guard decisions are made by the caller, which knows the classifier.
            return CommandOutcome(
                None, f"sandbox unavailable: {problem}", sandbox="refused", refused=problem
            )
    started = time.monotonic()
    wrapped, cgroup = limited(argv, limits.max_processes, limits.memory_mb)
    try:
        process = subprocess.Popen(
            wrapped,
            cwd=cwd or workspace,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as exc:
        remove_placeholders(placeholders)
        return CommandOutcome(
            None, f"could not start the command: {exc}", sandbox=how, refused=str(exc)
        )
    assert process.stdout is not None
    buffer = _OutputWatch(limits.output_bytes, limits.kill_after_output_bytes, process)
    reader = threading.Thread(target=buffer.drain, args=(process.stdout,), daemon=True)
    reader.start()
    # A watchdog thread kills on timeout while we block in waitpid: Popen.wait(timeout) polls
    # with growing sleeps and would notice a 20 ms command's exit up to 30 ms late.
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        _kill_group(process)

    watchdog = threading.Timer(timeout, expire)
    watchdog.start()
    try:
        process.wait()
    finally:
        watchdog.cancel()
        timed_out = expired.is_set()
        _kill_group(process)  # background children do not outlive the command
        if how != "bubblewrap":
            cgroup.kill_all()  # without a pid namespace, the cgroup finds the stragglers
        process.wait()
        reader.join(timeout=5)
        process.stdout.close()
        remove_placeholders(placeholders)
    return CommandOutcome(
        None if timed_out or buffer.flooded else process.returncode,
        buffer.render(),
        timed_out=timed_out,
        output_bytes=buffer.total,
        duration_s=time.monotonic() - started,
        sandbox=how,
        killed_for_output=buffer.flooded,
    )
