"""Real attempts on the host through the sandbox's own edges: kernel state writable as root,
protected paths that do not exist yet, credentials reached through symlinks or a workspace
inside $HOME, host sockets, unbounded memory and /tmp, secrets on a visible command line, and
the search tool's symlinks. Each failed on the sandbox before issue 15."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from autocodebase.models.base import ToolCall
from autocodebase.sandbox import bwrap as bwrap_module
from autocodebase.sandbox.bwrap import bwrap_command
from autocodebase.sandbox.environment import command_environment
from autocodebase.sandbox.limits import enforcement, shared_cgroup
from autocodebase.sandbox.policy import Limits, SandboxPolicy
from autocodebase.sandbox.run import CommandOutcome, run_command
from autocodebase.tools import default_toolbox
from autocodebase.tools.base import ToolContext
from tests.helpers import EventLog, run_acb

pytestmark = pytest.mark.skipif(
    bwrap_module.bwrap_problem() is not None,
    reason=f"bubblewrap unusable: {bwrap_module.bwrap_problem()}",
)


@pytest.fixture
def outside() -> Iterator[Path]:
    """A directory outside /tmp (which the sandbox replaces by its own, so a secret there would
    be hidden for the wrong reason): where these tests put a home, secrets and sockets."""
    base = Path("/var/tmp")
    if not base.is_dir():
        pytest.skip("no /var/tmp to stand in for a real home")
    made = Path(tempfile.mkdtemp(prefix="acb-hardening-", dir=base))
    yield made
    shutil.rmtree(made, ignore_errors=True)


def git_workspace(parent: Path, name: str = "ws") -> Path:
    ws = parent / name
    ws.mkdir(parents=True)
    subprocess.run(["git", "init", "-q"], cwd=ws, check=True)
    return ws


def sandboxed(
    workspace: Path,
    command: str,
    env: dict[str, str] | None = None,
    mode: str = "workspace-write",
    **limits: int,
) -> CommandOutcome:
    policy = SandboxPolicy(mode=mode, limits=Limits(timeout_s=30, **limits))  # type: ignore[arg-type]
    return run_command(policy, command, workspace, env or command_environment())


# -- class 3: kernel and system state -------------------------------------------------------


@pytest.mark.parametrize(
    "tunable", ["/proc/sys/kernel/core_pattern", "/proc/sys/vm/drop_caches", "/proc/sysrq-trigger"]
)
def test_kernel_tunables_are_read_only_even_for_root(tmp_path: Path, tunable: str) -> None:
    if not Path(tunable).exists():
        pytest.skip(f"{tunable} does not exist on this kernel")
    ws = git_workspace(tmp_path)
    # Writing back the value the file already has: harmless if the attempt got through, which
    # the assertion then reports. drop_caches and sysrq-trigger read as empty: "0" is no-op-ish
    # for drop_caches' parser and sysrq's "0" only sets the console log level.
    current = Path(tunable).read_text().strip() if tunable.endswith("core_pattern") else ""
    value = current or "0"
    outcome = sandboxed(ws, f"printf '%s\\n' '{value}' > {tunable} && echo WROTE")
    assert outcome.sandbox == "bubblewrap"
    assert "WROTE" not in outcome.output, f"{tunable} was writable: {os.geteuid()=}"
    assert "Read-only file system" in outcome.output or "Permission denied" in outcome.output


def test_sysfs_and_cgroups_are_read_only(tmp_path: Path) -> None:
    ws = git_workspace(tmp_path)
    outcome = sandboxed(ws, "mkdir /sys/fs/cgroup/pids/acb-escape && echo MADE")
    assert "MADE" not in outcome.output
    assert not Path("/sys/fs/cgroup/pids/acb-escape").exists()


# -- class 5: protected paths that do not exist yet -----------------------------------------


@pytest.mark.parametrize(
    "attempt",
    [
        "mkdir -p .acb && printf 'sandbox_mode = \"full-access\"\\n' > .acb/config.toml",
        "mkdir .acb; printf '[[approval]]\\nmatch = \"program\"\\n' > .acb/approvals.toml",
        "ln -s /tmp .acb",
        "mkdir elsewhere && mv elsewhere .acb",
    ],
)
def test_acb_dir_cannot_be_created_by_a_command(tmp_path: Path, attempt: str) -> None:
    ws = git_workspace(tmp_path)
    assert not (ws / ".acb").exists()
    outcome = sandboxed(ws, attempt)
    assert outcome.sandbox == "bubblewrap"
    assert outcome.exit_code != 0, outcome.output
    assert not (ws / ".acb").exists() and not (ws / ".acb").is_symlink()


def test_git_dir_cannot_be_created_where_there_is_none(tmp_path: Path) -> None:
    ws = tmp_path / "plain"
    ws.mkdir()
    hook = ".git/hooks/post-checkout"
    outcome = sandboxed(ws, f"git init -q . ; mkdir -p .git/hooks && echo 'touch pwned' > {hook}")
    assert outcome.exit_code != 0
    assert not (ws / ".git").exists()
    assert sorted(p.name for p in ws.iterdir()) == []  # the placeholders are gone too


def test_placeholders_leave_nothing_behind_and_work_still_happens(tmp_path: Path) -> None:
    ws = tmp_path / "plain"
    ws.mkdir()
    outcome = sandboxed(ws, "echo hello > note.txt && ls -a")
    assert outcome.exit_code == 0, outcome.output
    assert sorted(p.name for p in ws.iterdir()) == ["note.txt"]


def test_a_writable_roots_git_dir_is_protected_too(tmp_path: Path) -> None:
    ws = git_workspace(tmp_path)
    lib = git_workspace(tmp_path, "lib")
    policy = SandboxPolicy(writable_roots=(lib,), limits=Limits(timeout_s=30))
    hook = lib / ".git" / "hooks" / "pre-commit"
    outcome = run_command(
        policy,
        f"echo ok > {lib}/file.txt && echo 'touch pwned' > {hook}",
        ws,
        command_environment(),
    )
    assert (lib / "file.txt").read_text() == "ok\n"  # the root itself is writable
    assert outcome.exit_code != 0 and not hook.exists()


# -- class 6: credentials and host sockets --------------------------------------------------


def make_home(outside: Path) -> Path:
    home = outside / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_text("SSH-PRIVATE-KEY-MATERIAL\n")
    (home / ".ssh" / "authorized_keys").write_text("ssh-ed25519 AAAA original\n")
    (home / ".config" / "gh").mkdir(parents=True)
    (home / ".config" / "gh" / "hosts.yml").write_text("oauth_token: GH-TOKEN-VALUE\n")
    (home / ".cargo" / "bin").mkdir(parents=True)
    (home / ".cargo" / "credentials.toml").write_text('token = "CARGO-TOKEN-VALUE"\n')
    (home / ".pgpass").write_text("db:5432:*:me:PGPASS-VALUE\n")
    (home / ".bash_history").write_text("export TOKEN=HISTORY-VALUE\n")
    (home / "notes-unknown-to-acb.txt").write_text("UNLISTED-SECRET-VALUE\n")
    secrets = outside / "secrets" / "aws"
    secrets.mkdir(parents=True)
    (secrets / "credentials").write_text("aws_secret_access_key = AWS-SYMLINKED-VALUE\n")
    (home / ".aws").symlink_to(secrets)
    return home


SECRET_VALUES = (
    "SSH-PRIVATE-KEY-MATERIAL",
    "GH-TOKEN-VALUE",
    "CARGO-TOKEN-VALUE",
    "PGPASS-VALUE",
    "HISTORY-VALUE",
    "UNLISTED-SECRET-VALUE",
    "AWS-SYMLINKED-VALUE",
)
READ_EVERYTHING = (
    "cat ~/.ssh/id_ed25519 ~/.config/gh/hosts.yml ~/.cargo/credentials.toml ~/.pgpass "
    "~/.bash_history ~/notes-unknown-to-acb.txt ~/.aws/credentials {secrets}/credentials; "
    "grep -r VALUE ~ {outside} 2>/dev/null"
)


def home_env(home: Path) -> dict[str, str]:
    return {**command_environment(), "HOME": str(home)}


def test_credentials_are_hidden_through_symlinks_and_unknown_names(
    outside: Path, tmp_path: Path
) -> None:
    home = make_home(outside)
    ws = git_workspace(tmp_path)
    command = READ_EVERYTHING.format(secrets=outside / "secrets" / "aws", outside=outside)
    outcome = run_command(SandboxPolicy(limits=Limits(timeout_s=30)), command, ws, home_env(home))
    assert outcome.sandbox == "bubblewrap"
    leaked = [value for value in SECRET_VALUES if value in outcome.output]
    assert leaked == [], outcome.output


@pytest.mark.parametrize("where", ["inside-home", "is-home"])
def test_a_workspace_in_home_does_not_expose_or_let_write_ssh(outside: Path, where: str) -> None:
    home = make_home(outside)
    ws = home / "project" if where == "inside-home" else home
    if where == "inside-home":
        ws.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=ws, check=True)
    command = (
        "cat ~/.ssh/id_ed25519; echo 'ssh-ed25519 EVIL attacker' >> ~/.ssh/authorized_keys; "
        f"cat {home}/.ssh/id_ed25519 {home}/.pgpass"
    )
    outcome = run_command(SandboxPolicy(limits=Limits(timeout_s=30)), command, ws, home_env(home))
    assert "SSH-PRIVATE-KEY-MATERIAL" not in outcome.output
    assert "PGPASS-VALUE" not in outcome.output
    assert (home / ".ssh" / "authorized_keys").read_text() == "ssh-ed25519 AAAA original\n"


def test_acbs_own_ledger_is_hidden(
    outside: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = outside / "acb-state"
    state.mkdir()
    (state / "ledger.db").write_text("TRANSCRIPT-OF-ANOTHER-PROJECT")
    monkeypatch.setenv("ACB_HOME", str(state))
    ws = git_workspace(tmp_path)
    outcome = sandboxed(ws, f"cat {state}/ledger.db; ls -1 {state}")
    assert "TRANSCRIPT-OF-ANOTHER-PROJECT" not in outcome.output
    assert "ledger.db" not in outcome.output.splitlines()


def test_toolchains_in_home_stay_usable(outside: Path, tmp_path: Path) -> None:
    home = make_home(outside)
    tool = home / ".local" / "bin" / "acb-home-tool"
    tool.parent.mkdir(parents=True)
    tool.write_text("#!/bin/sh\necho TOOL-RAN\n")
    tool.chmod(0o755)
    ws = git_workspace(tmp_path)
    env = {**home_env(home), "PATH": f"{tool.parent}:{os.environ['PATH']}"}
    outcome = run_command(
        SandboxPolicy(limits=Limits(timeout_s=30)),
        f"acb-home-tool && {sys.executable} -c 'print(1 + 1)'",
        ws,
        env,
    )
    assert outcome.exit_code == 0, outcome.output
    assert "TOOL-RAN" in outcome.output and "2" in outcome.output


def connections_waiting(server: socket.socket) -> int:
    """Connections in the listen backlog: a connect() that got through waits there, so after
    the command has ended this is exact, with no timing involved."""
    server.setblocking(False)
    count = 0
    while True:
        try:
            client, _ = server.accept()
        except BlockingIOError:
            return count
        client.close()
        count += 1


@pytest.mark.parametrize("where", ["home", "run"])
def test_host_unix_sockets_cannot_be_reached(outside: Path, tmp_path: Path, where: str) -> None:
    home = make_home(outside)
    if where == "run":
        if not os.access("/run", os.W_OK):
            pytest.skip("cannot create a socket in /run as this user")
        path = Path("/run") / f"acb-test-{os.getpid()}-{time.monotonic_ns()}.sock"
    else:
        path = home / "docker.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(8)
    try:
        ws = git_workspace(tmp_path)
        code = (
            "import socket; s = socket.socket(socket.AF_UNIX); "
            f"s.connect({str(path)!r}); print('CONNECTED')"
        )
        outcome = run_command(
            SandboxPolicy(limits=Limits(timeout_s=30)),
            f'{sys.executable} -c "{code}"',
            ws,
            home_env(home),
        )
        waiting = connections_waiting(server)
    finally:
        server.close()
        path.unlink(missing_ok=True)
    assert "CONNECTED" not in outcome.output and waiting == 0, outcome.output


# -- class 9: limits that hold per command --------------------------------------------------


def test_memory_is_limited_for_the_whole_command(tmp_path: Path) -> None:
    if "memory cgroup" not in enforcement(512, 64)["memory"]:
        pytest.skip(f"no memory cgroup here: {enforcement(512, 64)['memory']}")
    ws = git_workspace(tmp_path)
    grab = (
        f"{sys.executable} -c \"b = bytearray(45 << 20); b[::4096] = b'x' * len(b[::4096]); "
        "import time; time.sleep(1); print('HELD')\""
    )
    outcome = sandboxed(ws, f"for i in 1 2 3 4; do {grab} & done; wait", memory_mb=64)
    # Four processes of 45 MB each each fit a 64 MB per-process limit; together they do not.
    assert outcome.output.splitlines().count("HELD") < 4, outcome.output


def test_enforcement_says_how_each_limit_holds() -> None:
    said = enforcement(512, 4096)
    assert set(said) == {"processes", "memory"}
    cgroup = shared_cgroup(512, 4096)
    assert ("cgroup" in said["memory"]) == ("memory" in cgroup.paths)
    if "memory" not in cgroup.paths:
        assert "per process only" in said["memory"]
    assert enforcement(0, 0) == {"processes": "off", "memory": "off"}


@pytest.mark.parametrize("directory", ["/tmp", "/dev/shm"])
def test_private_tmp_and_shm_are_bounded(tmp_path: Path, directory: str) -> None:
    ws = git_workspace(tmp_path)
    outcome = sandboxed(
        ws, f"dd if=/dev/zero of={directory}/fill bs=1M count=64 2>&1; echo done", tmp_mb=16
    )
    assert "No space left on device" in outcome.output, outcome.output


# -- class 7 (sandbox side): no value passed in is visible in `ps` --------------------------


def test_environment_values_are_not_on_any_command_line(tmp_path: Path) -> None:
    marker = f"acb-env-value-{time.monotonic_ns()}"
    env = {**command_environment(), "ACB_TEST_VALUE": marker}
    ws = git_workspace(tmp_path)
    argv = bwrap_command(SandboxPolicy(), ws, ws, ["true"], env)
    assert not any(marker in part for part in argv)
    command = 'printf %s "$ACB_TEST_VALUE" > started && while [ ! -e stop ]; do sleep 0.05; done'
    result: list[CommandOutcome] = []
    runner = threading.Thread(
        target=lambda: result.append(
            run_command(SandboxPolicy(limits=Limits(timeout_s=60)), command, ws, env)
        )
    )
    runner.start()
    try:
        deadline = time.monotonic() + 50
        while not (ws / "started").exists() and runner.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert (ws / "started").exists(), "the command never saw its environment"
        seen = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    if marker.encode() in (entry / "cmdline").read_bytes():
                        seen.append(entry.name)
        assert seen == []
    finally:
        (ws / "stop").touch()
        runner.join()
    assert result and result[0].exit_code == 0
    assert (ws / "started").read_text() == marker  # the command did get the value


# -- class 10: the search tool's fallback ---------------------------------------------------


def test_search_fallback_does_not_follow_symlinks_out(
    outside: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = make_home(outside)
    ws = git_workspace(tmp_path)
    (ws / "app.py").write_text("VALUE = 1\n")
    (ws / "creds").symlink_to(home / ".aws" / "credentials")
    (ws / "sshdir").symlink_to(home / ".ssh")
    (ws / "etc-link").symlink_to("/etc/passwd")
    monkeypatch.setattr("autocodebase.tools.search.which", lambda _name: None)
    context = ToolContext(workspace=ws, emit=EventLog())
    call = ToolCall("c1", "search", {"pattern": "VALUE|root:"}, "")
    found, _ = default_toolbox().call(context, call)
    assert "app.py:1:VALUE = 1" in found.output
    for leaked in ("AWS-SYMLINKED-VALUE", "SSH-PRIVATE-KEY-MATERIAL", "root:"):
        assert leaked not in found.output


# -- the posture report ---------------------------------------------------------------------


def test_sandbox_check_reports_the_posture_by_trying(tmp_path: Path) -> None:
    ws = git_workspace(tmp_path)
    done = run_acb("sandbox", "--check", "--json", "-C", str(ws), cwd=ws)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    for probe in ("kernel tunables", "workspace", ".git/.acb", "network"):
        assert checks[f"probe: {probe}"]["status"] == "ok", checks[f"probe: {probe}"]
    assert checks["bubblewrap"]["status"] == "ok"
    assert ("root" in checks["user"]["detail"]) == (os.geteuid() == 0)
    assert not (ws / ".acb").exists()  # the probes leave no placeholder behind


def test_posture_flags_an_unsandboxed_fallback_and_a_failed_probe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from autocodebase.sandbox import posture as posture_module

    ws = git_workspace(tmp_path)
    policy = SandboxPolicy(fallback="none")
    monkeypatch.setattr(
        posture_module, "_host_paths_to_hide", lambda env: [Path(ws / ".git" / "HEAD")]
    )
    checks = {c.name: c for c in posture_module.posture(policy, ws, command_environment())}
    assert checks["fallback"].status == "warn" and "UNSANDBOXED" in checks["fallback"].detail
    # A path the sandbox does show, offered as one it must hide: the probe must say so.
    assert checks["probe: host data"].status == "fail"


# -- programs acb runs on the host never come from where a command could write ----------------


def test_a_planted_program_on_a_workspace_path_entry_is_not_run_on_the_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = git_workspace(tmp_path)
    marker = tmp_path / "ran-on-host"
    (ws / "app.py").write_text("needle = 1\n")
    plant = (
        "mkdir -p bin && for p in rg git bwrap; do "
        f"printf '#!/bin/sh\\ntouch {marker}\\n' > bin/$p && chmod +x bin/$p; done"
    )
    assert sandboxed(ws, plant).exit_code == 0
    monkeypatch.setenv("PATH", f"{ws / 'bin'}{os.pathsep}bin{os.pathsep}{os.environ['PATH']}")
    from autocodebase import programs

    for name in ("rg", "git", "bwrap"):
        found = programs.which(name)
        assert found is None or not found.startswith(str(ws)), found
    context = ToolContext(workspace=ws, emit=EventLog())
    result, _ = default_toolbox().call(context, ToolCall("c1", "search", {"pattern": "needle"}, ""))
    assert "app.py:1:needle = 1" in result.output
    assert sandboxed(ws, "true").exit_code == 0  # bwrap itself is looked up again here
    assert not marker.exists()


def test_acbs_own_interpreter_inside_the_workspace_stays_read_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = git_workspace(tmp_path)
    venv = ws / ".venv"
    site = venv / "lib" / "python3" / "site-packages"
    site.mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    monkeypatch.setattr(sys, "prefix", str(venv))
    outcome = sandboxed(ws, f"echo 'import os; os.system(\"id\")' > {site}/evil.pth")
    assert outcome.exit_code != 0 and not (site / "evil.pth").exists()
    assert sandboxed(ws, "echo fine > notes.txt").exit_code == 0  # the rest stays writable


def test_the_empty_stand_ins_for_hidden_trees_hold_almost_nothing(
    outside: Path, tmp_path: Path
) -> None:
    home = make_home(outside)
    ws = git_workspace(tmp_path)
    outcome = run_command(
        SandboxPolicy(limits=Limits(timeout_s=30, tmp_mb=16)),
        "for d in /run /mnt /srv; do test -d $d && "
        "dd if=/dev/zero of=$d/fill bs=1M count=4 2>&1 | grep -c 'No space'; done; "
        "dd if=/dev/zero of=$HOME/fill bs=1M count=64 2>&1 | tail -1; echo ok > $HOME/small",
        ws,
        home_env(home),
    )
    # /run is always there; each stand-in takes at most a MiB, the home stand-in its bound.
    assert outcome.output.count("1\n") >= 1, outcome.output
    assert "No space left on device" in outcome.output
    assert not (home / "small").exists() and not (home / "fill").exists()  # and private
    assert not Path("/run/fill").exists()


# -- found by a red-team pass on the hardening itself ---------------------------------------


@pytest.mark.parametrize("target", ["../..", "docs"])
def test_a_committed_acb_symlink_stops_commands_instead_of_being_followed(
    outside: Path, target: str
) -> None:
    home = make_home(outside)
    ws = home / "src" / "proj"
    (ws / "docs").mkdir(parents=True)
    subprocess.run(["git", "init", "-q"], cwd=ws, check=True)
    (ws / ".acb").symlink_to(target)
    command = (
        "cat ~/.ssh/id_ed25519 .acb/.ssh/id_ed25519; "
        "rm .acb && mkdir .acb && echo 'sandbox_mode = \"full-access\"' > .acb/config.toml"
    )
    outcome = run_command(SandboxPolicy(limits=Limits(timeout_s=30)), command, ws, home_env(home))
    assert outcome.refused is not None and "symbolic link" in outcome.output
    assert "SSH-PRIVATE-KEY-MATERIAL" not in outcome.output
    assert (ws / ".acb").is_symlink() and not (ws / "docs" / "config.toml").exists()


def test_no_user_namespace_can_be_made_inside(tmp_path: Path) -> None:
    if not bwrap_module.nested_userns_blocked():
        pytest.skip("this bubblewrap cannot forbid nested user namespaces (--disable-userns)")
    ws = git_workspace(tmp_path)
    # With one, a command gains every capability in it and can mount its own cgroup
    # hierarchy to lift its memory and process limits.
    code = (
        "import ctypes\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "flags = 0x10000000 | 0x00020000 | 0x02000000  # NEWUSER | NEWNS | NEWCGROUP\n"
        "print('UNSHARED' if libc.unshare(flags) == 0 else f'refused {ctypes.get_errno()}')\n"
    )
    (ws / "try_unshare.py").write_text(code)
    outcome = sandboxed(ws, f"{sys.executable} try_unshare.py; unshare -U -r true && echo UNSHARED")
    assert "UNSHARED" not in outcome.output, outcome.output
    assert "refused" in outcome.output


KEY_SPEC_USER_KEYRING = -4
KEYCTL_SEARCH, KEYCTL_READ, KEYCTL_INVALIDATE = 10, 11, 21
SYS_ADD_KEY, SYS_KEYCTL = 248, 250


def test_the_kernel_keyring_of_the_user_is_out_of_reach(tmp_path: Path) -> None:
    import ctypes
    import platform

    if platform.machine() != "x86_64":
        pytest.skip("syscall numbers below are x86_64's")
    if not bwrap_module.nested_userns_blocked():
        pytest.skip("without a user namespace of its own the sandbox shares the keyring")
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    name = f"acb-test-{os.getpid()}-{time.monotonic_ns()}".encode()
    payload = b"KEYRING-SECRET-VALUE"
    serial = libc.syscall(SYS_ADD_KEY, b"user", name, payload, len(payload), KEY_SPEC_USER_KEYRING)
    if serial < 0:
        pytest.skip(f"cannot add a key here (errno {ctypes.get_errno()})")
    try:
        probe = (
            "import ctypes\n"
            "libc = ctypes.CDLL(None, use_errno=True)\n"
            "libc.syscall.restype = ctypes.c_long\n"
            f"s = libc.syscall({SYS_KEYCTL}, {KEYCTL_SEARCH}, {KEY_SPEC_USER_KEYRING}, "
            f"b'user', {name!r}, 0)\n"
            "buf = ctypes.create_string_buffer(256)\n"
            f"n = libc.syscall({SYS_KEYCTL}, {KEYCTL_READ}, s, buf, 256) if s > 0 else -1\n"
            "print('FOUND', buf.raw[:max(n, 0)]) if n > 0 else print('not found', s)\n"
        )
        ws = git_workspace(tmp_path)
        (ws / "probe.py").write_text(probe)
        outcome = sandboxed(ws, f"{sys.executable} probe.py")
    finally:
        libc.syscall(SYS_KEYCTL, KEYCTL_INVALIDATE, serial)
    assert "KEYRING-SECRET-VALUE" not in outcome.output and "not found" in outcome.output


def test_dev_itself_holds_nothing(tmp_path: Path) -> None:
    ws = git_workspace(tmp_path)
    outcome = sandboxed(
        ws, "echo x > /dev/acb-fill && echo WROTE; echo ok > /dev/null && echo NULL"
    )
    assert "WROTE" not in outcome.output and "NULL" in outcome.output


def test_a_fresh_acb_never_runs_a_bwrap_planted_on_a_workspace_path(tmp_path: Path) -> None:
    ws = git_workspace(tmp_path)
    marker = tmp_path / "planted-ran"
    venv_bin = ws / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    for name in ("bwrap", "git"):
        (venv_bin / name).write_text(f"#!/bin/sh\ntouch {marker}\n")
        (venv_bin / name).chmod(0o755)
    env = {"PATH": f"{venv_bin}{os.pathsep}{os.environ['PATH']}"}
    done = run_acb("sandbox", "-C", str(ws), "--", "echo", "hello", cwd=ws, env=env)
    assert done.stdout == "hello\n", done.stderr
    check = run_acb("sandbox", "--check", "-C", str(ws), cwd=ws, env=env)
    assert check.returncode == 0, check.stdout
    assert not marker.exists()


def test_search_does_not_show_what_commands_cannot_read_when_the_workspace_is_home(
    outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = make_home(outside)
    (home / "project.py").write_text("VALUE = 'visible'\n")
    subprocess.run(["git", "init", "-q"], cwd=home, check=True)
    monkeypatch.setenv("HOME", str(home))
    context = ToolContext(workspace=home, emit=EventLog(), env=home_env(home))
    toolbox = default_toolbox()
    for engine in ("rg", "python"):
        if engine == "python":
            monkeypatch.setattr("autocodebase.tools.search.which", lambda _name: None)
        whole, _ = toolbox.call(context, ToolCall("c1", "search", {"pattern": "VALUE"}, ""))
        assert "project.py:1" in whole.output
        for path in (".ssh/id_ed25519", ".ssh", ".pgpass"):
            call = ToolCall("c2", "search", {"pattern": "VALUE|KEY", "path": path}, "")
            result, _ = toolbox.call(context, call)
            assert "SSH-PRIVATE-KEY" not in result.output and "PGPASS-VALUE" not in result.output
            assert "hidden" in result.output, (engine, path, result.output)


def test_an_editable_install_inside_the_workspace_is_read_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = git_workspace(tmp_path)
    package = ws / "src" / "autocodebase_like"
    package.mkdir(parents=True)
    (package / "cli.py").write_text("print('original')\n")
    monkeypatch.setattr(sys, "path", [*sys.path, str(ws / "src")])
    outcome = sandboxed(ws, f"echo 'import os' >> {package}/cli.py; echo ok > other.txt")
    assert "Read-only file system" in outcome.output
    assert (package / "cli.py").read_text() == "print('original')\n"
    assert (ws / "other.txt").read_text() == "ok\n"


def test_acb_sandbox_says_what_the_project_config_may_not_loosen(tmp_path: Path) -> None:
    ws = git_workspace(tmp_path)
    (ws / ".acb").mkdir()
    (ws / ".acb" / "config.toml").write_text('sandbox_mode = "full-access"\n')
    done = run_acb("sandbox", "-C", str(ws), "--", "touch", "/etc/acb-loosened", cwd=ws)
    assert "acb: warning:" in done.stderr and "sandbox_mode" in done.stderr
    assert done.returncode != 0 and not Path("/etc/acb-loosened").exists()
