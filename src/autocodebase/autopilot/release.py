"""Autopilot's deploy gate: a merged task released, watched, and rolled back with a fix task
queued when the watch sees an anomaly.

A release is a small state machine of its own, each step recorded before it is taken so a pass
that finds one half done (after a crash, or a person's `approve`) carries it on from what is
actually live, never from the start:

- `releasing`: the base branch's head after the task's merge is to be released. If it is
  already live, the process that released it died before watching: watch it. If a later
  release already contains it, there is nothing to do. Else release it (at most
  `MAX_RELEASES` times: a release that keeps killing its process needs a person).
- `watching`: it is live; the monitor watches it for a bounded window. Clean: `deployed`.
  An anomaly: `rolling-back`, with what the monitor found as the reason.
- `rolling-back`: put back what was live before (unless that is already so), then
  `rolled-back` and a fix task queued in one transaction. A fix task's own release that
  regresses goes to a person instead: fixes of fixes could run forever.

A release `acb deploy`'s own checks refuse (its health check, the verification on mirrored
traffic, its short watch after the switch) never went live, or was switched back at once:
that is a regression found too, and takes the same road from `rolling-back`.

Deploying itself is a `Deployer` handed in (the command's runs `acb deploy --target local`'s
machinery in process), so this module is tested without a proxy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

from autocodebase.autopilot.fixes import fix_task
from autocodebase.autopilot.gates import DeployPolicy
from autocodebase.autopilot.state import (
    AWAITING_DEPLOY,
    DEPLOYED,
    IN_FLIGHT,
    MERGED,
    NEEDS_PERSON,
    REJECTED,
    RELEASING,
    ROLLED_BACK,
    ROLLING_BACK,
    WATCHING,
    AutopilotState,
    TaskRecord,
)
from autocodebase.errors import AcbError
from autocodebase.vcs.git import GitError, git, git_ok

DEPLOY_CONFIG: Final = ".acb/deploy.toml"
"""How a release is started (`delivery.local.CONFIG_FILE`): a change to it needs a person."""
MAX_RELEASES: Final = 2
"""Times one task's commit is released before a person must look (a crash mid-release)."""


@dataclass(frozen=True)
class Released:
    """What one release came to."""

    live: bool
    reason: str
    """How it went live, or why acb deploy did not keep it (health, error rate, p95...)."""


@dataclass(frozen=True)
class Watched:
    """What the monitor saw of a live release over the watch."""

    healthy: bool
    summary: str
    """The anomaly's diagnosis, or what a clean window measured."""
    gone: bool = False
    """The release stopped being live meanwhile: someone else deployed or stopped it."""


class Deployer(Protocol):
    def live(self) -> str | None:
        """The commit being served now, or None (nothing deployed, or its supervisor gone)."""
        ...

    def release(self, sha: str) -> Released:
        """Release `sha` blue/green; raises AcbError when it cannot even be tried."""
        ...

    def watch(self, sha: str) -> Watched:
        """Watch the live release `sha` with the monitor for the configured window."""
        ...

    def roll_back(self, to: str | None) -> str:
        """Serve `to` again (None: nothing earlier, so stop serving); says what was done.
        Raises AcbError when that fails."""
        ...


