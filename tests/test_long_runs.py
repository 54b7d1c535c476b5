"""Long runs (issue 26 item 3): a headless run is one turn, so it compacts as it goes, compacts
and retries when the provider says the request is over its window, and is told when its step
budget is nearly spent. Through `acb exec` and the real OpenAI provider over the loopback mock."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes.mock_server import Fault, Reply
from tests.helpers import exec_with_mock, json_events, write_user_config

pytestmark = pytest.mark.slow  # each test is a whole `acb exec` run

BIG = "python3 -c \"print('x' * 8000)\""


@pytest.mark.usefixtures("isolated_home")
def test_a_long_turn_compacts_instead_of_outgrowing_the_window(wordstats_repo: Path) -> None:
    # No map, so that the prompt's size is the system prompt and AGENTS.md (~650 tokens).
    write_user_config("compact_at_tokens = 1500\nmap_tokens = 0\n")
    replies = [
        Reply("", [("read_file", {"path": "README.md"})]),
        Reply("", [("shell", {"command": BIG})]),
        Reply("Summary: read the README, then printed a long line."),  # the compaction call
        Reply("Read what I needed; nothing to change."),
    ]
    done, server = exec_with_mock(wordstats_repo, replies, "look around", "--json", "--no-git")
    assert done.returncode == 0, done.stdout[-1500:]
    compacted = [e for e in json_events(done.stdout) if e["type"] == "compacted"]
    assert len(compacted) == 1 and not compacted[0]["forced"]
    after = server.requests[3].body["messages"]
    assert [m["role"] for m in after] == ["system", "user", "assistant", "tool"]
    assert "look around" in after[1]["content"]  # the task, verbatim
    assert "Summary: read the README" in after[1]["content"]
    assert after[2]["tool_calls"][0]["function"]["name"] == "shell"  # latest exchange kept
    assert "x" * 7000 in after[3]["content"]


@pytest.mark.usefixtures("isolated_home")
def test_over_the_window_the_run_compacts_and_retries_once(wordstats_repo: Path) -> None:
    overflow = "This model's maximum context length is 8192 tokens. Please reduce the length."
    replies = [
        Reply("", [("read_file", {"path": "README.md"})]),
        Fault(status=400, message=overflow),
        Reply("Summary: read the README."),
        Reply("Nothing to change."),
    ]
    done, _ = exec_with_mock(wordstats_repo, replies, "look", "--json", "--no-git")
    assert done.returncode == 0, done.stdout[-1500:]
    compacted = [e for e in json_events(done.stdout) if e["type"] == "compacted"]
    assert len(compacted) == 1 and compacted[0]["forced"]


@pytest.mark.usefixtures("isolated_home")
def test_a_second_overflow_is_reported_not_looped(wordstats_repo: Path) -> None:
    overflow = "prompt is too long: 250000 tokens > 200000 maximum"
    replies = [
        Reply("", [("read_file", {"path": "README.md"})]),
        Fault(status=400, message=overflow),
        Reply("Summary."),
        Fault(status=400, message=overflow),
    ]
    done, _ = exec_with_mock(wordstats_repo, replies, "look", "--json", "--no-git")
    assert done.returncode == 1
    finished = next(e for e in json_events(done.stdout) if e["type"] == "run_finished")
    assert "prompt is too long" in finished["error"]


@pytest.mark.usefixtures("isolated_home")
def test_the_model_is_told_when_few_steps_are_left(wordstats_repo: Path) -> None:
    replies = [Reply("", [("read_file", {"path": "README.md"})]) for _ in range(7)]
    replies.append(Reply("Stopping here."))
    done, server = exec_with_mock(
        wordstats_repo, replies, "look", "--json", "--no-git", "--max-steps", "8"
    )
    assert done.returncode == 0, done.stdout[-1500:]
    told = [
        i
        for i, request in enumerate(server.requests)
        if "model calls are left" in str(request.body["messages"][-1]["content"])
    ]
    assert told == [5], "once, when three calls are left"


@pytest.mark.usefixtures("isolated_home")
def test_a_run_ends_at_its_time_limit_even_with_a_provider_that_keeps_failing(
    wordstats_repo: Path,
) -> None:
    """Six attempts of 1, 2, 4, 8, 16 s would hold the run for half a minute per step; the
    time limit ends it, as `max_time` (exit 3)."""
    replies = [Fault(status=503) for _ in range(6)]
    done, _ = exec_with_mock(
        wordstats_repo, replies, "look", "--json", "--no-git", "--max-minutes", "0.05"
    )
    assert done.returncode == 3, done.stdout[-1500:]
    finished = next(e for e in json_events(done.stdout) if e["type"] == "run_finished")
    assert finished["outcome"] == "max_time" and "while retrying" in finished["error"]
    assert finished["duration_s"] < 12


@pytest.mark.usefixtures("isolated_home")
def test_a_request_in_flight_ends_with_the_runs_time(wordstats_repo: Path) -> None:
    """A local model that thinks for minutes before its first byte (SmolLM2 under load did not
    answer in 400 s) no longer holds a 3-second run for the 600-second request timeout."""
    done, _ = exec_with_mock(
        wordstats_repo,
        [Fault(delay_s=120, then=Reply("too late"))],
        "look",
        "--json",
        "--no-git",
        "--max-minutes",
        "0.05",
    )
    assert done.returncode == 3, done.stdout[-1500:]
    finished = next(e for e in json_events(done.stdout) if e["type"] == "run_finished")
    assert finished["outcome"] == "max_time"
    assert "while waiting for the model" in finished["error"]
    assert finished["duration_s"] < 15
