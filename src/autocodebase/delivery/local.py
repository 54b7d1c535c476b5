"""`acb deploy --target local`: a real blue/green deployment on this machine.

A release is a commit exported to `.acb/releases/<sha>` with its own virtualenv, built in the
sandbox (`delivery.release`). It is started by the project's supervisor (`delivery.proxy`,
reached through a private, authenticated socket: `delivery.control`), which is told the
release's id and nothing else, on a free loopback port, in the sandbox; it must answer its health
check, and is then verified on mirrored live traffic (GET/HEAD requests replayed to it by the
proxy, plus probes of its health and probe paths, plus its own /metrics when it has them)
before the proxy switches to it. After the switch it is watched for a short window; any failure
— health, error rate, p95 latency — switches back to the previous release, which was kept
running until then. Every decision is appended to `.acb/deploy/<env>/history.jsonl` and to
the run ledger.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import subprocess
import sys
import time
import tomllib
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from autocodebase.delivery.control import SOCKET_NAME, control_dir, new_token, request
from autocodebase.delivery.metrics import p95_ms, request_counts
from autocodebase.delivery.release import build_release, no_symlinks, open_log, releases_dir
from autocodebase.errors import UsageError
from autocodebase.vcs.git import git_text

CONFIG_FILE = ".acb/deploy.toml"
TARGETS = ("local", "compose", "kubernetes")
"""Where an environment runs: this machine behind acb's proxy, a Compose host, a cluster."""


@dataclass(frozen=True)
class DeployConfig:
    command: str
    """How to start the app; `{port}` is replaced by the port it must listen on and `{host}`
    by the address (127.0.0.1 here, 0.0.0.0 in a container)."""
    port: int = 8000
    """Where the proxy listens (the address clients use)."""
    health: str = "/healthz"
    probe: str | None = None
    """A representative request probed during verification, e.g. "/count?text=a+b"."""
    verify_s: float = 5.0
    watch_s: float = 2.0
    max_error_rate: float = 0.02
    max_p95_ms: float = 1000.0
    health_timeout_s: float = 30.0
    target: str = "local"
    """Where this environment runs (`TARGETS`); a config without one means local, as before
    targets were per environment."""
    secrets: tuple[str, ...] = ()
    """Names of environment variables the app needs whose values are secret. Only the names
    are written anywhere: the local release gets them from acb's environment, compose.yaml
    from the host's at `docker compose up`, Kubernetes from a Secret."""
    env: str = "default"
    """Which environment (`--env NAME`: the `[env.NAME]` table of deploy.toml overrides the
    top-level keys); each has its own proxy, state and history."""


class DeployError(UsageError):
    """A deployment that cannot start (no config, no git, a release that cannot be built)."""


def load_config(root: Path, env: str = "default") -> DeployConfig:
    path = root / CONFIG_FILE
    if not path.is_file():
        raise DeployError(
            f'no {CONFIG_FILE}: write one with at least command = "... --port {{port}}"'
        )
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise DeployError(f"{CONFIG_FILE}: {error}") from None
    environments = data.pop("env", {})
    if env != "default":
        if env not in environments:
            known_envs = ", ".join(sorted(environments)) or "none"
            raise DeployError(f"{CONFIG_FILE} has no [env.{env}] (environments: {known_envs})")
        data.update(environments[env])
    if not re.fullmatch(r"[\w-]+", env):
        raise DeployError(f"environment names are letters, digits, - and _: {env!r}")
    known = set(DeployConfig.__dataclass_fields__) - {"env"}
    unknown = sorted(set(data) - known)
    if unknown or "command" not in data:
        problem = f"unknown keys {unknown}" if unknown else "command is required"
        raise DeployError(f"{CONFIG_FILE}: {problem}")
    where = "" if env == "default" else f"[env.{env}] "
    if data.get("target", "local") not in TARGETS:
        raise DeployError(
            f"{CONFIG_FILE}: {where}target must be one of {', '.join(TARGETS)}, "
            f"not {data['target']!r}"
        )
    secrets = data.get("secrets", [])
    if not isinstance(secrets, list) or not all(
        isinstance(name, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) for name in secrets
    ):
        raise DeployError(
            f"{CONFIG_FILE}: {where}secrets must be a list of environment variable names"
        )
    data["secrets"] = tuple(secrets)
    return DeployConfig(**data, env=env)


