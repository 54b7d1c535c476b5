"""The deploy supervisor is no door out of the sandbox: real attempts, as an attacker would make
them, against a live deployment of the example service.

The supervisor's private directory is put where sandboxed commands *can* see it (/var/tmp is
bound read-only into the sandbox, unlike /tmp), so these tests do not lean on hiding: a command
that finds the socket and reads the token must still be refused. Host markers live under the
test's /tmp directory, which no sandboxed command can write (its /tmp is private)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from autocodebase.sandbox.bwrap import bwrap_problem
from autocodebase.sandbox.environment import command_environment
from autocodebase.sandbox.policy import SandboxPolicy
from autocodebase.sandbox.run import run_command
from tests.conftest import EXAMPLE, commit_all, git
from tests.helpers import free_port, run_acb

pytestmark = [
    pytest.mark.skipif(bwrap_problem() is not None, reason="needs bubblewrap"),
    pytest.mark.slow,  # end-to-end: `make test-slow`, not `make test`
]

ATTACK = r"""
import json, os, socket, stat, sys
marker, places = sys.argv[1], sys.argv[2:]
def sockets():
    for place in places:
        for top, dirs, files in os.walk(place):
            for name in dirs + files:
                path = os.path.join(top, name)
                try:
                    if stat.S_ISSOCK(os.lstat(path).st_mode):
                        yield path
                except OSError:
                    pass
argv = ["sh", "-c", "touch " + marker]
for path in sockets():
    token = ""
    try:
        token = open(os.path.join(os.path.dirname(path), "token")).read().strip()
    except OSError:
        pass
    for release in ("HEAD", "0" * 40, "../../../bin"):
        message = {"op": "start", "port": 1, "argv": argv, "cwd": "/", "env": dict(os.environ),
                   "log": "/dev/null", "release": release, "command": " ".join(argv),
                   "token": token}
        client = socket.socket(socket.AF_UNIX)
        client.settimeout(10)
        try:
            client.connect(path)
        except OSError as error:
            print(path, "unreachable:", error)
            continue
        try:
            client.sendall((json.dumps(message) + "\n").encode())
        except OSError as error:  # refused peers are answered, and hung up on, unread
            print(path, "send failed:", error)
        try:
            print(path, "token" if token else "no token", client.recv(65536).decode().strip())
        except OSError as error:
            print(path, "no answer:", error)
        client.close()
"""


@pytest.fixture
def runtime_dir() -> Iterator[Path]:
    """A short XDG_RUNTIME_DIR that sandboxed commands can see (read-only)."""
    path = Path(tempfile.mkdtemp(prefix="acb-rt-", dir="/var/tmp"))
    path.chmod(0o700)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def deployed(tmp_path: Path, runtime_dir: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    root = tmp_path / "ws"
    shutil.copytree(EXAMPLE, root)
    config = (root / ".acb/deploy.toml").read_text()
    (root / ".acb/deploy.toml").write_text(config.replace("port = 8765", f"port = {free_port()}"))
    commit_all(root, "v1", init=True)
    env = {"XDG_RUNTIME_DIR": str(runtime_dir)}
    done = run_acb("deploy", cwd=root, env=env)
    assert done.returncode == 0, done.stderr
    yield root, env
    run_acb("deploy", "--stop", cwd=root, env=env)


def sockets_of(*places: Path) -> list[Path]:
    """Every control socket a deployment left where an attacker would look."""
    found = []
    for place in places:
        for top, _, files in os.walk(place):
            found += [Path(top) / n for n in files if Path(top, n).is_socket()]
    return found


def appears(path: Path, within_s: float = 3.0) -> bool:
    """Whether `path` shows up within the deadline (a host process started by the supervisor
    creates it within milliseconds; absence is only ever asserted after the full wait)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if path.exists():
            return True
        time.sleep(0.05)
    return path.exists()


def serving(port: int, within_s: float = 2.0) -> list[int]:
    """The processes whose command line names `port` (a release's `--port N`, its bwrap's
    too) at any time within the deadline: an orphaned release may take a moment to start."""
    deadline = time.monotonic() + within_s
    while True:
        found = []
        for entry in Path("/proc").iterdir():
            try:
                line = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            if f"--port {port} ".encode() in line + b" ":
                found.append(int(entry.name))
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def ask(path: Path, message: dict[str, object]) -> dict[str, object]:
    with socket.socket(socket.AF_UNIX) as client:
        client.settimeout(10)
        client.connect(str(path))
        client.sendall((json.dumps(message) + "\n").encode())
        reply: dict[str, object] = json.loads(client.makefile().readline() or "{}")
    return reply


