"""acb's secondary calls read what real models write (issue 26 item 7). The fixtures are shaped
like real answers: Claude's preamble and fenced block with a closing remark, GPT's bold labels
and bare lists, Qwen's and DeepSeek's `<think>` blocks (closed, opened by the chat template,
or never closed), and the megabyte a runaway model sends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autocodebase.agent.commit_message import tidy, trailers, write_commit_message
from autocodebase.models.base import Message, Response, Usage
from autocodebase.models.retry import RetryPolicy
from autocodebase.quality.model_text import json_values, strip_thinking
from autocodebase.quality.review.changes import ChangeSet
from autocodebase.quality.review.model_review import review_with_model
from autocodebase.quality.testgen import extract_modules
from tests.conftest import git
from tests.fakes.mock_server import Reply
from tests.helpers import exec_with_mock
from tests.test_review_model import repo_with_change


class Scripted:
    """A model that answers each call with the next text, and keeps what it was asked."""

    name = "scripted/real-shapes"

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.asked: list[list[Message]] = []

    def complete(self, messages: list[Message], tools: object, on_text: object = None) -> Response:
        self.asked.append(messages)
        return Response(Message("assistant", self.answers.pop(0)), Usage(input_tokens=5))


# -- reasoning blocks -------------------------------------------------------------------------


def test_reasoning_is_never_the_answer() -> None:
    assert strip_thinking("<think>\nHmm, {draft}\n</think>\n\nanswer") == "answer"
    assert strip_thinking("<THINKING>a</THINKING>b<think>c</think>d") == "bd"
    # The chat template opened the block in the prompt: only the close is in the answer.
    assert strip_thinking("Okay, the user wants...\n</think>\n\nanswer") == "answer"
    # Cut off while thinking: nothing was answered.
    assert strip_thinking("<think>\nLet me look at the diff. It adds") == ""


# -- commit messages --------------------------------------------------------------------------

CLAUDE_COMMIT = """Here's a commit message for this change:

```
feat(stats): add top_words helper

Add top_words(text, n), returning the n most frequent words with their
counts. Ties are broken alphabetically so the result is deterministic.
```

This follows the Conventional Commits format. Let me know if you'd like any adjustments!"""

GPT_COMMIT = """**Subject:** fix(core): count words separated by tabs

**Body:**
word_count split on spaces only, so "a\\tb" counted as one word. Split on
any whitespace instead.

Let me know if you'd like a shorter version."""

QWEN_COMMIT = """<think>
Okay, the user wants a commit message for this diff. The diff changes word_count to use
split(). So something like "fix: count words separated by tabs". Let me write a body too.
Subject: wrong draft
</think>

fix(core): count words separated by tabs

word_count split on spaces only; it now splits on any whitespace."""

QWEN_TEMPLATE_OPENED = """Okay, let me look at the diff first. It renames a variable.
</think>

refactor(core): name the counted words

Easier to debug."""

LLAMA_COMMIT = """Sure! Here is a commit message for the changes:

Subject: docs: explain the ranking of ties

Body: The README did not say how ties are ordered.

I hope this helps!"""

HEADED_COMMIT = """### Commit message

**`refactor(cli): read the config once`**

The config was parsed for every subcommand.

---

*Note: this commit message uses the imperative mood.*"""


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (
            CLAUDE_COMMIT,
            "feat(stats): add top_words helper\n\nAdd top_words(text, n), returning the n most "
            "frequent words with their\ncounts. Ties are broken alphabetically so the result "
            "is deterministic.",
        ),
        (
            GPT_COMMIT,
            'fix(core): count words separated by tabs\n\nword_count split on spaces only, so "a'
            '\\tb" counted as one word. Split on\nany whitespace instead.',
        ),
        (
            QWEN_COMMIT,
            "fix(core): count words separated by tabs\n\nword_count split on spaces only; it "
            "now splits on any whitespace.",
        ),
        (QWEN_TEMPLATE_OPENED, "refactor(core): name the counted words\n\nEasier to debug."),
        (
            LLAMA_COMMIT,
            "docs: explain the ranking of ties\n\nThe README did not say how ties are ordered.",
        ),
        (
            HEADED_COMMIT,
            "refactor(cli): read the config once\n\nThe config was parsed for every subcommand.",
        ),
    ],
    ids=["claude-fenced", "gpt-bold-labels", "qwen-think", "qwen-template", "llama", "headed"],
)
def test_the_commit_message_is_what_the_model_meant(answer: str, expected: str) -> None:
    assert tidy(answer) == expected


def test_a_message_that_is_not_wrapped_is_kept_as_written() -> None:
    plain = "fix: keep the body\n\nCommit message parsing: the body stays.\n\n```\ncode\n```"
    assert tidy(plain) == "fix: keep the body\n\nCommit message parsing: the body stays.\n\ncode"
    assert tidy("Commit message parsing: strip fences") == "Commit message parsing: strip fences"


