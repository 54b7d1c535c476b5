"""The loop, driven by the scripted model: outcomes, limits, error observations, events."""

from __future__ import annotations

from pathlib import Path

import pytest

from autocodebase.agent.loop import Agent, LoopLimits
from autocodebase.models.base import ModelError
from autocodebase.models.cassette import ScriptedModel
from autocodebase.models.pricing import Price
from autocodebase.models.retry import RetryPolicy
from autocodebase.tools import default_toolbox
from autocodebase.tools.base import ToolContext
from autocodebase.vcs.checkpoint import Snapshotter
from tests.helpers import EventLog, count_snapshots, reply

PATCH = """*** Begin Patch
*** Update File: wordstats/core.py
@@
-WORD = re.compile(r"[a-z0-9']+")
+WORD = re.compile(r"[a-z0-9'-]+")
*** End Patch"""


def make_agent(
    workspace: Path, script: list, **kwargs: object
) -> tuple[Agent, EventLog, ScriptedModel]:
    log = EventLog()
    model = ScriptedModel(script)
    agent = Agent(
        model=model,
        toolbox=default_toolbox(),
        context=ToolContext(workspace=workspace, emit=log),
        emit=log,
        snapshots=Snapshotter(workspace) if (workspace / ".git").exists() else None,
        retry=RetryPolicy(sleep=lambda s: None),
        **kwargs,  # type: ignore[arg-type]
    )
    return agent, log, model


def test_edit_test_finish(wordstats_repo: Path) -> None:
    agent, log, model = make_agent(
        wordstats_repo,
        [
            reply("", ("apply_patch", {"patch": PATCH})),
            reply("", ("shell", {"command": "python -m pytest -q"})),
            reply("Done: hyphenated words now count as one."),
        ],
    )
    result = agent.run("system", "allow hyphens")
    assert result.outcome == "completed" and result.exit_code == 0
    assert result.final_message == "Done: hyphenated words now count as one."
    assert "[a-z0-9'-]+" in (wordstats_repo / "wordstats/core.py").read_text()
    assert result.diff is not None and '+WORD = re.compile(r"[a-z0-9\'-]+")' in result.diff
    test_result = next(e for e in log.of("tool_result") if e["name"] == "shell")
    assert not test_result["is_error"] and "passed" in test_result["output"]
    assert [e["path"] for e in log.of("file_changed")] == ["wordstats/core.py"]
    # the model saw its own tool results, in order, tied to their calls
    last_request = model.requests[-1]
    assert [m.role for m in last_request[-4:]] == ["assistant", "tool", "assistant", "tool"]
    assert last_request[-1].tool_call_id == "call_0_shell"
    kinds = [e.type for e in log.events if not e.transient]
    assert kinds[0] == "model_request" and kinds[-1] == "run_finished"


def test_shell_changes_are_attributed_to_shell(wordstats_repo: Path) -> None:
    agent, log, _ = make_agent(
        wordstats_repo,
        [reply("", ("shell", {"command": "echo new > notes.txt && rm README.md"})), reply("ok")],
    )
    agent.run("system", "task")
    changes = {(e["path"], e["change"], e["by"]) for e in log.of("file_changed")}
    assert changes == {("notes.txt", "added", "shell"), ("README.md", "deleted", "shell")}


def test_malformed_and_unknown_tool_calls_become_observations(tmp_path: Path) -> None:
    agent, log, model = make_agent(
        tmp_path,
        [
            reply("", ("read_file", '{"path": ')),
            reply("", ("launch_rockets", {"count": 3})),
            reply("", ("read_file", {"path": "x", "bogus": 1})),
            reply("gave up politely"),
        ],
    )
    result = agent.run("system", "task")
    assert result.outcome == "completed"
    outputs = [e["output"] for e in log.of("tool_result")]
    assert all(e["is_error"] for e in log.of("tool_result"))
    assert "not a valid JSON object" in outputs[0]
    assert "unknown tool 'launch_rockets'" in outputs[1] and "shell" in outputs[1]
    assert "bogus" in outputs[2]
    assert model.requests[-1][-1].is_error


def test_step_limit(tmp_path: Path) -> None:
    script = [reply("", ("shell", {"command": "true"})) for _ in range(5)]
    agent, log, _ = make_agent(tmp_path, script, limits=LoopLimits(max_steps=2))
    result = agent.run("system", "loop forever")
    assert result.outcome == "max_steps" and result.exit_code == 3
    assert log.of("run_finished")[0]["steps"] == 2


