"""Which replies without a tool call wait for an answer (agent/headless.py)."""

from __future__ import annotations

import pytest

from autocodebase.agent.headless import awaits_answer


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