@pytest.mark.parametrize("mode", ["read-only", "workspace-write"])
def test_a_sandboxed_command_cannot_make_the_supervisor_run_anything(
    deployed: tuple[Path, dict[str, str]], runtime_dir: Path, tmp_path: Path, mode: str
) -> None:
    root, _ = deployed
    marker = tmp_path / f"pwned-{mode}"
    script = root / "attack.py"  # the model wrote it; it runs in the sandbox
    script.write_text(ATTACK)
    command = f"python3 attack.py {marker} {root} {runtime_dir} /tmp"
    policy = SandboxPolicy(mode="read-only" if mode == "read-only" else "workspace-write")
    outcome = run_command(policy, command, root, command_environment())
    assert outcome.sandbox == "bubblewrap" and outcome.exit_code == 0, outcome.output
    assert "control.sock" in outcome.output, "the attacker found the socket (and its token)"
    assert not appears(marker), outcome.output
    assert '"ok": true' not in outcome.output
    assert "refused" in outcome.output and "namespace" in outcome.output


def test_a_host_process_without_the_token_is_refused(
    deployed: tuple[Path, dict[str, str]], runtime_dir: Path, tmp_path: Path
) -> None:
    root, _ = deployed
    marker = tmp_path / "pwned-host"
    (control,) = sockets_of(root, runtime_dir)
    argv = ["sh", "-c", f"touch {marker}"]
    for token in ({}, {"token": ""}, {"token": "0" * 64}, {"token": ["x"]}):
        assert ask(control, {"op": "status", **token})["ok"] is False
        start = {
            "op": "start",
            "port": free_port(),
            "argv": argv,
            "cwd": "/",
            "env": {},
            "log": "/dev/null",
            "release": "HEAD",
            **token,
        }
        reply = ask(control, start)
        assert reply["ok"] is False and "token" in str(reply["error"])
    assert not appears(marker)


def test_the_supervisor_starts_releases_acb_built_and_nothing_else(
    deployed: tuple[Path, dict[str, str]], runtime_dir: Path, tmp_path: Path
) -> None:
    root, _ = deployed
    marker = tmp_path / "pwned-argv"
    (control,) = sockets_of(root, runtime_dir)
    token_file = control.parent / "token"
    token = token_file.read_text().strip() if token_file.is_file() else ""
    status = ask(control, {"op": "status", "token": token})
    assert status["ok"] is True, "with the token, the host's own client is heard"
    head = git(root, "rev-parse", "HEAD").strip()
    git(root, "commit", "-q", "--allow-empty", "-m", "never built")
    unbuilt = git(root, "rev-parse", "HEAD").strip()
    (root / ".acb/releases" / unbuilt).mkdir()  # a directory alone is not a release
    argv = ["sh", "-c", f"touch {marker}"]
    for release in ("HEAD", head[:12], "../" + head, head.upper(), unbuilt, "f" * 64, None, 7):
        reply = ask(
            control,
            {
                "op": "start",
                "release": release,
                "argv": argv,
                "cwd": "/",
                "env": {},
                "log": "/dev/null",
                "token": token,
            },
        )
        assert reply["ok"] is False, (release, reply)
    for _ in range(5):  # stopped at once: the inner bwrap once outlived its outer one here
        again = ask(control, {"op": "start", "release": head, "token": token})
        assert again["ok"] is True and isinstance(again["port"], int), again
        ask(control, {"op": "stop-backend", "port": again["port"], "token": token})
        assert not serving(again["port"]), "a stopped release left a process behind"
    for switch in ({"op": "switch", "port": free_port()}, {"op": "shadow", "port": 22}):
        assert ask(control, {**switch, "token": token})["ok"] is False
    assert not appears(marker)


SETUP = """
import pathlib
from setuptools import setup
pathlib.Path("ran-setup").write_text("the build ran, in the release directory")
for target in {targets!r}:
    try:
        pathlib.Path(target).write_text("written by setup.py")
    except OSError:
        pass
setup(name="evil", version="1", py_modules=[])
"""