def test_a_long_subject_is_cut_at_a_word() -> None:
    subject = "fix(core): handle empty input in word_count so callers passing whitespace get zero"
    cut = tidy(subject + "\n\nWhy.").split("\n")[0]
    assert len(cut) <= 72 and cut.endswith("…")
    assert cut == "fix(core): handle empty input in word_count so callers passing…"


def test_only_acbs_trailers_reach_the_commit() -> None:
    answer = (
        "Here is the commit message:\n\nfeat: x\n\nWhy.\n\n"
        "Signed-off-by: Model <m@example.com>\nAssisted-by: acb:someone-else"
    )
    message = f"{tidy(answer)}\n\n{trailers('openai/m', 'run-1')}\n"
    assert message == "feat: x\n\nWhy.\n\nAssisted-by: acb:openai/m\nAcb-Run: run-1\n"


def test_a_megabyte_answer_makes_a_bounded_message() -> None:
    runaway = "feat: x\n\n" + "All work and no play makes a dull model.\n" * 30_000
    message, source, _ = write_commit_message(
        Scripted(runaway),  # type: ignore[arg-type]
        RetryPolicy(sleep=lambda s: None),
        "task",
        "diff",
        ["a.py"],
    )
    assert source == "model" and message.startswith("feat: x\n\nAll work")
    assert len(message) < 4_200 and "[message cut by acb" in message
    huge_subject = tidy("y" * 1_000_000)
    assert len(huge_subject) == 72 and huge_subject.endswith("…")


@pytest.mark.parametrize(
    "answer",
    [
        "<think>\nThe diff adds a helper. A good subject would be feat: add",
        "Here is the commit message:\n\n```\n```\n\nLet me know!",
        "**",
        "",
    ],
    ids=["cut-while-thinking", "empty-fence", "markup-only", "empty"],
)
def test_nothing_usable_falls_back_to_acbs_own_message(answer: str) -> None:
    message, source, _ = write_commit_message(
        Scripted(answer),  # type: ignore[arg-type]
        RetryPolicy(sleep=lambda s: None),
        "count words split by tabs",
        "diff",
        ["wordstats/core.py"],
    )
    assert source.startswith("fallback:")
    assert message.startswith("chore: count words split by tabs\n\n")
    assert "- wordstats/core.py" in message


# -- model review -----------------------------------------------------------------------------

FINDING = {
    "file": "users.py",
    "line": 6,
    "category": "bug",
    "severity": "high",
    "message": "fetchone() returns None when no user matches; row[0] raises TypeError.",
    "fix": "return row[0] if row else None",
}


PLACELESS = {k: v for k, v in FINDING.items() if k not in ("file", "line")}


def review(tmp_path: Path, *answers: str):  # type: ignore[no-untyped-def]
    root = repo_with_change(tmp_path)
    diff = git(root, "diff", "-U3", "HEAD^", "HEAD")
    changes = ChangeSet("HEAD", root, {"users.py": set(range(2, 10))}, diff)
    model = Scripted(*answers)
    return review_with_model(model, changes), model  # type: ignore[arg-type]


def test_claude_style_review_in_prose_with_string_ids_and_scores(tmp_path: Path) -> None:
    first = (
        "I reviewed the change. There is one real problem:\n\n```json\n"
        + json.dumps({"findings": [{**FINDING, "file": "b/users.py", "line": "6"}]})
        + "\n```\n\nThe rest of the change looks fine."
    )
    second = 'Here are my scores:\n{"scores": [{"id": "1", "score": "9/10", "why": "crashes"}]}'
    outcome, model = review(tmp_path, first, second)
    assert [(f.file, f.line, f.rule, f.severity) for f in outcome.findings] == [
        ("users.py", 6, "bug", "high")
    ]
    assert "(scored 9/10)" in outcome.findings[0].message
    assert "1. users.py:6 [bug, high]" in model.asked[1][1].content


def test_gpt_style_bare_list_with_git_paths_and_unnumbered_scores(tmp_path: Path) -> None:
    first = json.dumps(
        [
            {**FINDING, "file": "a/users.py", "line": "L6", "category": "Bug"},
            {**FINDING, "file": "./users.py", "line": 9.0, "category": "Test Gap"},
        ]
    )
    second = json.dumps([{"score": 8, "why": "real"}, {"score": "3", "why": "speculative"}])
    outcome, _ = review(tmp_path, first, second)
    assert [(f.file, f.line, f.rule) for f in outcome.findings] == [("users.py", 6, "bug")]
    assert [why for _, why in outcome.dropped] == ["scored 3/10: speculative"]


def test_qwen_style_review_after_thinking_that_contains_json(tmp_path: Path) -> None:
    draft = json.dumps({"findings": [{**FINDING, "line": 40, "message": "draft"}]})
    first = (
        f"<think>\nLet me check line 6. Draft: {draft}\nActually line 6 is the problem.\n"
        "</think>\n\n"
        + json.dumps({"findings": [{**PLACELESS, "path": "users.py:6", "line": None}]})
    )
    second = '<think>\n{"scores": [{"id": 1, "score": 1}]}\n</think>\n[{"id": 1, "score": 8}]'
    outcome, _ = review(tmp_path, first, second)
    assert [(f.file, f.line) for f in outcome.findings] == [("users.py", 6)]
    assert "draft" not in outcome.findings[0].message


