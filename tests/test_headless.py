"""Which replies without a tool call wait for an answer (agent/headless.py)."""

from __future__ import annotations

import pytest

from autocodebase.agent.guards import stall_of, stalled_again
from autocodebase.agent.headless import awaits_answer, written_call
from autocodebase.models.base import Message


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Now I'll run the tests.", "announcement"),
        ("I found the bug in core.py. Let me fix it.", "announcement"),
        ("Should I also update the README?", "question"),
        ("Which option do you prefer: A or B", "question"),
        ("Fixed the off-by-one in core.py and added a test; all tests pass.", None),
        ("Added longest_word with a test. Should I also export it from the package?", None),
        ("Done: the parser now accepts tabs. Let me know if you want spaces too.", None),
        ("", None),
    ],
)
def test_what_waits_for_an_answer(text: str, kind: str | None) -> None:
    assert awaits_answer(text) == kind


TOOLS = ("read_file", "search", "apply_patch", "run_tests", "shell")


@pytest.mark.parametrize(
    "text,shown",
    [
        # SmolLM2 behind llama.cpp, run 10 of the real-model trial
        ('functions.search:\n{ "query": "argparse" }', "functions.search"),
        ("*** Begin Patch\n*** Update File: a.py\n@@\n-x\n+y\n*** End Patch", "*** Begin Patch"),
        (
            '<tool_call>\n{"name": "read_file", "arguments": {"path": "a"}}\n</tool_call>',
            "<tool_call>",
        ),
        ('{"name": "run_tests", "arguments": {}}', '{"name": "run_tests", "arguments"'),
        ("Done: I used functions.frobnicate to check.", None),  # not one of our tools
        ("I fixed it and all tests pass.", None),
        ('The config has {"name": "x", "version": 2}.', None),
    ],
)
def test_a_call_written_as_text_is_seen(text: str, shown: str | None) -> None:
    assert written_call(text, TOOLS) == shown


def test_a_written_call_is_nudged_then_fails_the_run() -> None:
    reply = Message("assistant", 'functions.read_file:\n{ "path": "README.md" }')
    kind, nudge = stall_of(reply, "stop", headless=False, tools=TOOLS) or ("", "")
    assert kind == "written" and "Nothing was run or changed" in nudge
    assert stalled_again(kind, reply.content) == (
        "failed",
        "the model wrote tool calls as text twice instead of making them",
    )