def environments(root: Path) -> list[str]:
    """Every environment deploy.toml describes: "default" (its top-level keys) and each
    `[env.NAME]`, in the file's order."""
    path = root / CONFIG_FILE
    if not path.is_file():
        raise DeployError(
            f'no {CONFIG_FILE}: write one with at least command = "... --port {{port}}"'
        )
    try:
        tables = tomllib.loads(path.read_text()).get("env", {})
    except tomllib.TOMLDecodeError as error:
        raise DeployError(f"{CONFIG_FILE}: {error}") from None
    return ["default", *tables]


def observed_config(root: Path, env: str = "default") -> DeployConfig:
    """The config for commands that only look at or stop what is deployed (`--status`,
    `--stop`, `acb monitor`): the project's when it has one, else the defaults, which are
    enough to find an environment's supervisor, state and history. A project without a
    deploy.toml has simply deployed nothing; these commands say that, not "write a config"."""
    if (root / CONFIG_FILE).is_file():
        return load_config(root, env)
    if not re.fullmatch(r"[\w-]+", env):
        raise DeployError(f"environment names are letters, digits, - and _: {env!r}")
    return DeployConfig(command="", env=env)


def state_dir(root: Path, config: DeployConfig) -> Path:
    return root / ".acb" / "deploy" / config.env


@dataclass
class ReleaseHealth:
    healthy: bool
    reason: str = ""
    measured: dict[str, Any] = field(default_factory=dict)


@dataclass
class DeployResult:
    sha: str
    outcome: str
    """live, rolled-back, failed, or stopped (`acb deploy --stop` took it down)."""
    reason: str = ""
    port: int | None = None
    measured: dict[str, Any] = field(default_factory=dict)


class Supervisor:
    """The client side of the project's proxy/supervisor process (started on first use)."""

    def __init__(self, root: Path, config: DeployConfig, unsandboxed: bool = False):
        self.root = root.resolve()
        self.port = config.port
        self.env = config.env
        self.state_dir = state_dir(self.root, config)
        self.control = control_dir(self.root, config.env)
        self.unsandboxed = unsandboxed

    def call(self, op: str, **fields: Any) -> dict[str, Any]:
        reply = request(self.control, {"op": op, **fields})
        if not reply.get("ok"):
            raise DeployError(f"supervisor: {reply.get('error', 'no answer')}")
        return reply

    def alive(self) -> bool:
        try:
            self.call("status")
        except (OSError, ValueError, DeployError):
            return False
        return True

    def wait_gone(self, timeout_s: float = 15.0) -> None:
        """Until the stopped supervisor has released its port and written the last of its
        traffic record, so what follows (`acb monitor`, a new deploy) sees both."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and (self.control / SOCKET_NAME).exists():
            time.sleep(0.05)

    def ensure(self) -> None:
        if self.alive():
            return
        for kept_out in (self.state_dir, releases_dir(self.root)):
            no_symlinks(self.root, kept_out)
            kept_out.mkdir(parents=True, exist_ok=True)
        for ignored in (self.root / ".acb" / "deploy", releases_dir(self.root)):
            _write_private(self.root, ignored / ".gitignore", "*\n")  # never in `git status`
        new_token(self.control)
        log = open_log(self.root, self.state_dir / "supervisor.log")
        # Isolated (-I) and started outside the workspace: `python -m` would otherwise put the
        # working directory first on sys.path, and a project with its own `autocodebase/`
        # package would run on the host in place of ours.
        argv = [sys.executable, "-I", "-m", "autocodebase.delivery.proxy"]
        argv += ["--listen", str(self.port), "--control", str(self.control)]
        argv += ["--root", str(self.root), "--env", self.env]
        argv += ["--unsandboxed"] if self.unsandboxed else []
        subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=self.control,
        )
        os.close(log)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.alive():
                return
            time.sleep(0.05)
        raise DeployError(f"the supervisor did not start (see {self.state_dir}/supervisor.log)")


def _write_private(root: Path, path: Path, text: str) -> None:
    """Replace a small file of acb's in the workspace, never writing through a symlink."""
    no_symlinks(root, path)
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(descriptor, "w") as sink:
        sink.write(text)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def get(port: int, path: str, timeout: float = 2.0) -> tuple[int, bytes, float]:
    started = time.monotonic()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        connection.close()
    except OSError:
        return 0, b"", time.monotonic() - started
    return response.status, body, time.monotonic() - started


