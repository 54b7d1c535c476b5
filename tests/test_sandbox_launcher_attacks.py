"""Attacks on the command launcher (sandbox/launcher.py) that succeeded: each test fails on the
code it was written against (c9eed46).

A Ctrl-C (or any exception) that reaches acb while it waits on the launcher leaves the launcher's
answer unread on its socket. The interrupted command is killed and the launcher goes back to the
pool, alive but one message behind: the next command on it reads the stale `returncode` as the
answer to its spawn request (KeyError 'pid'), the launcher is neither given back nor discarded,
and that command runs with no timeout, no reader and no status until acb exits. In `acb chat` a
Ctrl-C ends the turn and the conversation goes on, so the model's next command escapes its
timeout. An interrupt while acb waits for the pid is worse: the interrupted command itself is
never killed.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from autocodebase.sandbox import launcher as launcher_module
from autocodebase.sandbox.environment import command_environment
from autocodebase.sandbox.policy import Limits, SandboxPolicy
from autocodebase.sandbox.run import run_command


def policy(timeout_s: int) -> SandboxPolicy:
    # Limits on (the defaults): commands go through a launcher.
    return SandboxPolicy(mode="full-access", limits=Limits(timeout_s=timeout_s))


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


@pytest.fixture(autouse=True)
def fresh_launchers() -> Iterator[None]:
    # Whatever the attack leaves running dies with its launcher (the lifeline).
    launcher_module.close_all()
    yield
    launcher_module.close_all()


class Interrupted(KeyboardInterrupt):
    """What Ctrl-C raises in acb's main thread."""


def interrupt_after(seconds: float) -> None:
    def handler(signum: int, frame: object) -> None:
        raise Interrupted

    signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)


def test_the_command_after_an_interrupted_one_keeps_its_timeout_and_status(
    tmp_path: Path,
) -> None:
    env = command_environment()
    previous = signal.getsignal(signal.SIGALRM)
    try:
        interrupt_after(1.0)
        with pytest.raises(Interrupted):
            run_command(policy(30), "sleep 30", tmp_path, env)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    time.sleep(0.3)  # the launcher has answered the interrupted command's end by now

    pid_file = tmp_path / "pid"
    started = time.monotonic()
    outcome = run_command(
        policy(2), f"echo $$ > {pid_file}; echo next; sleep 30", tmp_path, env
    )  # on c9eed46: KeyError: 'pid', and the command runs on for 30 s
    assert outcome.timed_out, outcome
    assert outcome.output.strip() == "next"
    assert time.monotonic() - started < 10
    assert gone_within(int(pid_file.read_text()), 5), "the command outlived its timeout"

    again = run_command(policy(30), "echo third; exit 3", tmp_path, env)
    assert (again.exit_code, again.output.strip()) == (3, "third")


def test_a_command_interrupted_before_its_pid_came_back_does_not_run_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ctrl-C lands while acb blocks reading the launcher's first answer (the pid): that read
    # is tens of milliseconds on a fresh launcher (its Python starting). Raised at that very
    # read here, so that the timing is not left to chance.
    real_answer = launcher_module.Launcher._answer
    calls = {"n": 0}

    def answer_then_interrupt(self: launcher_module.Launcher) -> dict[str, object]:
        calls["n"] += 1
        if calls["n"] == 1:
            raise Interrupted
        return real_answer(self)

    monkeypatch.setattr(launcher_module.Launcher, "_answer", answer_then_interrupt)
    pid_file = tmp_path / "pid"
    with pytest.raises(Interrupted):
        run_command(policy(2), f"echo $$ > {pid_file}; sleep 30", tmp_path, command_environment())
    # Past its 2 s timeout: it may never have started (fine), but must not be running. On
    # c9eed46 it runs the full 30 s (until acb exits).
    time.sleep(6)
    if pid_file.exists() and pid_file.read_text().strip():
        assert not alive(int(pid_file.read_text())), "the interrupted command runs on"
