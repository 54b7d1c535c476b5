"""SIGTERM and SIGHUP handled like Ctrl-C: the run ends as "interrupted" with a full record.

A CI job cancelled, `timeout` expiring or a terminal closing sends SIGTERM or SIGHUP, whose
default action kills the process on the spot: the ledger would say "running?" forever, temp
directories would stay, and the change would go unrecorded. Raised as a `KeyboardInterrupt`
subclass in the main thread instead, they unwind through the same paths as Ctrl-C (the
sandboxed command is killed, the loop records the outcome, `run_finished` is written), and the
process exits with the conventional 128 + signal number (143, 129). Only the first signal
interrupts: more signals during that cleanup are noted, not raised, so the record completes.
A signal the parent set to be ignored stays ignored: `nohup acb exec ...` must outlive its
terminal, as nohup promises.

Python runs signal handlers in the main thread only, when it next executes bytecode; the kernel
hands a process-wide signal to whichever thread takes it first. A worker thread that unblocks
signals (every `subprocess.Popen` on the vfork path does, briefly) can take a SIGTERM meant for
a main thread that sits in `recv` waiting for the model: the main thread is never interrupted,
and the run went on for as long as the model took (a test saw this under load, one time in
four). So within the block the C handler's wakeup byte goes to a pipe, and a watcher thread
that reads it sends the main thread itself a SIGURG (a signal nothing else here uses, ignored by
default): its `recv` or `wait` fails with EINTR, and Python runs the pending handlers there.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from types import FrameType

HANDLED = (signal.SIGTERM, signal.SIGHUP)


class Terminated(KeyboardInterrupt):
    """The process was asked to stop by a signal other than Ctrl-C's."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


NUDGE = signal.SIGURG
"""Sent to the main thread to interrupt its blocking call when another thread took a signal."""


class _Caught:
    signum: int | None = None
    nudge: _MainThreadNudge | None = None

    def rearm(self) -> None:
        """Take the wakeup descriptor back (asyncio, which prompt_toolkit runs at every
        prompt, clears it when its loop closes)."""
        if self.nudge is not None:
            self.nudge.arm()


class _MainThreadNudge:
    """The watcher: every signal Python's C handler catches, in whatever thread, writes its
    number to our pipe; for the ones whose handlers must run now, the main thread is sent
    NUDGE. When the main thread took the signal itself, the nudge finds it already handled
    and does nothing."""

    FORWARDED = frozenset({*HANDLED, signal.SIGINT})

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)  # set_wakeup_fd requires it
        self._main = threading.main_thread().ident or 0
        self._previous_nudge = signal.signal(NUDGE, _ignore)
        self._watcher = threading.Thread(target=self._watch, name="acb-signals", daemon=True)
        self._watcher.start()
        self._previous_fd = signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)

    def arm(self) -> None:
        signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)

    def _watch(self) -> None:
        # Never the thread that takes a signal: it is the one that makes sure main sees it.
        signal.pthread_sigmask(signal.SIG_BLOCK, self.FORWARDED)
        while data := os.read(self._read, 64):
            if any(number in self.FORWARDED for number in data):
                with contextlib.suppress(ProcessLookupError, OSError):
                    signal.pthread_kill(self._main, NUDGE)
        os.close(self._read)

    def close(self) -> None:
        signal.set_wakeup_fd(self._previous_fd)
        os.close(self._write)  # the watcher reads the end of the pipe and stops
        self._watcher.join(timeout=5)
        signal.signal(NUDGE, self._previous_nudge)


def _ignore(_signum: int, _frame: FrameType | None) -> None:
    """NUDGE's handler: its only work is the EINTR it causes; the signal that mattered has a
    handler of its own, which Python runs alongside."""


@contextlib.contextmanager
def terminating_signals() -> Iterator[_Caught]:
    """Within the block, SIGTERM/SIGHUP raise `Terminated` (once); `caught.signum` tells
    afterwards which one arrived, if any. A no-op outside the main thread."""
    caught = _Caught()
    if threading.current_thread() is not threading.main_thread():
        yield caught
        return

    def handler(signum: int, _frame: FrameType | None) -> None:
        if caught.signum is None:
            caught.signum = signum
            raise Terminated(signum)

    previous = {
        number: signal.signal(number, handler)
        for number in HANDLED
        if signal.getsignal(number) is not signal.SIG_IGN
    }
    caught.nudge = _MainThreadNudge()
    try:
        yield caught
    finally:
        caught.nudge.close()
        caught.nudge = None
        for number, old in previous.items():
            signal.signal(number, old)


@contextlib.contextmanager
def ctrl_c_interrupts() -> Iterator[None]:
    """Within the block, Ctrl-C raises `KeyboardInterrupt` even if the parent ignored SIGINT.

    A shell starts `cmd &` (without job control: scripts, CI jobs, `nohup ... &`) with SIGINT
    ignored, and Python then leaves it ignored: a conversation started from such a process
    would swallow every Ctrl-C the person types during a turn (at the prompt prompt_toolkit
    reads it as a key, so only the running command could not be stopped). The person at
    the terminal asked for the conversation, so their Ctrl-C counts. A no-op outside the
    main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        if previous is signal.SIG_IGN:
            signal.signal(signal.SIGINT, previous)
