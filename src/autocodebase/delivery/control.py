"""Where the deploy supervisor's control socket lives, and who may talk to it.

The supervisor runs on the host and starts releases, so its socket is a door out of every
sandbox unless three things hold, each checked on its own:

- it lives outside the workspace, in a private directory (0700, checked to be ours and not a
  symlink) under `$XDG_RUNTIME_DIR/acb` or acb's state directory, keyed by a hash of the
  workspace's real path and the environment, so nothing a command writes in the project moves
  or replaces it;
- every request carries a random token that only the process starting the supervisor wrote
  (0600, in the same private directory), compared in constant time;
- the peer is checked with SO_PEERCRED: same user, and the same mount and pid namespaces as the
  supervisor. This is the check that stops a sandboxed command: bubblewrap always gives its
  children new ones, and a command running as our user could otherwise read the token, since
  the sandbox binds `/` read-only and does not (yet) hide acb's state directory.

What still reaches the supervisor can only name a release (see `delivery.release`); it never
carries a command.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import socket
import stat
import struct
from pathlib import Path
from typing import Any

from autocodebase.config import default_state_dir
from autocodebase.errors import UsageError

SOCKET_NAME = "control.sock"
TOKEN_NAME = "token"  # noqa: S105 - a file name, not the token
MAX_SOCKET_PATH = 100
"""AF_UNIX paths are limited to 108 bytes (107 and a NUL); keep a margin."""


class ControlError(UsageError):
    """No private directory could be had for the socket (one line for the user, not a crash)."""


def _key(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:24]


def _bases() -> list[Path]:
    """Candidate private roots, best first: the per-user runtime directory (tmpfs, gone at
    logout like the supervisor), acb's state directory, then a per-user directory in /tmp for
    when the others make the socket path too long."""
    bases = []
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_absolute() and Path(runtime).is_dir():
        bases.append(Path(runtime) / "acb")
    bases.append(default_state_dir().absolute() / "run")
    bases.append(Path("/tmp") / f"acb-{os.getuid()}")  # noqa: S108 - checked private below
    return bases


def private_dir(path: Path) -> Path:
    """`path`, created 0700 if missing; refused unless it is a real directory of ours that
    nobody else can enter (a directory someone else made first could be watched or swapped)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise ControlError(f"{path} is not a directory of ours; refusing to use it")
    if stat.S_IMODE(info.st_mode) & 0o077:
        path.chmod(0o700)
    return path


def control_dir(root: Path, env: str) -> Path:
    """The private directory of one workspace's environment: its socket and token."""
    key = _key(str(root.resolve()), env)
    problems = []
    for base in _bases():
        candidate = base / "deploy" / key
        if len(str(candidate / SOCKET_NAME).encode()) > MAX_SOCKET_PATH:
            continue
        try:
            private_dir(base)
            private_dir(base / "deploy")
            return private_dir(candidate)
        except (OSError, ControlError) as error:  # say, a runtime directory inherited by sudo
            problems.append(str(error))
    raise ControlError("no private directory for the control socket: " + "; ".join(problems))


def workspace_dir(root: Path) -> Path:
    """The private directory of one workspace, shared by its environments: the record of the
    releases acb built (the release directories themselves are in the project)."""
    base = default_state_dir().absolute() / "deploy"
    private_dir(base.parent)
    private_dir(base)
    return private_dir(base / _key(str(root.resolve())))


def new_token(directory: Path) -> str:
    """A fresh token for a supervisor about to start, written 0600 (replacing an old one)."""
    token = secrets.token_hex(32)
    path = directory / TOKEN_NAME
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "w") as sink:
        sink.write(token)
    return token


def read_token(directory: Path) -> str:
    try:
        descriptor = os.open(directory / TOKEN_NAME, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return ""
    with os.fdopen(descriptor) as source:
        return source.read().strip()


def token_matches(expected: str, offered: Any) -> bool:
    return (
        isinstance(offered, str)
        and bool(expected)
        and hmac.compare_digest(expected.encode(), offered.encode())
    )


def _namespace(pid: int | str, kind: str) -> str:
    return str(Path(f"/proc/{pid}/ns/{kind}").readlink())


def peer_problem(connection: socket.socket) -> str | None:
    """Why the process at the other end of `connection` may not control the supervisor, or
    None. Checked at accept time, before anything is read from it."""
    raw = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, _ = struct.unpack("3i", raw)
    if uid != os.getuid():
        return "the peer is another user"
    if pid <= 0:
        return "the peer is in a pid namespace we cannot see"
    for kind in ("mnt", "pid"):
        try:
            if _namespace(pid, kind) != _namespace("self", kind):
                return f"the peer runs in another {kind} namespace (a sandbox)"
        except OSError:
            return "the peer's namespaces cannot be checked"
    return None


def request(directory: Path, message: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
    """Send one authenticated request to the supervisor of `directory`; its reply."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(timeout)
        client.connect(str(directory / SOCKET_NAME))
        payload = {**message, "token": read_token(directory)}
        client.sendall((json.dumps(payload) + "\n").encode())
        data = b""
        while not data.endswith(b"\n"):
            chunk = client.recv(65536)
            if not chunk:
                break
            data += chunk
    reply: dict[str, Any] = json.loads(data or b"{}")
    return reply