def wait_healthy(sup: Supervisor, config: DeployConfig, port: int) -> ReleaseHealth:
    deadline = time.monotonic() + config.health_timeout_s
    while time.monotonic() < deadline:
        status, _, _ = get(port, config.health)
        if status == 200:
            return ReleaseHealth(True)
        if port not in sup.call("status")["running"]:
            return ReleaseHealth(False, "the release exited before it was healthy")
        time.sleep(0.1)
    waited = f"{config.health_timeout_s:g} s"
    return ReleaseHealth(False, f"{config.health} did not answer 200 within {waited}")


def judge(sup: Supervisor, config: DeployConfig, port: int, seconds: float) -> ReleaseHealth:
    """Probe for `seconds` while the proxy measures whatever traffic the release gets, then
    decide on health, error rate and p95 latency (proxy and probes, and the app's /metrics)."""
    probes: list[tuple[int, float]] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for path in filter(None, (config.health, config.probe)):
            status, _, took = get(port, path)
            probes.append((status, took))
        time.sleep(0.1)
    stats = sup.call("stats", port=port)
    failures = sum(1 for status, _ in probes if status == 0 or status >= 500)
    total = len(probes) + stats["requests"]
    errors = failures + stats["errors"]
    p95 = max(stats["p95_ms"], p95_ms([took for _, took in probes]))
    measured = {
        "requests": total,
        "errors": errors,
        "p95_ms": round(p95, 1),
        "mirrored": stats["requests"],
        **app_metrics(port),
    }
    rate = errors / total if total else 0.0
    app_rate = measured.get("app_error_rate", 0.0)
    if rate > config.max_error_rate:
        limit = f"limit {config.max_error_rate:.1%}"
        return ReleaseHealth(
            False, f"error rate {rate:.1%} over {total} requests ({limit})", measured
        )
    if app_rate > config.max_error_rate:
        return ReleaseHealth(
            False, f"the app's /metrics report {app_rate:.1%} 5xx answers", measured
        )
    if p95 > config.max_p95_ms:
        limit = f"limit {config.max_p95_ms:g} ms"
        return ReleaseHealth(False, f"p95 latency {p95:.0f} ms ({limit})", measured)
    return ReleaseHealth(True, "", measured)


def app_metrics(port: int) -> dict[str, Any]:
    """The 5xx share of the app's own request counter, when it exposes Prometheus metrics."""
    status, body, _ = get(port, "/metrics")
    counts = request_counts(body.decode(errors="replace")) if status == 200 else None
    if counts is None:
        return {}
    total, errors = counts
    return {"app_requests": int(total), "app_error_rate": errors / total if total else 0.0}


def deploy(
    root: Path,
    config: DeployConfig,
    rev: str = "HEAD",
    ledger: Path | None = None,
    network: bool = False,
    unsandboxed: bool = False,
) -> DeployResult:
    """Release `rev`; the decision goes to `.acb/deploy/history.jsonl` and, given its path, to
    the run ledger. `network` lets the sandboxed build reach a package index; `unsandboxed`
    (the user's `sandbox_fallback = "none"`) lets it, and the release, run without bubblewrap."""
    root = root.resolve()
    result = _deploy(root, config, rev, network, unsandboxed)
    _to_ledger(root, config, result, ledger)
    return result


