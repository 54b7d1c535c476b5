"""SIGTERM and SIGHUP (a cancelled CI job, `timeout`, a closed terminal) end a run like Ctrl-C:
outcome "interrupted" in the ledger with what was done, the sandboxed command killed, temp
directories gone, exit 128 + the signal number."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pexpect
import pytest

from autocodebase.sandbox.bwrap import bwrap_problem
from autocodebase.signals import Terminated, terminating_signals
from tests.fakes.mock_server import Fault, MockModelServer, Reply
from tests.helpers import start_exec


def run_until(
    repo: Path, replies: list[Reply | Fault], ready: object, signum: int, tmp: Path
) -> tuple[int, MockModelServer]:
    """Start `acb exec`, wait until `ready(server)` holds, send `signum`, return the exit code."""
    with MockModelServer(replies) as server:
        process = start_exec(repo, server, {"TMPDIR": str(tmp)})
        try:
            deadline = time.monotonic() + 90
            while not ready(server) and time.monotonic() < deadline:  # type: ignore[operator]
                time.sleep(0.05)
            assert ready(server), "acb never got that far"  # type: ignore[operator]
            process.send_signal(signum)
            code = process.wait(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    return code, server


def finished_run(home: Path) -> sqlite3.Row:
    connection = sqlite3.connect(home / "ledger.db")
    connection.row_factory = sqlite3.Row
    return connection.execute("SELECT * FROM runs").fetchone()


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(), reason="needs the main thread"
)
def test_a_signal_another_thread_takes_still_interrupts_the_main_thread() -> None:
    """The race behind a run that went on after SIGTERM: a worker thread took the signal while
    the main thread waited in `recv`, which nothing then interrupted. Here the main thread
    blocks SIGTERM, so only the worker can take it, as the kernel may choose under load."""
    waiting, answer = socket.socketpair()
    waiting.settimeout(30)  # without the nudge the recv would wait this long, then fail
    go = threading.Event()

    done = threading.Event()

    def worker() -> None:  # started before the main thread blocks: SIGTERM open here
        go.wait(10)
        os.kill(os.getpid(), signal.SIGTERM)
        done.wait(30)  # alive until the main thread is through: the one thread to take it

    started = time.monotonic()
    try:
        with terminating_signals() as caught:
            thread = threading.Thread(target=worker, daemon=True)
            thread.start()
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
            try:
                # The handler may run at any bytecode after the worker's kill, so the kill is
                # asked for inside the block that expects it.
                with pytest.raises(Terminated):
                    go.set()
                    waiting.recv(1)
            finally:
                done.set()
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
            thread.join()
    finally:
        waiting.close()
        answer.close()
    assert caught.signum == signal.SIGTERM
    assert time.monotonic() - started < 25
    assert signal.getsignal(signal.SIGURG) is signal.SIG_DFL  # put back as it was
    assert signal.set_wakeup_fd(-1) == -1


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_signal_during_a_model_request_leaves_a_complete_record(
    wordstats_repo: Path, isolated_home: Path, tmp_path: Path, signum: int, code: int
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    exit_code, _ = run_until(
        wordstats_repo,
        [Fault(delay_s=60, then=Reply("too late"))],
        lambda server: len(server.requests) >= 1,
        signum,
        scratch,
    )
    assert exit_code == code
    run = finished_run(isolated_home)
    assert run["outcome"] == "interrupted" and run["finished_at"] is not None
    assert signal.Signals(signum).name in run["error"]
    # No temp directory of acb's left behind (tiktoken keeps its own cache there on purpose).
    assert [p.name for p in scratch.iterdir() if p.name != "data-gym-cache"] == []


@pytest.mark.skipif(bwrap_problem() is not None, reason="bubblewrap unusable here")
def test_a_signal_during_a_command_kills_it_and_records_the_change(
    wordstats_repo: Path, isolated_home: Path, tmp_path: Path
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    marker = wordstats_repo / "started"
    # A duration no other process on the machine sleeps for, so that pgrep finds only ours.
    sleeper = f"sleep 120.{uuid.uuid4().int % 10**9:09d}"
    command = f"echo change >> README.md; touch started; {sleeper}; touch finished"
    exit_code, _ = run_until(
        wordstats_repo,
        [Reply("", [("shell", {"command": command})]), Reply("never asked")],
        lambda _server: marker.exists(),
        signal.SIGTERM,
        scratch,
    )
    assert exit_code == 143
    run = finished_run(isolated_home)
    assert run["outcome"] == "interrupted"
    assert "README.md" in (run["diff"] or "")  # what was done is on record
    leftover = subprocess.run(["pgrep", "-f", sleeper], capture_output=True, text=True)
    assert leftover.stdout.strip() == ""
    assert not (wordstats_repo / "finished").exists()


def test_a_closed_terminal_ends_a_conversation_with_its_record(
    wordstats_repo: Path, isolated_home: Path
) -> None:
    from tests.helpers import spawn

    with MockModelServer([Reply("unused")]) as server:
        child = spawn(wordstats_repo, server.url, isolated_home)
        child.kill(signal.SIGHUP)
        child.expect(pexpect.EOF)
        child.close()
    assert child.exitstatus == 129, (child.exitstatus, child.signalstatus)
    run = finished_run(isolated_home)
    assert run["outcome"] == "interrupted" and "SIGHUP" in run["error"]


def test_nohup_is_kept_a_hangup_does_not_end_the_run(
    wordstats_repo: Path, isolated_home: Path
) -> None:
    """`nohup acb exec ... &` promises a run that outlives its terminal: SIGHUP set to be
    ignored by the parent stays ignored, and the run completes."""
    with MockModelServer([Fault(delay_s=3, then=Reply("Nothing to change."))]) as server:
        process = start_exec(wordstats_repo, server, ignored=(signal.SIGHUP,))
        try:
            deadline = time.monotonic() + 90
            while not server.requests and time.monotonic() < deadline:
                time.sleep(0.05)
            assert server.requests, "acb never asked the model"
            process.send_signal(signal.SIGHUP)
            code = process.wait(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert code == 0
    assert finished_run(isolated_home)["outcome"] == "completed"
