"""`acb mcp serve` driven by the official MCP SDK's client over stdio (issue 21): a session runs
a task (a scripted session, replayed), follows its progress, reads its run, reviews, maps and
undoes it; arguments that are not what they should be are refused before anything runs."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from autocodebase.sandbox.bwrap import bwrap_problem
from tests.conftest import CASSETTE, git
from tests.dashboard import record_run

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bwrap_problem() is not None, reason="bubblewrap unusable here"),
]


async def session_with(repo: Path, steps: Any, *extra: str) -> Any:
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    parameters = StdioServerParameters(
        command=sys.executable,
        args=["-m", "autocodebase", "mcp", "serve", "-C", str(repo), *extra],
        env=dict(os.environ),
        cwd=str(repo),
    )
    with open(os.devnull, "w") as quiet:
        async with (
            stdio_client(parameters, errlog=quiet) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            return await steps(session)


def text(result: Any) -> str:
    return "\n".join(item.text for item in result.content if item.type == "text")


def test_a_client_runs_a_task_and_reads_its_run(wordstats_repo: Path, isolated_home: Path) -> None:
    progress: list[tuple[float, float | None]] = []

    async def steps(session: Any) -> dict[str, Any]:
        tools = (await session.list_tools()).tools
        listed = {tool.name for tool in tools}
        # The model is the server's, chosen when it was started, never the client's.
        task_schema = next(t.inputSchema for t in tools if t.name == "run_task")
        assert set(task_schema["properties"]) == {"task", "max_steps"}

        async def on_progress(done: float, total: float | None, _message: str | None) -> None:
            progress.append((done, total))

        ran = await session.call_tool(
            "run_task", {"task": "add top_words", "max_steps": 20}, progress_callback=on_progress
        )
        run = json.loads(text(ran))
        runs = json.loads(text(await session.call_tool("list_runs", {"limit": 5})))
        shown = json.loads(text(await session.call_tool("show_run", {"run": run["run_id"]})))
        mapped = text(await session.call_tool("repo_map", {"focus": "top_words", "budget": 512}))
        reviewed = text(await session.call_tool("review", {"revision": "HEAD"}))
        refused = [
            await session.call_tool("show_run", {"run": "--all"}),
            await session.call_tool("review", {"revision": "--output=/tmp/x"}),
            await session.call_tool("review", {"revision": "HEAD..../../etc"}),
            await session.call_tool("repo_map", {"budget": 10**9}),
            # Another repository's run: neither shown nor undone from here.
            await session.call_tool("show_run", {"run": "run-elsewhere"}),
            await session.call_tool("undo_run", {"run": "run-elsewhere"}),
        ]
        undone = await session.call_tool("undo_run", {"run": run["run_id"]})
        return {
            "listed": listed,
            "run": run,
            "runs": runs,
            "shown": shown,
            "mapped": mapped,
            "reviewed": reviewed,
            "refused": refused,
            "undone": undone,
        }

    record_run(isolated_home / "ledger.db", "run-elsewhere", workspace="/repos/elsewhere")
    answers = asyncio.run(session_with(wordstats_repo, steps, "-m", f"replay:{CASSETTE}"))
    assert answers["listed"] == {
        "run_task",
        "list_runs",
        "show_run",
        "review",
        "repo_map",
        "undo_run",
    }
    run = answers["run"]
    assert run["outcome"] == "completed" and run["exit_code"] == 0 and run["changed"]
    assert run["verification"]["status"] == "verified"
    assert progress and progress[0] == (1, 20)  # a notification per step while it ran
    assert [r["id"] for r in answers["runs"]] == [run["run_id"]]  # this repository's only
    types = [event["type"] for event in answers["shown"]["events"]]
    assert types[0] == "run_started" and types[-1] == "run_finished"
    assert "top_words" in answers["mapped"]
    assert isinstance(json.loads(answers["reviewed"]), dict | list)
    for result in answers["refused"]:
        assert result.isError, text(result)
    assert not answers["undone"].isError, text(answers["undone"])
    assert "def top_words" not in (wordstats_repo / "wordstats" / "core.py").read_text()
    assert git(wordstats_repo, "log", "-1", "--format=%s").strip() == "initial"


def test_the_server_fails_in_one_line_outside_a_directory(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "autocodebase", "mcp", "serve", "-C", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr


def test_undo_with_a_directory_undoes_only_a_run_of_that_repository(
    wordstats_repo: Path, isolated_home: Path
) -> None:
    from tests.helpers import run_acb

    record_run(isolated_home / "ledger.db", "run-elsewhere", workspace="/repos/elsewhere")
    done = run_acb("undo", "run-elsewhere", "-C", str(wordstats_repo), cwd=wordstats_repo)
    assert done.returncode == 2 and "worked in /repos/elsewhere, not in" in done.stderr