class ReleaseGate:
    def __init__(
        self,
        root: Path,
        state: AutopilotState,
        deployer: Deployer,
        say: Callable[[str], None],
        needs_person: Callable[[str, str], None],
    ):
        self.root = root
        self.state = state
        self.deployer = deployer
        self.say = say
        self.needs_person = needs_person
        """Called with (task, why) whenever a release stops for a person, for the pass's
        summary and exit code."""
        self._paused: str | None = None
        """Set while `resume` runs paused: nothing new is released."""
        self._started_with = _config_at(root, "HEAD")
        """DEPLOY_CONFIG as committed when this loop started (None: not in the repository)."""

    def after_merge(self, task_id: str, commit: str, policy: DeployPolicy) -> None:
        """The deploy gate of a task just merged (the base's head is now `commit`)."""
        if policy == "never":
            return
        record = self.state.require(task_id)
        held = self._reconfigures(record.id, commit) or self._held_by(record)
        if policy == "ask" or held:
            why = held or f"merged; `acb autopilot approve {task_id}` releases {commit[:12]}"
            self.state.move(task_id, [MERGED], AWAITING_DEPLOY, why, release_sha=commit)
            self.say(f"{task_id}: awaiting deploy: {why}")
            return
        why = f"releasing {commit[:12]} (--deploy auto)"
        if self.state.move(task_id, [MERGED], RELEASING, why, release_sha=commit):
            self.carry_on(task_id)

    def _reconfigures(self, task_id: str, commit: str) -> str:
        """Why `commit` may not be released without a person because it changes how releases
        are made: the supervisor reads DEPLOY_CONFIG from the checkout at every start (which
        the merge just moved), and a cron'd pass reads it when it starts, so a task's change
        to it (the command, the `secrets` acb's environment lends the release, which has the
        network) would decide how that very change is released. Compared with the config of
        what is live, else with the one this loop started with: a branch of several commits
        that changed it in an earlier one is held too (its first parent already has it)."""
        live = self.deployer.live()
        reference = _config_at(self.root, live) if live else self._started_with
        if _config_at(self.root, commit) == reference:
            return ""
        over = live[:12] if live else "the config autopilot started with"
        return (
            f"held: {commit[:12]} changes {DEPLOY_CONFIG} (how releases are started and the "
            f"secrets they get) over {over}; `acb autopilot approve {task_id}` "
            "releases it once a person has read that change"
        )

    def _held_by(self, record: TaskRecord) -> str:
        """Why `record` may not be released without a person: a fix for an earlier rolled-back
        release is not live yet, so the base still holds that regression."""
        if record.fixes is not None:
            return ""
        for other in self.state.all():
            if other.fixes is not None and other.state not in (DEPLOYED, REJECTED):
                return (
                    f"held: {other.id} is fixing the rolled-back release of {other.fixes} and "
                    f"is {other.state}; `acb autopilot approve {record.id}` releases it anyway"
                )
        return ""

    def resume(self, paused: str | None) -> None:
        """Carry on every release a pass finds in flight. While paused nothing new is
        released, but a live release is still watched and rolled back if it must be:
        those steps only protect."""
        self._paused = paused
        try:
            for record in self.state.all():
                if record.state in IN_FLIGHT:
                    self.carry_on(record.id)
        finally:
            self._paused = None

    def carry_on(self, task_id: str) -> None:
        """Step an in-flight release on until it is deployed, rolled back or with a person."""
        steps = {RELEASING: self._release, WATCHING: self._watch, ROLLING_BACK: self._roll_back}
        while (record := self.state.require(task_id)).state in steps:
            steps[record.state](record)
            if self.state.require(task_id) == record:  # nothing moved: never spin
                return

    def _release(self, record: TaskRecord) -> None:
        target = record.release_sha
        if target is None:  # not reachable through the loop or approve; a hand-edited ledger
            self._to_person(record, RELEASING, "nothing recorded to release")
            return
        live = self.deployer.live()
        if live == target:
            why = f"{target[:12]} is live (found so after an interruption); watching it"
            self.state.move(record.id, [RELEASING], WATCHING, why)
            return
        if live is not None and git_ok(self.root, "merge-base", "--is-ancestor", target, live):
            why = f"already live: {target[:12]} is part of the live release {live[:12]}"
            self._deployed(record, RELEASING, why, live)
            return
        if self._paused is not None:
            self.say(f"{record.id}: not released while paused ({self._paused})")
            return
        if record.releases >= MAX_RELEASES:
            why = f"released {record.releases} times without an outcome (interrupted each time)"
            self._to_person(record, RELEASING, why)
            return
        number = record.releases + 1
        previous = live or record.previous_sha
        before = f"{previous[:12]} is live" if previous else "nothing is live"
        why = f"release {number} of {target[:12]} ({before})"
        self.state.move(
            record.id, [RELEASING], RELEASING, why, releases=number, previous_sha=previous
        )
        self.say(f"{record.id}: {why}")
        try:
            released = self.deployer.release(target)
        except AcbError as error:
            self._to_person(record, RELEASING, f"the release failed: {error}")
            return
        if released.live:
            why = f"{target[:12]} is live ({released.reason}); watching it"
            self.state.move(record.id, [RELEASING], WATCHING, why)
            self.say(f"{record.id}: {why}")
            return
        why = f"acb deploy's own checks refused {target[:12]}: {released.reason}"
        self.state.move(record.id, [RELEASING], ROLLING_BACK, why)

    def _watch(self, record: TaskRecord) -> None:
        target = record.release_sha
        assert target is not None  # set before a task is ever releasing
        if self.deployer.live() != target:
            why = f"{target[:12]} is no longer live (someone deployed or stopped it); not watched"
            self._to_person(record, WATCHING, why)
            return
        watched = self.deployer.watch(target)
        if watched.gone:
            self._to_person(record, WATCHING, f"{watched.summary}; the watch was abandoned")
        elif watched.healthy:
            self._deployed(record, WATCHING, f"live and watched: {watched.summary}", target)
        else:
            why = f"the monitor found: {watched.summary}"
            self.state.move(record.id, [WATCHING], ROLLING_BACK, why)
            self.say(f"{record.id}: {why}; rolling back")

    def _roll_back(self, record: TaskRecord) -> None:
        target = record.release_sha
        assert target is not None
        diagnosis = record.reason
        if self.deployer.live() == target:
            try:
                how = self.deployer.roll_back(record.previous_sha)
            except AcbError as error:
                why = f"{diagnosis}; the rollback failed: {error}; {target[:12]} may still serve"
                self._to_person(record, ROLLING_BACK, why)
                return
        else:
            how = f"{target[:12]} was not serving any more"
        if record.fixes is not None:
            why = f"{diagnosis}; rolled back ({how}); a fix whose release regresses needs a person"
            self._to_person(record, ROLLING_BACK, why)
            return
        taken = {other.id for other in self.state.all()}
        fix = fix_task(self.root, record, diagnosis, how, taken)
        why = f"{diagnosis}; rolled back ({how}); fix task {fix.id} queued"
        if self.state.move_and_queue_fix(record.id, [ROLLING_BACK], ROLLED_BACK, why, fix):
            self.say(f"{record.id}: {why}")

    def _deployed(self, record: TaskRecord, current: str, why: str, live: str) -> None:
        """`record` is deployed; so is every task waiting for a release whose commit went out
        in this one (its code is what is live now)."""
        self.state.move(record.id, [current], DEPLOYED, why)
        self.say(f"{record.id}: deployed: {why}")
        for other in self.state.all():
            sha = other.release_sha
            if other.state != AWAITING_DEPLOY or sha is None:
                continue
            if git_ok(self.root, "merge-base", "--is-ancestor", sha, live):
                also = f"live with {record.id}'s release {live[:12]}, which contains it"
                self.state.move(other.id, [AWAITING_DEPLOY], DEPLOYED, also)

    def _to_person(self, record: TaskRecord, current: str, why: str) -> None:
        if self.state.move(record.id, [current], NEEDS_PERSON, why):
            self.needs_person(record.id, why)


def _config_at(root: Path, revision: str) -> bytes | None:
    """DEPLOY_CONFIG as committed at `revision`, or None where it is not."""
    try:
        return git(root, "show", f"{revision}:{DEPLOY_CONFIG}")
    except GitError:
        return None
