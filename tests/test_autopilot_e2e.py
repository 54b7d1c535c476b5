"""`acb autopilot` end to end, as a user runs it: three queued tasks on the example project,
the scripted model making changes through the real `acb exec` machinery (sandbox, test and
review gates, commits), the merge decisions, `approve`, and `status`.

The mock server answers requests in order, and tasks run one after another in the queue's
order, so each task's replies follow the last one's: 4 for a run that ships (patch, a test
run, the final answer, the commit message), 3 for one whose acceptance test never passes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import git
from tests.fakes.mock_server import MockModelServer, Reply
from tests.helpers import SCRIPT, run_acb, write_files

NEVER_PASSES = """*** Begin Patch
*** Add File: wordstats/shortest.py
+def shortest_word(text: str) -> str:
+    return min(text.split(), key=len, default="")
*** End Patch"""

FAILING_ATTEMPT = [
    Reply("Adding shortest_word.", [("apply_patch", {"patch": NEVER_PASSES})]),
    Reply("Added shortest_word."),
    Reply("feat: add shortest_word\n\nA helper."),
]

COUNT_PATCH = """*** Begin Patch
*** Add File: wordstats/counting.py
+def count_words(text: str) -> int:
+    \"\"\"How many whitespace-separated words `text` has.\"\"\"
+    return len(text.split())
*** Add File: tests/test_counting.py
+from wordstats.counting import count_words
+
+
+def test_count_words():
+    assert count_words("a bb  c") == 3
+    assert count_words("") == 0
*** End Patch"""

WAITING = [
    Reply("Adding count_words.", [("apply_patch", {"patch": COUNT_PATCH})]),
    Reply("Added count_words with a test."),
    Reply("feat: add count_words\n\nCallers count words."),
]

TASKS = {
    ".acb/tasks/1-longest.md": "---\ntest: python -m pytest -q\n---\n# Add longest_word\n\n"
    "A function returning the longest word of a text.\n",
    ".acb/tasks/2-shortest.md": "---\ntest: python -m pytest -q tests/test_shortest.py\n---\n"
    "# Add shortest_word\n\nWith tests in tests/test_shortest.py.\n",
    ".acb/tasks/3-count.md": "# Add count_words\n\nCount the words of a text.\n",
}


def _autopilot(repo: Path, replies: list[Reply], *args: str):  # type: ignore[no-untyped-def]
    with MockModelServer(replies) as model:
        env = {"OPENAI_API_KEY": "sk-test-0123456789abcdef", "OPENAI_BASE_URL": model.url + "/v1"}
        done = run_acb(
            "autopilot", *args, "-m", "openai/mock-model", cwd=repo, env=env, timeout=900
        )
    return done, model


@pytest.mark.slow
def test_three_tasks_ship_need_a_person_and_wait_for_approval(wordstats_repo: Path) -> None:
    repo = wordstats_repo
    git(repo, "branch", "-M", "main")
    git(repo, "switch", "-qc", "dev")  # the user works on dev, with uncommitted work
    (repo / "README.md").write_text("my uncommitted notes\n")
    write_files(repo, TASKS)
    start = git(repo, "rev-parse", "main").strip()

    script = [*SCRIPT, *FAILING_ATTEMPT, *FAILING_ATTEMPT]
    done, model = _autopilot(
        repo, script, "--once", "--merge", "auto", "--base", "main", "--max-tasks", "2"
    )
    assert done.returncode == 1, done.stderr  # a task needs a person
    assert model.script == [] and not model.protocol_errors
    # 1 shipped: main has its commit; the user's checkout, branch and notes are as they were
    assert "+def longest_word" in git(repo, "show", "main", "--", "wordstats/core.py")
    assert git(repo, "merge-base", "--is-ancestor", start, "main") == ""
    assert git(repo, "branch", "--show-current").strip() == "dev"
    assert (repo / "README.md").read_text() == "my uncommitted notes\n"
    assert "longest_word" not in (repo / "wordstats/core.py").read_text()
    # 2 failed verification twice, and says why; nothing of it reached main
    assert "2-shortest: needs a person: failed 2 of 2 attempts; last: unverified" in done.stderr
    assert git(repo, "ls-tree", "main", "wordstats/shortest.py").strip() == ""
    assert "--max-tasks 2 reached" in done.stderr
    table = done.stdout
    assert "1-longest" in table and "merged" in table and "needs-person" in table
    assert "3-count     queued" in table

    # Run again with --merge ask: finished tasks are not redone, 3 waits for a person.
    done, model = _autopilot(repo, list(WAITING), "--once", "--merge", "ask", "--base", "main")
    assert done.returncode == 0, done.stderr
    assert model.script == [] and len(model.requests) == 3
    assert "3-count: awaiting approval" in done.stderr
    assert git(repo, "ls-tree", "main", "wordstats/counting.py").strip() == ""

    approved = run_acb("autopilot", "approve", "3-count", cwd=repo)
    assert approved.returncode == 0, approved.stderr
    assert "approved; merged into main" in approved.stdout
    assert git(repo, "ls-tree", "main", "wordstats/counting.py").strip()
    assert (repo / "README.md").read_text() == "my uncommitted notes\n"

    status = run_acb("autopilot", "status", cwd=repo)
    lines = {line.split()[0]: line for line in status.stdout.splitlines()[2:]}
    assert "merged" in lines["1-longest"] and "verified" in lines["1-longest"]
    assert "needs-person" in lines["2-shortest"] and lines["2-shortest"].split()[2] == "2"
    assert "merged" in lines["3-count"] and "approved" in lines["3-count"]
    history = run_acb("autopilot", "status", "2-shortest", cwd=repo).stdout
    assert history.count("queued -> running") == 2 and "running -> needs-person" in history
    again = run_acb("autopilot", "approve", "1-longest", cwd=repo)
    assert again.returncode == 2
    assert again.stderr.strip() == (
        "acb: error: 1-longest is merged; only a waiting task can be approved"
    )
