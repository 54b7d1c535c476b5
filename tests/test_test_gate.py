"""The test gate in real runs (`acb exec` against the mock server): a change that breaks a
passing test goes back to the model; tests that failed before the run are not blamed on it; a
run that cannot make its tests pass again fails and does not commit."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import git
from tests.fakes.mock_server import Reply
from tests.helpers import exec_with_mock, write_file, write_user_config
from tests.helpers import json_events as events

pytestmark = pytest.mark.slow  # end-to-end: `make test-slow`, not `make test`

BREAK = """*** Begin Patch
*** Update File: wordstats/core.py
@@ def word_count(text: str) -> int:
     \"\"\"How many words `text` holds.\"\"\"
-    return len(words(text))
+    return len(words(text)) + 1
*** End Patch"""

REPAIR = """*** Begin Patch
*** Update File: wordstats/core.py
@@ def word_count(text: str) -> int:
     \"\"\"How many words `text` holds.\"\"\"
-    return len(words(text)) + 1
+    return len(words(text))
*** End Patch"""

OLD_BUG = """from wordstats import words


def test_apostrophes_are_kept_as_one_word():
    assert words("don't stop") == ["do", "n't", "stop"]
"""


def with_old_failure(repo: Path) -> Path:
    write_file(repo / "tests/test_old_bug.py", OLD_BUG)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "a test that already fails")
    return repo


def test_new_failures_go_back_to_the_model_and_old_ones_are_not_blamed(
    wordstats_repo: Path,
) -> None:
    repo = with_old_failure(wordstats_repo)
    script = [
        Reply("", [("apply_patch", {"patch": BREAK})]),
        Reply("Done: word_count changed."),
        Reply("", [("apply_patch", {"patch": REPAIR})]),
        Reply("Done: restored word_count."),
        Reply("fix(core): keep word_count exact"),
    ]
    done, server = exec_with_mock(repo, script, "tweak word_count", "--json")
    assert done.returncode == 0, done.stderr
    checked = [e for e in events(done.stdout) if e["type"] == "tests_checked"]
    assert [c["verdict"] for c in checked] == ["sent-back", "preexisting"]
    old = "tests/test_old_bug.py::test_apostrophes_are_kept_as_one_word"
    broken = [
        "tests/test_core.py::test_word_count",
        "tests/test_service.py::test_count_answers_json",
    ]
    assert sorted(checked[0]["failed"]) == sorted([*broken, old])
    assert checked[0]["preexisting"] == [old]
    assert checked[1]["failed"] == [old] == checked[1]["preexisting"]
    feedback = server.requests[2].body["messages"][-1]
    assert feedback["role"] == "user"
    assert "- tests/test_core.py::test_word_count (" in feedback["content"]
    assert f'rerun them with run_tests (selector "{" ".join(broken)}")' in feedback["content"]
    assert "assert 5 == 4" in feedback["content"]
    assert "test_apostrophes" not in feedback["content"], "old failures are not the run's to fix"
    assert "1 other tests were already failing" in feedback["content"]
    finished = events(done.stdout)[-1]
    assert finished["outcome"] == "completed"


def test_a_run_that_leaves_tests_broken_fails_and_does_not_commit(wordstats_repo: Path) -> None:
    write_file(wordstats_repo / ".acb/config.toml", "[test]\nrounds = 1\n")
    git(wordstats_repo, "add", "-A")
    git(wordstats_repo, "commit", "-qm", "one round")
    head = git(wordstats_repo, "rev-parse", "HEAD")
    script = [
        Reply("", [("apply_patch", {"patch": BREAK})]),
        Reply("Done."),
        Reply("Still done, the tests are wrong."),
    ]
    done, _ = exec_with_mock(wordstats_repo, script, "tweak word_count", "--json")
    assert done.returncode == 1
    stream = events(done.stdout)
    assert [e["verdict"] for e in stream if e["type"] == "tests_checked"] == [
        "sent-back",
        "gave-up",
    ]
    finished = stream[-1]
    assert finished["outcome"] == "failed"
    assert "tests that passed before the run now fail: tests/test_core.py::test_word_count" in str(
        finished["error"]
    )
    assert git(wordstats_repo, "rev-parse", "HEAD") == head, (
        "nothing is committed over broken tests"
    )
    assert "+ 1" in (wordstats_repo / "wordstats/core.py").read_text(), (
        "the work is kept for the human"
    )


def test_a_run_without_edits_runs_no_tests_and_the_gate_can_be_turned_off(
    wordstats_repo: Path,
) -> None:
    done, _ = exec_with_mock(wordstats_repo, [Reply("Nothing to do.")], "look around", "--json")
    assert not [e for e in events(done.stdout) if e["type"] == "tests_checked"]
    write_user_config("[test]\ngate = false\n")  # yours to turn off; a repository may not
    script = [Reply("", [("apply_patch", {"patch": BREAK})]), Reply("Done."), Reply("chore: x")]
    done, _ = exec_with_mock(wordstats_repo, script, "tweak", "--json")
    assert done.returncode == 0
    assert not [e for e in events(done.stdout) if e["type"] == "tests_checked"]
