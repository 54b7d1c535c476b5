"""The merge gate for a forge's tasks: a pull/merge request in place of the local merge, and
its approval on the forge in place of `acb autopilot approve`.

A task that passed its gates is pushed to its branch on the project's remote (the token only
to the forge's own host, `forge/deliver.py`) and a pull/merge request opened into the base,
its body the run's record and `Closes #N`. Then the task is `pr-open`, and each later pass
reads the request:

- merged on the forge by someone: `merged`;
- closed without a merge: `rejected`;
- approved (GitHub: a review APPROVED on the current head by someone with write access, and
  no standing request for changes; GitLab: the approvals API says `approved` and names who):
  merged through the API, at the head the forge reported, so a commit pushed after the check
  is not merged on that word;
- with `--merge auto`, merged as soon as the forge calls it mergeable (GitHub: `mergeable`
  and `mergeable_state` clean, that is no conflict and its checks and branch rules met;
  GitLab: `detailed_merge_status` mergeable). Autopilot reads no check run itself: the forge's
  verdict is the CI gate on the forge, beside the workflow autopilot proved in the sandbox;
- otherwise it waits. A forge refusing the merge leaves it waiting, with the forge's reason.

`--merge never` opens the request and leaves it (`branch-ready`).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from autocodebase.autopilot.forge_tasks import one_line
from autocodebase.autopilot.gates import AttemptResult, MergePolicy, Verdict
from autocodebase.autopilot.state import (
    BRANCH_READY,
    CHANGE_OPEN,
    MERGED,
    REJECTED,
    RUNNING,
    AutopilotState,
    TaskRecord,
)
from autocodebase.autopilot.tasks import Task
from autocodebase.errors import AcbError
from autocodebase.forge.base import ChangeStatus
from autocodebase.forge.clients import forge_for
from autocodebase.forge.deliver import change_body, open_change, push_to_forge
from autocodebase.forge.pr_body import RunReport
from autocodebase.forge.refs import ForgeRef
from autocodebase.forge.tokens import Token
from autocodebase.redact import Redactor
from autocodebase.vcs.git import GitError, git_text


@dataclass
class ChangeGate:
    """Opens and follows the pull/merge requests of one forge project's tasks."""

    root: Path
    state: AutopilotState
    project: ForgeRef
    token: Token | None
    remote: str
    say: Callable[[str], None]

    @property
    def kind(self) -> str:
        return "merge request" if self.project.forge == "gitlab" else "pull request"

    def _mark(self, number: int) -> str:
        return f"!{number}" if self.project.forge == "gitlab" else f"#{number}"

    def _clean(self, text: str) -> str:
        """A forge's words (its error messages name what it was sent) as one line, with the
        token redacted, before they go into the ledger or onto the terminal."""
        secrets = {"FORGE_TOKEN": self.token.value} if self.token else {}
        return one_line(Redactor(secrets).text(text), 300)

    def deliver(
        self,
        task: Task,
        result: AttemptResult,
        verdict: Verdict,
        fields: dict[str, str | None],
        merge: MergePolicy,
    ) -> str | None:
        """Push the task's branch and open its request; None, or why a person is needed."""
        assert result.commit is not None  # judge_run passes no run without a commit
        record = self.state.require(task.id)
        try:
            push_to_forge(self.root, self.remote, task.branch, self.project, self.token)
            base = record.base or ""
            since = git_text(self.root, "merge-base", base, result.commit)
            report = result.report or RunReport(result.run_id or "-", result.outcome, "?")
            closes = f"#{task.number}" if task.number is not None else None
            worktree = Path(record.worktree or self.root)
            body = change_body(worktree, since, report, closes, "acb autopilot")
            opened = open_change(
                self.project, self.token, self.root, self.remote, task.branch, base,
                task.title, body,
            )  # fmt: skip
        except (AcbError, GitError, subprocess.SubprocessError) as exc:
            return f"passed, but its {self.kind} could not be opened: {self._clean(str(exc))}"
        url = self._clean(opened.web_url)
        mark = self._mark(opened.number)
        fields = {**fields, "change_number": opened.number, "change_url": url}  # type: ignore[dict-item]
        if merge == "never":
            why = f"{verdict.reason}; {self.kind} {mark} opened ({url}), left to you"
            self.state.move(task.id, [RUNNING], BRANCH_READY, why, **fields)
        else:
            waits = "its approval" if merge == "ask" else "the forge to call it mergeable"
            why = f"{verdict.reason}; {self.kind} {mark} opened ({url}), waiting for {waits}"
            self.state.move(task.id, [RUNNING], CHANGE_OPEN, why, **fields)
        self.say(f"{task.id}: {why}")
        if merge == "auto":
            self.follow(self.state.require(task.id), merge)
        return None

    def follow_all(self, merge: MergePolicy) -> None:
        """Read every open request of this workspace's tasks and move each on (see above)."""
        for record in self.state.all():
            if record.state == CHANGE_OPEN and record.forge == self.project.forge:
                self.follow(record, merge)

    def follow(self, record: TaskRecord, merge: MergePolicy) -> None:
        assert record.change_number is not None
        mark = f"{self.kind} {self._mark(record.change_number)}"
        client = forge_for(self.project, self.token)
        try:
            status = client.change_status(record.change_number)
            action, why = self._decide(status, merge, mark)
            if action == "merge":
                sha = client.merge_change_request(
                    record.change_number, status.head_sha, f"Merge {mark}: {record.title}"
                )
                merged = f" as {sha[:12]}" if sha else ""
                why = f"{why}; merged through the forge's API{merged}"
                self._to(record, MERGED, why, commit_sha=status.head_sha)
            elif action in (MERGED, REJECTED):
                self._to(record, action, why)
        except AcbError as exc:
            self._wait(record, f"{mark} not merged yet: {self._clean(str(exc))}")
        finally:
            client.close()

    def _decide(self, status: ChangeStatus, merge: MergePolicy, mark: str) -> tuple[str, str]:
        """What the request's state calls for: (`merge`, a state to move to, or `wait`; why)."""
        if status.state == "merged":
            return MERGED, f"{mark} was merged on the forge"
        if status.state == "closed":
            return REJECTED, f"{mark} was closed without a merge"
        if status.approved:
            who = ", ".join(one_line(name, 40) for name in status.approved_by) or "the forge"
            return "merge", f"{mark} approved by {who} at {status.head_sha[:12]}"
        if merge == "auto" and status.mergeable:
            return "merge", f"{mark} mergeable (--merge auto) at {status.head_sha[:12]}"
        return "wait", ""

    def _to(self, record: TaskRecord, to: str, why: str, **fields: str) -> None:
        if self.state.move(record.id, [CHANGE_OPEN], to, why, **fields):
            self.say(f"{record.id}: {why}")

    def _wait(self, record: TaskRecord, why: str) -> None:
        """Stay `pr-open`, saying why once (each pass would otherwise add the same row)."""
        if record.reason != why and self.state.move(record.id, [CHANGE_OPEN], CHANGE_OPEN, why):
            self.say(f"{record.id}: {why}")