def test_a_release_build_runs_in_the_sandbox(
    deployed: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    root, env = deployed
    targets = [str(tmp_path / "pwned-build"), str(root / "PWNED"), str(root / ".acb/PWNED")]
    (root / "setup.py").write_text(SETUP.format(targets=targets))
    (root / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
    )
    git(root, "add", "setup.py", "pyproject.toml")
    git(root, "commit", "-qm", "a build with side effects")
    sha = git(root, "rev-parse", "HEAD").strip()
    offline = {**env, "PIP_NO_INDEX": "1", "PIP_NO_BUILD_ISOLATION": "0"}
    run_acb("deploy", "--json", cwd=root, env=offline)
    assert (root / ".acb/releases" / sha / "ran-setup").is_file(), "setup.py did run"
    for target in targets:
        assert not Path(target).exists(), f"the build wrote {target}"


def test_acb_ci_makes_its_virtualenv_in_the_sandbox(tmp_path: Path) -> None:
    """Making a virtualenv runs its interpreter, which reads every `.pth` file already in its
    site-packages: one committed there must not run on the host."""
    from autocodebase.delivery.prove import VENV, prove

    root = tmp_path / "repo"
    marker = tmp_path / "pwned-ci"
    site = root / VENV / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    (site / "evil.pth").write_text(f"import pathlib; pathlib.Path({str(marker)!r}).touch()\n")
    (root / "app.py").write_text("print('hi')\n")
    commit_all(root, "a poisoned virtualenv", init=True)
    workflow = (
        "jobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - run: python app.py\n"
    )
    proof = prove(root, ".github/workflows/ci.yml", workflow, "github")
    assert proof.passed, proof.failure()
    assert not marker.exists()


def test_host_side_writes_in_the_workspace_never_follow_a_symlink(
    tmp_path: Path, runtime_dir: Path
) -> None:
    """The supervisor appends a release's own output to its log in `.acb/deploy/`: a link
    planted there (say, while `.acb` did not exist yet) must not carry it into a host file."""
    root = tmp_path / "ws"
    shutil.copytree(EXAMPLE, root)
    config = (root / ".acb/deploy.toml").read_text()
    (root / ".acb/deploy.toml").write_text(config.replace("port = 8765", f"port = {free_port()}"))
    commit_all(root, "v1", init=True)
    sha = git(root, "rev-parse", "HEAD").strip()
    profile = tmp_path / "profile"
    profile.write_text("# the user's shell profile\n")
    logs = root / ".acb/deploy/default/logs"
    logs.mkdir(parents=True)
    (logs / f"{sha}.log").symlink_to(profile)
    env = {"XDG_RUNTIME_DIR": str(runtime_dir)}
    try:
        done = run_acb("deploy", cwd=root, env=env)
    finally:
        run_acb("deploy", "--stop", cwd=root, env=env)
    assert done.returncode != 0 and "symlink" in done.stderr
    assert profile.read_text() == "# the user's shell profile\n"


def test_the_control_directory_is_private_short_and_outside_the_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from autocodebase.delivery.control import SOCKET_NAME, ControlError, control_dir, private_dir

    root = tmp_path / "ws"
    root.mkdir()
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(deep))
    chosen = control_dir(root, "default")
    assert len(str(chosen / SOCKET_NAME)) <= 100, "too long a runtime dir is passed over"
    assert root not in chosen.parents and chosen.stat().st_mode & 0o777 == 0o700
    assert control_dir(root, "staging") != chosen
    runtime = Path(tempfile.mkdtemp(prefix="acb-rt-", dir="/var/tmp"))
    try:
        (runtime / "acb").symlink_to(root)  # someone else's link where ours would go
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
        monkeypatch.setenv("ACB_HOME", str(runtime / "state"))
        elsewhere = control_dir(root, "default")
        assert runtime / "acb" not in elsewhere.parents and root not in elsewhere.parents
        with pytest.raises(ControlError):
            private_dir(runtime / "acb")
    finally:
        shutil.rmtree(runtime, ignore_errors=True)


def test_a_release_cannot_make_its_supervisor_run_anything(
    tmp_path: Path, runtime_dir: Path
) -> None:
    """The deployed app is the repository's code too, a child of the supervisor with the host's
    network: at start-up it goes for the control socket, and is refused like any sandbox. (The
    workspace is outside /tmp here, as in real life, so the release could see all of it.)"""
    root = runtime_dir / "ws"
    shutil.copytree(EXAMPLE, root)
    marker = tmp_path / "pwned-release"
    (root / "attack.py").write_text(ATTACK)
    serve = "exec python -m wordstats.service --host {host} --port {port}"
    command = f"sh -c 'python3 attack.py {marker} {runtime_dir} > attack.out 2>&1; {serve}'"
    config = (root / ".acb/deploy.toml").read_text()
    config = config.replace("port = 8765", f"port = {free_port()}")
    config = config.replace(config.splitlines()[1], f'command = "{command}"')
    (root / ".acb/deploy.toml").write_text(config)
    commit_all(root, "v1: an app that attacks", init=True)
    env = {"XDG_RUNTIME_DIR": str(runtime_dir)}
    try:
        done = run_acb("deploy", cwd=root, env=env)
    finally:
        run_acb("deploy", "--stop", cwd=root, env=env)
    assert done.returncode == 0, done.stderr
    sha = git(root, "rev-parse", "HEAD").strip()
    said = (root / ".acb/releases" / sha / "attack.out").read_text()
    assert "control.sock" in said and "namespace" in said and '"ok": true' not in said, said
    assert not appears(marker)


def test_a_project_package_named_like_acb_does_not_replace_the_supervisor(
    tmp_path: Path, runtime_dir: Path
) -> None:
    """`python -m` puts its working directory first on sys.path: the supervisor must not
    import a project's own `autocodebase/` in place of acb's."""
    root = tmp_path / "ws"
    shutil.copytree(EXAMPLE, root)
    marker = tmp_path / "pwned-import"
    (root / "autocodebase").mkdir()
    (root / "autocodebase/__init__.py").write_text(
        f"import pathlib; pathlib.Path({str(marker)!r}).touch()\n"
    )
    config = (root / ".acb/deploy.toml").read_text()
    (root / ".acb/deploy.toml").write_text(config.replace("port = 8765", f"port = {free_port()}"))
    commit_all(root, "v1 with a package named autocodebase", init=True)
    env = {"XDG_RUNTIME_DIR": str(runtime_dir)}
    try:  # -C from elsewhere: the test's own `python -m autocodebase` must not import it either
        done = run_acb("deploy", "-C", str(root), cwd=tmp_path, env=env)
    finally:
        run_acb("deploy", "-C", str(root), "--stop", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert not marker.exists()
