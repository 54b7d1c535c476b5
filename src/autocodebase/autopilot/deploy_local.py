"""The `Deployer` the command hands autopilot: `acb deploy --target local`'s machinery called in
process (blue/green behind the project's proxy, every decision in the deploy history and the
run ledger), and `acb monitor`'s anomaly rules over the proxy's per-second series for the watch.

The deploy config is read once, when the command starts: a task that changes
`.acb/deploy.toml` (its limits, its command) changes nothing about the releases this loop
makes, so a run cannot loosen the watch its own release is judged by.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from autocodebase.autopilot.release import Released, Watched
from autocodebase.delivery.local import (
    DeployConfig,
    DeployError,
    Supervisor,
    deploy,
    read_state,
    stop,
)
from autocodebase.delivery.monitor import Report, gather


@dataclass
class LocalDeployer:
    root: Path
    config: DeployConfig
    ledger: Path | None
    network: bool = False
    unsandboxed: bool = False
    watch_s: float = 60.0
    """The longest a release is watched."""
    watch_requests: int = 0
    """Client requests after which a release without an anomaly counts as holding up, before
    `watch_s` is over (0: watch the whole window)."""
    poll_s: float = 1.0

    def live(self) -> str | None:
        active = read_state(self.root, self.config).get("active")
        if not isinstance(active, dict) or not isinstance(active.get("sha"), str):
            return None
        if not Supervisor(self.root, self.config, self.unsandboxed).alive():
            return None  # a reboot: state.json says live, nothing serves
        return str(active["sha"])

    def release(self, sha: str) -> Released:
        try:
            done = deploy(self.root, self.config, sha, self.ledger, self.network, self.unsandboxed)
        except (OSError, ValueError) as error:  # the supervisor went away mid-release
            raise DeployError(f"the deploy supervisor failed: {error}") from None
        if done.outcome == "live":
            return Released(True, f"verified by acb deploy, release port {done.port}")
        return Released(False, f"{done.outcome}: {done.reason}")

    def watch(self, sha: str) -> Watched:
        supervisor = Supervisor(self.root, self.config, self.unsandboxed)
        started = time.time()
        deadline = time.monotonic() + self.watch_s
        while True:
            window = int(time.time() - started) + 2  # per-second buckets from just before
            try:
                report = gather(supervisor, self.config, window, columns=window)
            except (OSError, ValueError, DeployError) as error:
                return Watched(False, f"the monitor could not read the proxy: {error}", gone=True)
            if not report.running or self.live() != sha:
                return Watched(False, f"{sha[:12]} stopped being live during the watch", gone=True)
            elapsed = time.time() - started
            if report.anomalies:
                return Watched(False, f"{report.diagnosis} ({_measured(report, elapsed)})")
            enough = self.watch_requests and report.requests >= self.watch_requests
            if enough or time.monotonic() >= deadline:
                if not report.requests:
                    return Watched(True, f"no client traffic in {elapsed:.0f} s to judge it by")
                return Watched(True, f"no anomaly: {_measured(report, elapsed)}")
            time.sleep(self.poll_s)

    def roll_back(self, to: str | None) -> str:
        if to is None:
            stop(self.root, self.config, self.ledger)
            return "nothing earlier to go back to: the deployment is stopped"
        done = self.release(to)
        if not done.live:
            raise DeployError(f"the rollback to {to[:12]} did not go live: {done.reason}")
        return f"{to[:12]} serves again"


def _measured(report: Report, elapsed: float) -> str:
    rate = report.errors / report.requests if report.requests else 0.0
    return (
        f"{report.requests} client requests in {elapsed:.0f} s, {report.errors} errors "
        f"({rate:.0%}), p95 up to {report.p95_ms:.0f} ms"
    )
