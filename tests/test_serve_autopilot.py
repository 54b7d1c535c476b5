"""`acb serve` shows autopilot's state: per repository, whether it is paused, each task's state
with the decisions taken on it, people's tasks first (issue 22: "visible in acb serve")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autocodebase.autopilot import state as autopilot_state
from autocodebase.autopilot.state import AutopilotState
from autocodebase.autopilot.tasks import Task
from autocodebase.ledger.store import connect
from autocodebase.serve import autopilot as page_data
from autocodebase.serve.app import Settings, create_app
from tests.dashboard import serving

SECRET = "sk-live-abcdefghijklmnopqrstuvwxyz0123456789"
HOSTILE = "<script>alert(1)</script>"


def worked_queue(ledger: Path, workspace: Path) -> None:
    """Three tasks as autopilot records them: one merged, one waiting for a person, one
    running; and the loop paused."""
    state = AutopilotState(connect(ledger), workspace)
    tasks = [
        Task("add-x", "Add x", "text", None, ".acb/tasks/add-x.md"),
        Task("fix-y", f"Fix y {HOSTILE}", "text", None, ".acb/tasks/fix-y.md"),
        Task("docs", "Write docs", "text", None, ".acb/tasks/docs.md"),
    ]
    state.sync(tasks)
    state.move("add-x", ["queued"], "running", "run started", run_id="run-1")
    state.move("add-x", ["running"], "merged", "verified; merged into main", commit_sha="a" * 40)
    state.move("fix-y", ["queued"], "running", "run started", run_id="run-2")
    state.move("fix-y", ["running"], "needs-person", f"verification failed twice; key {SECRET}")
    state.move("docs", ["queued"], "running", "run started", run_id="run-3")
    state.set_paused(True, "paused by ana")
    with state.connection:  # what a forge task records (autopilot --source github)
        state.connection.execute(
            "UPDATE autopilot_tasks SET change_url=? WHERE id='add-x'",
            ("https://github.com/o/r/pull/7",),
        )
        state.connection.execute(
            "UPDATE autopilot_tasks SET change_url=? WHERE id='docs'", ("javascript:alert(1)",)
        )


def test_the_page_shows_tasks_people_first_with_their_decisions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    ledger = tmp_path / "ledger.db"
    worked_queue(ledger, tmp_path / "repo")
    with serving(create_app(Settings(ledger=ledger))) as served:
        status, _, html = served.get("/autopilot")
        api_status, _, body = served.get("/api/autopilot")
        _, _, runs = served.get("/")
    assert status == 200 and api_status == 200
    assert 'href="/autopilot"' in runs  # reachable from every page's menu
    assert "paused by ana" in html and "1 waiting for a person" in html
    assert html.index("fix-y") < html.index("add-x")  # the person's task first
    assert '<a href="/runs/run-2">run</a>' in html and "needs-person" in html
    assert HOSTILE not in html and "&lt;script&gt;" in html
    assert SECRET not in html and SECRET not in body
    assert '<meta http-equiv="refresh"' in html  # a run is under way
    assert 'href="https://github.com/o/r/pull/7"' in html and "javascript:" not in html
    (workspace,) = json.loads(body)["workspaces"]
    assert workspace["paused"] is True
    by_id = {task["id"]: task for task in workspace["tasks"]}
    assert [d["to_state"] for d in by_id["add-x"]["decisions"]] == ["queued", "running", "merged"]
    assert by_id["add-x"]["commit_sha"] == "a" * 40 and by_id["fix-y"]["run_id"] == "run-2"


def test_a_ledger_without_autopilot_says_so(tmp_path: Path) -> None:
    with serving(create_app(Settings(ledger=tmp_path / "ledger.db"))) as served:
        status, _, html = served.get("/autopilot")
    assert status == 200 and "has not worked in any repository yet" in html
    assert "refresh" not in html


def test_the_pages_groups_of_states_are_autopilots() -> None:
    """The dashboard may not import autopilot (layers): its copy must say the same."""
    assert set(page_data.WAITING_ON_PEOPLE) == set(autopilot_state.WAITING_ON_PEOPLE)
    assert set(page_data.FINISHED) == set(autopilot_state.FINISHED)
    under_way = {autopilot_state.RUNNING, *autopilot_state.IN_FLIGHT}
    assert set(page_data.UNDER_WAY) == under_way
    named = {*page_data.WAITING_ON_PEOPLE, *page_data.FINISHED, *page_data.UNDER_WAY, "queued"}
    assert named == set(autopilot_state.STATES)
