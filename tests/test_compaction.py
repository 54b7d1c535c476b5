"""Compaction keeps what a summary must not lose, verbatim, and the conversation stays valid."""

from __future__ import annotations

from pathlib import Path

import pytest

from autocodebase.agent.loop import Agent, LoopLimits
from autocodebase.models.base import Message
from autocodebase.models.cassette import ScriptedModel
from autocodebase.models.retry import RetryPolicy
from autocodebase.tools import default_toolbox
from autocodebase.tools.base import ToolContext
from autocodebase.vcs.checkpoint import Snapshotter
from tests.helpers import EventLog, reply

TASK = "Make word_count ignore numbers. Keep the public API unchanged."
PLAN = {
    "steps": [
        {"step": "Change words()", "status": "completed"},
        {"step": "Run tests", "status": "in_progress"},
    ]
}
PATCH = '*** Begin Patch\n*** Update File: wordstats/core.py\n@@\n-WORD = re.compile(r"[a-z0-9\']+")\n+WORD = re.compile(r"[a-z\']+")\n*** End Patch'


@pytest.mark.slow
def test_compaction_keeps_task_plan_files_and_tests(wordstats_repo: Path) -> None:
    log = EventLog()
    model = ScriptedModel(
        [
            reply("", ("update_plan", PLAN), ("apply_patch", {"patch": PATCH})),
            reply("", ("shell", {"command": "python -m pytest -q"})),
            reply("Done: numbers no longer count. " + "detail " * 400),
            reply("We changed WORD to drop digits; tests pass."),  # the summary
            reply("Yes, digits are ignored now."),
        ]
    )
    agent = Agent(
        model=model,
        toolbox=default_toolbox(),
        context=ToolContext(workspace=wordstats_repo, emit=log),
        emit=log,
        limits=LoopLimits(compact_at_tokens=500),
        retry=RetryPolicy(sleep=lambda s: None),
        snapshots=Snapshotter(wordstats_repo),
    )
    agent.start("system prompt")
    assert agent.turn(TASK).outcome == "completed"
    second = agent.turn("Are digits ignored now?")
    assert second.outcome == "completed" and second.final_message == "Yes, digits are ignored now."

    summary_request = model.requests[3]
    assert summary_request[0].content.startswith("Summarise this conversation")
    assert model.offered_tools[3] == []  # the summary call offers no tools
    after = model.requests[4]
    assert [m.role for m in after] == ["system", "user", "user"]
    kept = after[1].content
    assert f"The task, as the user first stated it:\n{TASK}" in kept
    assert "[completed] Change words()" in kept and "[in_progress] Run tests" in kept
    assert "wordstats/core.py" in kept
    assert "$ python -m pytest -q" in kept and "passed" in kept
    assert "We changed WORD to drop digits" in kept
    assert after[2].content == "Are digits ignored now?"
    event = log.of("compacted")[0]
    assert event["tokens_after"] < event["tokens_before"] and not event["forced"]


def test_forced_compaction_when_the_summary_call_fails(tmp_path: Path) -> None:
    log = EventLog()
    agent = Agent(
        model=ScriptedModel([]),  # no answer left: the summary call fails
        toolbox=default_toolbox(),
        context=ToolContext(workspace=tmp_path, emit=log),
        emit=log,
        retry=RetryPolicy(max_attempts=1, sleep=lambda s: None),
    )
    agent.start("system prompt")
    assert agent.compact(forced=True) is False  # nothing but the system prompt yet
    agent.task = "the task"
    agent.messages += [Message("user", "the task"), Message("assistant", "working on it")]
    assert agent.compact(forced=True) is True
    kept = agent.messages[1].content
    assert "The task, as the user first stated it:\nthe task" in kept
    assert "(no summary: the model could not write one" in kept
    assert log.of("compacted")[0]["forced"]