def test_cost_limit(tmp_path: Path) -> None:
    script = [reply("", ("shell", {"command": "true"}), tokens=1_000_000) for _ in range(5)]
    agent, _, _ = make_agent(
        tmp_path, script, limits=LoopLimits(max_cost=1.5), price=Price(1.0, 0.0)
    )
    result = agent.run("system", "spend")
    assert result.outcome == "max_cost"
    assert result.cost == pytest.approx(2.0)
    assert result.steps == 2


def test_unpriced_model_warns_that_cost_limit_cannot_hold(tmp_path: Path) -> None:
    agent, log, _ = make_agent(tmp_path, [reply("hi")], limits=LoopLimits(max_cost=1.0))
    result = agent.run("system", "task")
    assert result.outcome == "completed" and result.cost is None
    assert "cannot be enforced" in log.of("error")[0]["message"]


def test_retries_then_gives_up(tmp_path: Path) -> None:
    failures = [ModelError("HTTP 500", retryable=True) for _ in range(3)]

    def failing(_messages: object) -> None:
        raise failures.pop()

    agent, log, _ = make_agent(tmp_path, [failing, failing, failing])
    agent.retry = RetryPolicy(max_attempts=3, sleep=lambda s: None)
    result = agent.run("system", "task")
    assert result.outcome == "failed" and result.exit_code == 1
    assert len(log.of("model_retry")) == 2
    assert "HTTP 500" in (result.error or "")


def test_retry_recovers(tmp_path: Path) -> None:
    def flaky(_messages: object) -> None:
        raise ModelError("rate limited", retryable=True, retry_after=2.5)

    slept: list[float] = []
    agent, log, _ = make_agent(tmp_path, [flaky, reply("fine")])
    agent.retry = RetryPolicy(sleep=slept.append)
    assert agent.run("system", "task").outcome == "completed"
    assert slept == [2.5]
    assert log.of("model_retry")[0]["delay_s"] == 2.5


def test_interrupt_is_recorded(tmp_path: Path) -> None:
    def interrupted(_messages: object) -> None:
        raise KeyboardInterrupt

    agent, log, _ = make_agent(tmp_path, [interrupted])
    result = agent.run("system", "task")
    assert result.outcome == "interrupted" and result.exit_code == 130
    assert log.of("run_finished")[0]["outcome"] == "interrupted"


def test_internal_error_ends_the_run_with_a_record(tmp_path: Path) -> None:
    def broken(_messages: object) -> None:
        raise ZeroDivisionError("oops")

    agent, log, _ = make_agent(tmp_path, [broken])
    result = agent.run("system", "task")
    assert result.outcome == "failed"
    assert "ZeroDivisionError" in (result.error or "")
    assert "Traceback" in log.of("error")[0]["message"]


def test_read_only_tools_do_not_snapshot_the_tree(wordstats_repo: Path) -> None:
    agent, _, _ = make_agent(
        wordstats_repo,
        [
            reply("", ("read_file", {"path": "wordstats/core.py"}), ("search", {"pattern": "def"})),
            reply("", ("shell", {"command": "cat wordstats/core.py | grep def"})),
            reply("", ("shell", {"command": "touch made.txt"})),
            reply("done"),
        ],
    )
    taken = count_snapshots(agent)
    agent.run("system", "look")
    # baseline, before and after `touch` (a command the classifier knows only reads gets
    # none), the final diff
    assert taken == [4]


def test_context_that_is_ready_later_reaches_the_model_with_a_tool_result(
    wordstats_repo: Path,
) -> None:
    agent, _, model = make_agent(
        wordstats_repo,
        [
            reply("", ("read_file", {"path": "README.md"})),
            reply("", ("read_file", {"path": "README.md"})),
            reply("Done."),
        ],
    )
    ready = iter([None, "[acb: the repository map is ready]\nwordstats/core.py:3: def words"])
    agent.late_context = lambda: next(ready, "given twice")
    result = agent.run("system", "look")
    assert result.outcome == "completed"
    second, third = model.requests[1], model.requests[2]
    assert "repository map is ready" not in second[-1].content  # not ready at the first check
    assert third[-1].role == "tool" and third[-1].content.endswith("def words")
    assert sum("repository map is ready" in m.content for m in third) == 1
