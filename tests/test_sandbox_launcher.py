"""The command launcher (sandbox/launcher.py): commands are born in the limits' cgroup instead
of joining it, and nothing about that may loosen the sandbox — no extra descriptor reaches a
command, a command dies with acb, a dead launcher is replaced, concurrent commands keep their
own output, and acb leaves no launcher or cgroup behind."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from autocodebase.sandbox import launcher as launcher_module
from autocodebase.sandbox.environment import command_environment
from autocodebase.sandbox.limits import shared_cgroup
from autocodebase.sandbox.policy import Limits, SandboxPolicy
from autocodebase.sandbox.run import run_command

REPO = Path(__file__).resolve().parents[1]


def policy(mode: str = "full-access", **limits: int) -> SandboxPolicy:
    return SandboxPolicy(mode=mode, limits=Limits(timeout_s=30, **limits))  # type: ignore[arg-type]


def wait_until_gone(pid: int, within_s: float = 10.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0]
        except (OSError, IndexError):
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False


def test_a_command_gets_no_descriptor_but_its_output(tmp_path: Path) -> None:
    # The launcher holds a socket to acb and a lifeline pipe: a command that inherited either
    # could start commands outside its own limits or keep the launcher alive.
    outcome = run_command(policy(), "ls -l /proc/$$/fd; true", tmp_path, command_environment())
    assert outcome.exit_code == 0, outcome.output
    held = dict(
        line.split(" -> ")[0].split()[-1:] + line.split(" -> ")[1:]
        for line in outcome.output.splitlines()
        if " -> " in line
    )
    assert held["0"] == "/dev/null"
    assert held["1"].startswith("pipe:") and held["2"] == held["1"]
    others = {fd: target for fd, target in held.items() if fd not in {"0", "1", "2"}}
    assert not [t for t in others.values() if t.startswith(("socket:", "pipe:"))], held


def test_commands_are_born_inside_the_cgroup(tmp_path: Path) -> None:
    cgroup = shared_cgroup(512, 8192)
    if not cgroup.paths:
        pytest.skip("no cgroup can be made here")
    outcome = run_command(policy(), "cat /proc/self/cgroup", tmp_path, command_environment())
    for controller, directory in cgroup.paths.items():
        line = next(
            line for line in outcome.output.splitlines() if controller in line.split(":")[1]
        )
        assert line.endswith(directory.name), (controller, outcome.output)


def test_a_command_dies_with_acb(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(REPO / "src")!r})
        from pathlib import Path
        from autocodebase.sandbox.environment import command_environment
        from autocodebase.sandbox.policy import Limits, SandboxPolicy
        from autocodebase.sandbox.run import run_command
        run_command(
            SandboxPolicy(mode="full-access", limits=Limits(timeout_s=120)),
            "echo $$ > pid; exec sleep 97",
            Path({str(tmp_path)!r}),
            command_environment(),
        )
        """
    )
    acb = subprocess.Popen([sys.executable, "-c", script])
    pid_file = tmp_path / "pid"
    deadline = time.monotonic() + 20
    while not (pid_file.exists() and pid_file.read_text().strip()):
        assert time.monotonic() < deadline, "the command never started"
        time.sleep(0.05)
    command_pid = int(pid_file.read_text())
    acb.kill()
    acb.wait()
    assert wait_until_gone(command_pid), "the command outlived acb"


def test_a_killed_launcher_is_replaced(tmp_path: Path) -> None:
    env = command_environment()
    assert run_command(policy(), "true", tmp_path, env).exit_code == 0
    for pid in launcher_module.launcher_pids():
        os.kill(pid, 9)
        assert wait_until_gone(pid)
    outcome = run_command(policy(), "echo again", tmp_path, env)
    assert (outcome.exit_code, outcome.output.strip()) == (0, "again")


def test_a_launcher_killed_during_a_command_is_reported_not_hung(tmp_path: Path) -> None:
    env = command_environment()

    def kill_launchers_soon() -> None:
        time.sleep(0.5)
        for pid in launcher_module.launcher_pids():
            os.kill(pid, 9)

    killer = threading.Thread(target=kill_launchers_soon)
    killer.start()
    started = time.monotonic()
    outcome = run_command(policy(), "sleep 20", tmp_path, env)
    killer.join()
    assert outcome.exit_code is None
    assert time.monotonic() - started < 15
    assert run_command(policy(), "true", tmp_path, env).exit_code == 0


def test_concurrent_commands_keep_their_own_output_and_status(tmp_path: Path) -> None:
    env = command_environment()
    results: dict[int, tuple[int | None, str]] = {}

    def one(number: int) -> None:
        outcome = run_command(
            policy(), f"sleep 0.{number}; echo out-{number}; exit {number}", tmp_path, env
        )
        results[number] = (outcome.exit_code, outcome.output.strip())

    threads = [threading.Thread(target=one, args=(n,)) for n in range(1, 5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {n: (n, f"out-{n}") for n in range(1, 5)}


def test_a_program_that_cannot_start_is_reported(tmp_path: Path) -> None:
    outcome = run_command(policy(), "true", tmp_path / "missing", command_environment())
    assert outcome.exit_code is None
    assert outcome.output.startswith("could not start the command")
    assert run_command(policy(), "true", tmp_path, command_environment()).exit_code == 0


def test_acb_leaves_no_launcher_or_cgroup_behind(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(REPO / "src")!r})
        from pathlib import Path
        from autocodebase.sandbox import launcher
        from autocodebase.sandbox.environment import command_environment
        from autocodebase.sandbox.limits import shared_cgroup
        from autocodebase.sandbox.policy import SandboxPolicy
        from autocodebase.sandbox.run import run_command
        run_command(SandboxPolicy(mode="full-access"), "true", Path({str(tmp_path)!r}),
                    command_environment())
        print(*launcher.launcher_pids())
        print(*shared_cgroup(512, 8192).directories())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    pids, directories = done.stdout.splitlines()
    assert pids
    for pid in pids.split():
        assert wait_until_gone(int(pid))
    for directory in directories.split():
        assert not Path(directory).exists()


def test_the_launcher_holds_none_of_acbs_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Outside bubblewrap a command can read its parent's environment, and its parent is the
    # launcher: it must not carry acb's API keys.
    launcher_module.close_all()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-launcher-must-not-hold-this-0123456789")
    outcome = run_command(
        policy(),
        "tr '\\0' '\\n' < /proc/$PPID/environ; echo end",
        tmp_path,
        {"PATH": "/usr/bin:/bin"},
    )
    assert outcome.output.strip().endswith("end"), outcome.output
    assert "sk-launcher-must-not-hold-this" not in outcome.output