def test_unplaceable_findings_are_dropped_and_counted_never_a_crash(tmp_path: Path) -> None:
    first = json.dumps(
        {
            "findings": [
                "users.py line 6 may return None",
                {**FINDING, "line": "sixth"},
                {**FINDING, "line": True},
                {**FINDING, "file": "other/users_test.py"},
            ],
        }
    )
    outcome, model = review(tmp_path, first)
    assert outcome.proposed == 4 and not outcome.findings
    assert [why for _, why in outcome.dropped] == [
        "no file and line",
        "no file and line",
        "no file and line",
        "points at a line the change does not show",
    ]
    assert len(model.asked) == 1, "nothing placeable, so nothing to score"


@pytest.mark.parametrize(
    "answer",
    [
        "I could not find any problems.",
        "{not json at all",
        '{"findings": "none"}',
        "<think>\n" + "{" * 10_000,
        "[" * 100_000,
    ],
)
def test_an_unreadable_review_is_no_finding(tmp_path: Path, answer: str) -> None:
    outcome, _ = review(tmp_path, answer)
    assert outcome.findings == [] and outcome.proposed == 0


def test_json_in_prose_with_a_trailing_comma_is_read() -> None:
    answer = 'Result:\n{"findings": [{"file": "a.py", "line": 1,},],}\nDone.'
    assert json_values(answer)[0] == {"findings": [{"file": "a.py", "line": 1}]}


# -- test generation --------------------------------------------------------------------------

TEST_MODULE = (
    "from calc.ops import clamp\n\n\ndef test_clamp_low():\n    assert clamp(-1, 0, 9) == 0\n"
)


def test_tests_in_any_fence_are_candidates_and_other_blocks_are_not() -> None:
    answer = (
        "The function under test:\n\n```python\ndef clamp(x, lo, hi):\n    return x\n```\n\n"
        f"Tests:\n\n```\n{TEST_MODULE}```\n\n~~~py\n{TEST_MODULE}~~~\n\n"
        f"```Python3\n{TEST_MODULE}```\n\nRun them with:\n\n```bash\npytest -q\n```\n"
    )
    assert extract_modules(answer) == [TEST_MODULE] * 3


def test_qwen_drafts_inside_thinking_are_not_candidates() -> None:
    draft = "```python\ndef test_draft():\n    assert False\n```"
    answer = (
        f"<think>\nFirst attempt:\n{draft}\nNo, better:\n</think>\n\n```python\n{TEST_MODULE}```"
    )
    assert extract_modules(answer) == [TEST_MODULE]


def test_a_bare_module_is_taken_when_it_parses_and_tests_something() -> None:
    answer = f"Here are the tests for clamp:\n\n{TEST_MODULE}\nThese cover the lower bound.\n"
    assert extract_modules(answer) == [TEST_MODULE]
    assert extract_modules(TEST_MODULE) == [TEST_MODULE]
    assert extract_modules("import os\n\n\ndef helper():\n    return 1\n") == []
    assert extract_modules("I cannot write tests for this module without more context.") == []
    assert extract_modules("from x import (\n\ndef test_x(:\n") == []


def test_a_fence_left_open_by_a_cut_answer_is_still_judged() -> None:
    cut = f"```python\n{TEST_MODULE}\ndef test_more():\n    assert clamp("
    (module,) = extract_modules(cut)
    assert module.startswith(TEST_MODULE), "the judge rejects it as a syntax error, on record"


# -- end to end -------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_reasoning_models_commit_message_reaches_git_clean(wordstats_repo: Path) -> None:
    """`acb exec` against the loopback server: the commit holds the message, not the
    reasoning or the chatter around it, and acb's trailers once."""
    patch = (
        "*** Begin Patch\n*** Update File: wordstats/core.py\n"
        "@@ def word_count(text: str) -> int:\n"
        '     """How many words `text` holds."""\n'
        "-    return len(words(text))\n+    counted = words(text)\n+    return len(counted)\n"
        "*** End Patch"
    )
    replies = [
        Reply("", [("apply_patch", {"patch": patch})]),
        Reply("Done."),
        Reply(QWEN_TEMPLATE_OPENED + "\n\nLet me know if you want changes!"),
    ]
    done, _ = exec_with_mock(wordstats_repo, replies, "name the counted words")
    assert done.returncode == 0, done.stderr
    message = git(wordstats_repo, "log", "-1", "--format=%B")
    assert message.startswith("refactor(core): name the counted words\n\nEasier to debug.\n\n")
    assert "think" not in message and "Let me know" not in message
    assert message.count("Assisted-by: acb:openai/mock-model") == 1
