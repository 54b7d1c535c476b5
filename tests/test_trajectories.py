"""Whole runs in the shapes real models produce (issue 26): a Codex-style trajectory (argv shell
commands, `apply_patch` through a heredoc, `update_plan{plan, explanation}`, words before each
call) over OpenAI Chat Completions, and a Claude-style one (text beside tool_use blocks, a git
diff sent to apply_patch, run_tests) over Anthropic Messages. Scripted by us, in the argument
spellings and patch shapes those models are trained on; acb must complete the example task,
verified and committed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import git
from tests.fakes.mock_server import MockModelServer, Reply
from tests.helpers import PATCH, json_events, run_acb

pytestmark = pytest.mark.slow  # whole `acb exec` runs

# The patch tests.helpers.PATCH holds (longest_word and its test), the way Codex's models send
# one: a heredoc to apply_patch, run through bash.
CODEX_PATCH = f"apply_patch <<'EOF'\n{PATCH}\nEOF"

CLAUDE_DIFF = """diff --git a/wordstats/core.py b/wordstats/core.py
--- a/wordstats/core.py
+++ b/wordstats/core.py
@@ -20,3 +20,8 @@ def word_count(text: str) -> int:
 def unique_words(text: str) -> set[str]:
     \"\"\"The distinct words of `text`, case-insensitively.\"\"\"
     return set(words(text))
+
+
+def longest_word(text: str) -> str:
+    \"\"\"The longest word of `text` (the first on ties), or "" when there is none.\"\"\"
+    return max(words(text), key=len, default="")
diff --git a/tests/test_longest.py b/tests/test_longest.py
new file mode 100644
--- /dev/null
+++ b/tests/test_longest.py
@@ -0,0 +1,6 @@
+from wordstats.core import longest_word
+
+
+def test_longest_word():
+    assert longest_word("a bbb cc ddd") == "bbb"
+    assert longest_word("") == ""
"""

TASK = "Add longest_word(text) to wordstats.core, with a test."


def _run(repo: Path, replies: list[Reply], provider: str) -> tuple[list[dict], MockModelServer]:  # type: ignore[type-arg]
    with MockModelServer(replies) as server:
        if provider == "anthropic":
            env = {"ANTHROPIC_API_KEY": "sk-ant-test-0123456789", "ANTHROPIC_BASE_URL": server.url}
            model = "anthropic/mock-model"
        else:
            env = {
                "OPENAI_API_KEY": "sk-test-0123456789abcdef",
                "OPENAI_BASE_URL": server.url + "/v1",
            }
            model = "openai/mock-model"
        done = run_acb("exec", TASK, "-m", model, "--json", cwd=repo, env=env, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    return json_events(done.stdout), server


def _assert_done(repo: Path, events: list[dict], server: MockModelServer) -> None:  # type: ignore[type-arg]
    assert server.protocol_errors == []
    errors = [e for e in events if e["type"] == "tool_result" and e["is_error"]]
    assert errors == [], errors
    finished = next(e for e in events if e["type"] == "run_finished")
    assert finished["outcome"] == "completed"
    assert finished["verification"]["status"] == "verified", finished["verification"]
    assert "def longest_word" in (repo / "wordstats/core.py").read_text()
    assert "feat: add longest_word" in git(repo, "log", "-1", "--format=%s")


@pytest.mark.usefixtures("isolated_home")
def test_a_codex_style_trajectory_completes_the_task(wordstats_repo: Path) -> None:
    replies = [
        Reply(
            "I'll plan, then read the module.",
            [
                (
                    "update_plan",
                    {
                        "explanation": "Small addition with a test.",
                        "plan": [
                            {"step": "Read core.py", "status": "in_progress"},
                            {"step": "Add longest_word and a test", "status": "pending"},
                        ],
                    },
                ),
                ("shell", {"command": ["bash", "-lc", "cat wordstats/core.py"], "workdir": "."}),
            ],
        ),
        Reply(
            "Adding the function and its test.",
            [("shell", {"command": ["bash", "-lc", CODEX_PATCH]})],
        ),
        Reply(
            "Running the tests.",
            [("shell", {"command": ["bash", "-lc", "python -m pytest -q"], "timeout_ms": 120000})],
        ),
        Reply("Added longest_word with a test; the suite passes."),
        Reply("feat: add longest_word\n\nCallers needed the longest word of a text."),
    ]
    events, server = _run(wordstats_repo, replies, "openai")
    _assert_done(wordstats_repo, events, server)


@pytest.mark.usefixtures("isolated_home")
def test_a_claude_style_trajectory_completes_the_task(wordstats_repo: Path) -> None:
    replies = [
        Reply(
            "Let me look at the module first.",
            # Claude Code's Read: file_path, offset, limit
            [("read_file", {"file_path": str(wordstats_repo / "wordstats/core.py"), "limit": 80})],
        ),
        Reply("Now I'll add the function and a test.", [("apply_patch", {"patch": CLAUDE_DIFF})]),
        Reply("Let me run the new test.", [("run_tests", {"selector": "tests/test_longest.py"})]),
        Reply("I added `longest_word` with a test, and the tests pass."),
        Reply("<think>short subject</think>\n**feat: add longest_word**\n\nWith a test."),
    ]
    events, server = _run(wordstats_repo, replies, "anthropic")
    _assert_done(wordstats_repo, events, server)
