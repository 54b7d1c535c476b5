"""Replies without a tool call that are not the end of a task (issue 26 items 2 and 8): a
question or an announcement in a headless run, an empty reply, a reply cut at the output
limit, a reply the provider's filter stopped. Driven through `acb exec` and the real OpenAI
provider against the loopback mock."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import git
from tests.fakes.mock_server import Fault, Reply
from tests.helpers import PATCH, exec_with_mock, json_events

pytestmark = pytest.mark.slow  # each test is a whole `acb exec` run


def _nudges(server_requests: list) -> list[str]:  # type: ignore[type-arg]
    last = server_requests[-1].body["messages"]
    return [m["content"] for m in last if m["role"] == "user" and "[acb:" in str(m["content"])]


@pytest.mark.usefixtures("isolated_home")
def test_an_announcement_is_nudged_once_and_the_run_goes_on(wordstats_repo: Path) -> None:
    replies = [
        Reply("I'll add longest_word now."),
        Reply("", [("apply_patch", {"patch": PATCH})]),
        Reply("Added longest_word with a test; 4 tests pass."),
        Reply("feat: longest_word"),
    ]
    done, server = exec_with_mock(wordstats_repo, replies, "add longest_word", "--json")
    assert done.returncode == 0, done.stderr
    nudges = _nudges(server.requests[:3])
    assert len(nudges) == 1 and "headless run" in nudges[0]
    assert "feat: longest_word" in git(wordstats_repo, "log", "-1", "--format=%s")


@pytest.mark.usefixtures("isolated_home")
def test_a_question_asked_twice_ends_as_needs_input_without_a_commit(
    wordstats_repo: Path,
) -> None:
    head = git(wordstats_repo, "rev-parse", "HEAD")
    replies = [
        Reply("", [("apply_patch", {"patch": PATCH})]),
        Reply("Should longest_word return the first or the last word on ties?"),
        Reply("I still need to know: first or last on ties?"),
    ]
    done, _ = exec_with_mock(wordstats_repo, replies, "add longest_word", "--json")
    assert done.returncode == 4, done.stderr
    finished = next(e for e in json_events(done.stdout) if e["type"] == "run_finished")
    assert finished["outcome"] == "needs_input"
    assert "first or last on ties?" in finished["error"]
    assert git(wordstats_repo, "rev-parse", "HEAD") == head, "nothing committed"
    assert "longest_word" in (wordstats_repo / "wordstats/core.py").read_text(), "work kept"


@pytest.mark.usefixtures("isolated_home")
def test_empty_replies_are_nudged_then_fail(wordstats_repo: Path) -> None:
    done, server = exec_with_mock(
        wordstats_repo, [Reply("   "), Reply("")], "anything", "--json", "--no-git"
    )
    assert done.returncode == 1
    finished = next(e for e in json_events(done.stdout) if e["type"] == "run_finished")
    assert finished["error"] == "the model sent empty replies twice"
    assert len(server.requests) == 2 and "was empty" in _nudges(server.requests)[0]


@pytest.mark.usefixtures("isolated_home")
def test_a_reply_cut_at_the_output_limit_is_continued(wordstats_repo: Path) -> None:
    replies = [Reply("Here is the plan: first I", stop="length"), Reply("Nothing to change.")]
    done, server = exec_with_mock(wordstats_repo, replies, "anything", "--json", "--no-git")
    assert done.returncode == 0, done.stderr
    assert "cut off at the output token limit" in _nudges(server.requests)[0]


@pytest.mark.usefixtures("isolated_home")
def test_a_filtered_reply_is_not_a_finished_task(wordstats_repo: Path) -> None:
    replies = [Reply("I can't help with", stop="content_filter")]
    done, _ = exec_with_mock(wordstats_repo, replies, "anything", "--json", "--no-git")
    assert done.returncode == 1
    finished = next(e for e in json_events(done.stdout) if e["type"] == "run_finished")
    assert "content_filter" in finished["error"]


@pytest.mark.usefixtures("isolated_home")
@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        ('{"choices": [', "application/json"),
        ("<html><body>502 Bad Gateway</body></html>", "text/html"),
        ('data: {"broken\n\n', "text/event-stream"),
    ],
    ids=["invalid-json", "html-page", "broken-sse"],
)
@pytest.mark.parametrize("stream", ["--stream", "--no-stream"])
def test_a_garbled_answer_is_retried_not_a_crash(
    wordstats_repo: Path, raw: str, kind: str, stream: str
) -> None:
    replies = [Fault(raw=raw, raw_type=kind), Reply("Nothing to change.")]
    args = ["--json", "--no-git"] + ([] if stream == "--stream" else ["--no-stream"])
    done, _ = exec_with_mock(wordstats_repo, replies, "anything", *args)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    events = json_events(done.stdout)
    (retry,) = [e for e in events if e["type"] == "model_retry"]
    assert "internal error" not in retry["error"]


@pytest.mark.usefixtures("isolated_home")
def test_empty_and_repeated_tool_call_ids_are_made_unique(wordstats_repo: Path) -> None:
    """A local server that numbers every step's calls from call_0, or sends none: the next
    request would repeat an id, which providers refuse (the mock refuses it too)."""
    replies = [
        Reply("", [("read_file", {"path": "README.md"})], call_ids=["call_0"]),
        Reply("", [("read_file", {"path": "README.md"})], call_ids=["call_0"]),
        Reply(
            "", [("search", {"pattern": "def"}), ("read_file", {"path": "x"})], call_ids=["", ""]
        ),
        Reply("Read enough."),
    ]
    done, server = exec_with_mock(wordstats_repo, replies, "look", "--json", "--no-git")
    assert done.returncode == 0, done.stdout[-1500:]
    assert server.protocol_errors == []
    ids = [c["id"] for m in server.requests[-1].body["messages"] for c in m.get("tool_calls") or []]
    assert len(ids) == 4 and len(set(ids)) == 4 and all(ids)


@pytest.mark.usefixtures("isolated_home")
def test_the_same_failing_call_is_called_out_then_stopped(wordstats_repo: Path) -> None:
    failing = ("read_file", {"path": "no/such/file.py"})
    replies = [Reply("", [failing]) for _ in range(6)] + [Reply("never reached")]
    done, server = exec_with_mock(wordstats_repo, replies, "look", "--json", "--no-git")
    assert done.returncode == 1
    events = json_events(done.stdout)
    results = [e for e in events if e["type"] == "tool_result"]
    assert len(results) == 5, "stopped at the fifth identical failure"
    assert "has now failed 3 times" in results[2]["output"]
    assert "failed 2 times" not in results[1]["output"]
    finished = next(e for e in events if e["type"] == "run_finished")
    assert "repeated the same failing read_file call 5 times" in finished["error"]
    assert len(server.requests) == 5


BREAK_AND_HIDE = """*** Begin Patch
*** Update File: wordstats/core.py
@@
     \"\"\"The distinct words of `text`, case-insensitively.\"\"\"
