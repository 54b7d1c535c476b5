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
"""

from __future__ import annotations

import contextlib
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


class _Caught:
    signum: int | None = None


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
    try:
        yield caught
    finally:
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