def _to_ledger(root: Path, config: DeployConfig, result: DeployResult, ledger: Path | None) -> None:
    if ledger is None:
        return
    from autocodebase.ledger.store import connect, record_release

    connection = connect(ledger)
    try:
        where = "local" if config.env == "default" else f"local/{config.env}"
        record_release(connection, root, asdict(result), where)
    finally:
        connection.close()


def _deploy(
    root: Path, config: DeployConfig, rev: str, network: bool, unsandboxed: bool
) -> DeployResult:
    sha = git_text(root, "rev-parse", "--verify", f"{rev}^{{commit}}").strip()
    sup = Supervisor(root, config, unsandboxed)
    sup.ensure()
    state = read_state(root, config)
    build_release(root, sha, network, unsandboxed)
    port = int(sup.call("start", release=sha)["port"])
    result = DeployResult(sha, "failed", port=port)
    verdict = wait_healthy(sup, config, port)
    previous = state.get("active")
    if verdict.healthy and previous:
        sup.call("stats", port=port, reset=True)
        sup.call("shadow", port=port)
        verdict = judge(sup, config, port, config.verify_s)
        sup.call("shadow", port=None)
    if verdict.healthy:
        sup.call("stats", port=port, reset=True)
        sup.call("switch", port=port)
        watched = judge(sup, config, port, config.watch_s)
        after = {f"after_{k}": v for k, v in watched.measured.items()}
        result.measured = {**verdict.measured, **after}
        if watched.healthy:
            if previous and previous["port"] != port:
                sup.call("stop-backend", port=previous["port"])
            kept = previous or state.get("previous")
            write_state(root, config, {"active": {"sha": sha, "port": port}, "previous": kept})
            result.outcome = "live"
            return _recorded(root, config, result)
        verdict = ReleaseHealth(False, f"after the switch: {watched.reason}", watched.measured)
        if previous:
            sup.call("switch", port=previous["port"])
    else:
        result.measured = verdict.measured
    sup.call("stop-backend", port=port)
    result.outcome = "rolled-back" if previous else "failed"
    result.reason = verdict.reason
    return _recorded(root, config, result)


def _recorded(root: Path, config: DeployConfig, result: DeployResult) -> DeployResult:
    history = state_dir(root, config) / "history.jsonl"
    no_symlinks(root, history.parent)
    history.parent.mkdir(parents=True, exist_ok=True)
    entry = json.dumps({"at": datetime.now(UTC).isoformat(timespec="seconds"), **asdict(result)})
    log = open_log(root, history)
    try:
        os.write(log, (entry + "\n").encode())
    finally:
        os.close(log)
    return result


def read_state(root: Path, config: DeployConfig) -> dict[str, Any]:
    path = state_dir(root, config) / "state.json"
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data


def write_state(root: Path, config: DeployConfig, state: dict[str, Any]) -> None:
    _write_private(root, state_dir(root, config) / "state.json", json.dumps(state, indent=2) + "\n")


def history(root: Path, config: DeployConfig) -> list[dict[str, Any]]:
    path = state_dir(root, config) / "history.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@dataclass
class Stopped:
    supervisor: bool
    """A supervisor was running (and is stopped now)."""
    release: DeployResult | None
    """The release that was live, now recorded as stopped."""


def stop(root: Path, config: DeployConfig, ledger: Path | None = None) -> Stopped:
    """Stop the proxy and every release. The release that was live is recorded as stopped, in
    the history and (given its path) the run ledger, so neither goes on saying it is live; it
    stays the one `--rollback` puts back. A live release whose supervisor had already gone
    (a reboot) is recorded as stopped too: it is not served either."""
    root = root.resolve()
    sup = Supervisor(root, config)
    running = sup.alive()
    if running:
        sup.call("stop")
        sup.wait_gone()
    state = read_state(root, config)
    active = state.get("active")
    if not active:
        return Stopped(running, None)
    write_state(root, config, {"active": None, "previous": active})
    reason = "acb deploy --stop" if running else "acb deploy --stop (its supervisor had gone)"
    result = DeployResult(active["sha"], "stopped", reason=reason, port=active.get("port"))
    _recorded(root, config, result)
    _to_ledger(root, config, result, ledger)
    return Stopped(running, result)
