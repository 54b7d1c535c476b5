"""MCP end to end (issue 21): a third-party server installed from the package registry
(mcp-server-time, in a venv of its own, as a user installs a server) called by the model in a
scripted run, and a person approving an untrusted tool in a conversation."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from tests.fakes.mock_server import MockModelServer, Reply
from tests.helpers import exec_with_mock, spawn, write_user_config
from tests.test_mcp_client import server_table

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def time_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """mcp-server-time from PyPI in its own venv (it needs mcp 2.x; acb's client is 1.x)."""
    venv = tmp_path_factory.mktemp("mcp-server-time") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    installed = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "mcp-server-time"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if installed.returncode != 0:
        if os.environ.get("ACB_REQUIRE_REGISTRY"):
            pytest.fail(f"could not install mcp-server-time: {installed.stderr[-500:]}")
        pytest.skip("mcp-server-time could not be installed (no package registry?)")
    yield venv / "bin" / "mcp-server-time"


def events(home: Path, kind: str) -> list[dict[str, object]]:
    connection = sqlite3.connect(home / "ledger.db")
    rows = connection.execute("SELECT payload FROM events WHERE type = ?", (kind,)).fetchall()
    return [json.loads(row[0]) for row in rows]


def test_a_third_party_server_is_called_and_recorded(
    time_server: Path, wordstats_repo: Path, isolated_home: Path
) -> None:
    write_user_config(
        f"[mcp_servers.time]\ncommand = {json.dumps(str(time_server))}\n"
        'args = ["--local-timezone", "UTC"]\nstartup_timeout_s = 60\n'
        'trusted_tools = ["get_current_time"]\n',
    )
    replies = [
        Reply("", [("time__get_current_time", {"timezone": "Europe/Paris"})]),
        Reply("It is evening in Paris."),
    ]
    done, server = exec_with_mock(wordstats_repo, replies, "what time is it in Paris?")
    assert done.returncode == 0, done.stderr
    offered = {t["function"]["name"] for t in server.requests[0].body["tools"]}
    assert {"time__get_current_time", "time__convert_time"} <= offered
    results = [r for r in events(isolated_home, "tool_result") if r["name"].startswith("time__")]
    assert len(results) == 1 and not results[0]["is_error"], results
    answer = json.loads(str(results[0]["output"]))
    assert answer["timezone"] == "Europe/Paris" and "datetime" in answer
    sent_back = json.dumps(server.requests[1].body["messages"][-1])
    assert "Europe/Paris" in sent_back  # the model got the server's answer


def test_a_person_approves_an_untrusted_tool_in_a_conversation(
    wordstats_repo: Path, isolated_home: Path
) -> None:
    write_user_config(server_table())
    script = [
        Reply("", [("t__shout", {"text": "approved"})]),
        Reply("The server shouted back."),
        Reply("", [("t__shout", {"text": "declined"})]),
        Reply("Fine, I will not."),
    ]
    with MockModelServer(script) as server:
        child = spawn(wordstats_repo, server.url, isolated_home)
        child.sendline("shout something")
        child.expect("OUTSIDE the sandbox")
        child.expect("t__shout")
        child.expect(r"approve\? \[y/s/c/p/e/n\]")
        child.sendline("y")
        child.expect("The server shouted back.")
        child.expect("acb>")
        child.sendline("again")
        child.expect(r"approve\? \[y/s/c/p/e/n\]")  # approved once: asked again
        child.sendline("n")
        child.expect("Fine, I will not.")
        child.expect("acb>")
        child.sendline("/exit")
        child.expect(pexpect.EOF)
        child.close()
    results = [r for r in events(isolated_home, "tool_result") if r["name"] == "t__shout"]
    assert results[0]["output"] == "APPROVED"
    assert "declined" in str(results[1]["output"]) and results[1]["is_error"]
    decisions = [a["decision"] for a in events(isolated_home, "approval")]
    assert decisions == ["approve-once", "deny"]