-    return set(words(text))
+    return set(text.split())
*** Delete File: tests/test_core.py
*** End Patch"""


@pytest.mark.usefixtures("isolated_home")
def test_a_change_that_deletes_its_tests_is_called_out_and_not_verified(
    wordstats_repo: Path,
) -> None:
    """Breaking the code and deleting the test that would catch it leaves nothing failing."""
    replies = [
        Reply("", [("apply_patch", {"patch": BREAK_AND_HIDE})]),
        Reply("Done."),
        Reply("The old tests were obsolete, so I removed them."),
        Reply("refactor: simpler words"),
    ]
    done, server = exec_with_mock(wordstats_repo, replies, "simplify words()", "--json")
    assert done.returncode == 0, done.stdout[-1500:]
    told = [m for m in server.requests[2].body["messages"] if m["role"] == "user"][-1]
    assert "Your change removes tests: tests/test_core.py" in told["content"]
    finished = next(e for e in json_events(done.stdout) if e["type"] == "run_finished")
    verification = finished["verification"]
    assert verification["status"] == "partly-verified", verification
    assert "removes tests: tests/test_core.py" in verification["detail"]
    trailer = git(wordstats_repo, "log", "-1", "--format=%B")
    assert "Acb-Verified: partly-verified" in trailer


@pytest.mark.usefixtures("isolated_home")
def test_an_edit_left_uncommitted_is_said_in_words(wordstats_repo: Path) -> None:
    replies = [
        Reply("", [("apply_patch", {"patch": PATCH})]),
        Reply("Should longest_word keep the first or the last word on ties?"),
        Reply("First or last?"),
    ]
    done, _ = exec_with_mock(wordstats_repo, replies, "add longest_word")
    assert done.returncode == 4
    said = [line for line in done.stderr.splitlines() if line.startswith("⎇")]
    assert len(said) == 1 and said[0].startswith("⎇ not committed: 2 files changed")
    assert "tests/test_longest.py, wordstats/core.py" in said[0]
    assert "acb undo " in said[0] and "takes them back" in said[0]
