"""The interactive mode, driven for real in a pseudo-terminal against the mock model server."""

from __future__ import annotations

import json
import signal
import sqlite3
import sys
from pathlib import Path

import pexpect
import pytest

from autocodebase.sandbox.bwrap import bwrap_problem
from tests.fakes.mock_server import MockModelServer, Reply
from tests.helpers import child_env, spawn

pytestmark = pytest.mark.slow  # end-to-end: `make test-slow`, not `make test`

ADD_CONST = "*** Begin Patch\n*** Add File: wordstats/const.py\n+ANSWER = 42\n*** End Patch"


def leave(child: pexpect.spawn) -> None:
    """End the session the way a person does, and wait for the process to go."""
    child.sendline("/exit")
    child.expect(pexpect.EOF)
    child.close()


@pytest.mark.skipif(bwrap_problem() is not None, reason="bubblewrap unusable here")
def test_a_conversation(wordstats_repo: Path, isolated_home: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside-marker"
    script = [
        Reply("Adding the constant.", [("apply_patch", {"patch": ADD_CONST})]),
        Reply(
            "",
            [
                (
                    "shell",
                    {
                        "command": f"touch {outside}",
                        "with_escalated_permissions": True,
                        "justification": "to mark it",
                    },
                )
            ],
        ),
        Reply("Added wordstats/const.py with ANSWER = 42."),
    ]
    with MockModelServer(script) as server:
        child = spawn(wordstats_repo, server.url, isolated_home)
        child.sendline("add a constant ANSWER = 42 next to @wordstats/core.py, in the package")
        child.expect("OUTSIDE the sandbox")
        child.expect("model's justification: to mark it")
        child.expect(r"approve\? \[y/s/c/p/e/n\]")
        child.sendline("y")
        child.expect("Added wordstats/const.py with ANSWER = 42.")
        child.expect("acb>")
        assert (wordstats_repo / "wordstats/const.py").read_text() == "ANSWER = 42\n"
        assert outside.exists()

        child.sendline("/undo")
        child.expect(r"removed wordstats/const.py \(the turn created it\)")
        child.expect("acb>")
        assert not (wordstats_repo / "wordstats/const.py").exists()

        child.sendline("/tokens")
        child.expect("tokens")
        child.sendline("/exit")
        child.expect("recorded")
        child.expect(pexpect.EOF)
        child.close()
    assert child.exitstatus == 0
    assert server.protocol_errors == []
    first = server.requests[0].body["messages"][-1]["content"]
    assert "def word_count" in first  # the @mention brought the file in
    ledger = sqlite3.connect(isolated_home / "ledger.db")
    kinds = [row[0] for row in ledger.execute("SELECT type FROM events ORDER BY seq")]
    assert kinds.count("turn_finished") == 1 and kinds[-1] == "run_finished"
    decision = next(
        json.loads(r[0])
        for r in ledger.execute("SELECT payload FROM events WHERE type = 'approval'")
    )
    assert decision["decision"] == "approve-once" and decision["how"] == "asked"


@pytest.mark.skipif(bwrap_problem() is not None, reason="bubblewrap unusable here")
@pytest.mark.parametrize(
    "ignored",
    # A script's `acb &` or CI's `./run &` starts acb with SIGINT ignored: the person's Ctrl-C
    # still stops the command (CI lost it three times before acb undid that in a conversation).
    [(), (signal.SIGINT,)],
    ids=["sigint-default", "sigint-ignored-by-parent"],
)
def test_ctrl_c_stops_a_running_command(
    wordstats_repo: Path, isolated_home: Path, ignored: tuple[int, ...]
) -> None:
    script = [
        Reply("", [("shell", {"command": "sleep 30"})]),
        Reply("Hello again; the slow command was stopped."),
    ]
    with MockModelServer(script) as server:
        child = spawn(wordstats_repo, server.url, isolated_home, ignored)
        child.sendline("now the slow thing")
        child.expect("sleep 30")
        child.expect("running shell")  # the command has started: Ctrl-C now stops it
        child.sendcontrol("c")
        child.expect("turn interrupted", timeout=15)
        child.expect("acb>")
        child.sendline("hello?")
        child.expect("Hello again")
        child.expect("acb>")
        child.sendline("/exit")
        child.expect("recorded")
        child.expect(pexpect.EOF)
        child.close()
    assert server.protocol_errors == []  # the interrupted call got its result before the next turn


def test_second_ctrl_c_leaves(wordstats_repo: Path, isolated_home: Path) -> None:
    with MockModelServer([]) as server:
        child = spawn(wordstats_repo, server.url, isolated_home)
        child.sendcontrol("c")
        child.expect("Ctrl-C again")
        # The prompt is drawn again before the second Ctrl-C: sent while acb is between two
        # prompts, it could reach a terminal not yet in raw mode (seen under load).
        child.expect("acb>")
        child.sendcontrol("c")
        child.expect("recorded")
        child.expect(pexpect.EOF)
        child.close()
    assert child.exitstatus == 0


def test_without_a_terminal_it_behaves_like_exec(wordstats_repo: Path) -> None:
    from tests.helpers import run_acb

    cassette = wordstats_repo.parent / "c.jsonl"
    cassette.write_text(json.dumps({"response": {"content": "Nothing to change."}}) + "\n")
    done = run_acb("-m", f"replay:{cassette}", cwd=wordstats_repo, stdin="look around\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Nothing to change."


def test_diff_and_commit_from_the_conversation(wordstats_repo: Path, isolated_home: Path) -> None:
    from tests.conftest import git

    script = [
        Reply("", [("apply_patch", {"patch": ADD_CONST})]),
        Reply("Done."),
        Reply("feat: add ANSWER\n\nThe answer was needed."),
    ]
    with MockModelServer(script) as server:
        child = spawn(wordstats_repo, server.url, isolated_home)
        child.sendline("add the constant")
        child.expect("Done.")
        child.expect("acb>")
        child.sendline("/diff")
        child.expect(r"\+ANSWER = 42")
        child.expect("acb>")
        child.sendline("/commit")
        child.expect("committed [0-9a-f]{12}: feat: add ANSWER")
        child.expect("acb>")
        leave(child)
    log = git(wordstats_repo, "log", "-1", "--format=%B")
    assert log.startswith("feat: add ANSWER") and "Acb-Run:" in log
    assert git(wordstats_repo, "status", "--porcelain") == ""


def test_mentions_stay_inside_the_workspace(tmp_path: Path) -> None:
    from autocodebase.cli.chat import expand_mentions

    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "a.py").write_text("A = 1\n")
    (tmp_path / "secret.txt").write_text("nope\n")
    text = expand_mentions("see @a.py, and @../secret.txt", tmp_path / "ws")
    assert "A = 1" in text and "nope" not in text


def test_resume_continues_the_conversation(wordstats_repo: Path, isolated_home: Path) -> None:
    plan = {
        "steps": [
            {"step": "Look around", "status": "completed"},
            {"step": "Report", "status": "pending"},
        ]
    }
    script = [
        Reply("", [("update_plan", plan)]),
        Reply("The project counts words."),
        Reply("You asked what the project does; I said it counts words."),
    ]
    with MockModelServer(script) as server:
        child = spawn(wordstats_repo, server.url, isolated_home)
        child.sendline("what does this project do?")
        child.expect("The project counts words.")
        child.expect("acb>")
        leave(child)

        env_child = pexpect.spawn(
            sys.executable,
            ["-m", "autocodebase", "resume", "--last", "-m", "openai/mock-model"],
            cwd=str(wordstats_repo),
            env=child_env(server.url),
            encoding="utf-8",
            timeout=30,
            dimensions=(40, 160),
        )
        env_child.expect("resumed .*: 1 earlier message\\(s\\), plan of 2 step\\(s\\)")
        env_child.expect("acb>")
        env_child.sendline("what did I ask before?")
        env_child.expect("I said it counts words")
        env_child.expect("acb>")
        leave(env_child)
    assert server.protocol_errors == []
    resumed = server.requests[-1].body["messages"]
    contents = [m.get("content") for m in resumed]
    assert "what does this project do?" in contents and "The project counts words." in contents
    assert contents[-1] == "what did I ask before?"
    ledger = sqlite3.connect(isolated_home / "ledger.db")
    started = [
        json.loads(r[0])
        for r in ledger.execute("SELECT payload FROM events WHERE type = 'run_started'")
    ]
    assert started[1]["resumed_from"] == started[0]["run_id"]


def test_add_drop_and_init(wordstats_repo: Path, isolated_home: Path) -> None:
    (wordstats_repo / "AGENTS.md").unlink()
    script = [Reply("Seen."), Reply("Seen again.")]
    with MockModelServer(script) as server:
        child = spawn(wordstats_repo, server.url, isolated_home)
        child.sendline("/add wordstats/*.py")
        child.expect("in context: wordstats/__init__.py, wordstats/core.py")
        child.sendline("look")
        child.expect("Seen.")
        child.expect("acb>")
        child.sendline("/drop")
        child.expect("in context: nothing")
        child.sendline("/init")
        child.expect("wrote AGENTS.md")
        child.sendline("look again")
        child.expect("Seen again.")
        child.expect("acb>")
        leave(child)
    first, second = (r.body["messages"] for r in server.requests)
    assert (
        "def word_count" in first[-1]["content"] and "wordstats/__init__.py" in first[-1]["content"]
    )
    assert second[-1]["content"] == "look again"
    assert "python -m pytest -q" in second[0]["content"]  # the new AGENTS.md is in the prompt
    agents = (wordstats_repo / "AGENTS.md").read_text()
    assert "Python" in agents and "`python -m pytest -q`" in agents


@pytest.mark.skipif(bwrap_problem() is not None, reason="bubblewrap unusable here")
def test_the_person_can_edit_a_command_before_it_runs(
    wordstats_repo: Path, isolated_home: Path
) -> None:
    script = [
        Reply(
            "",
            [
                (
                    "shell",
                    {
                        "command": "rm -rf wordstats",
                        "with_escalated_permissions": True,
                        "justification": "clean up",
                    },
                )
            ],
        ),
        Reply("Understood."),
    ]
    with MockModelServer(script) as server:
        child = spawn(wordstats_repo, server.url, isolated_home)
        child.sendline("clean up")
        child.expect(r"approve\? \[y/s/c/p/e/n\]")
        child.sendline("e")
        child.expect("command:")
        child.send("\x01\x0b")  # Ctrl-A, Ctrl-K: clear the proposed command
        child.sendline("touch edited-by-human")
        child.expect("Understood.")
        child.expect("acb>")
        leave(child)
    assert (wordstats_repo / "wordstats").is_dir()
    assert (wordstats_repo / "edited-by-human").exists()
    tool_output = server.requests[1].body["messages"][-1]["content"]
    assert "the user changed the command to: touch edited-by-human" in tool_output
