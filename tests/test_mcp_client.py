"""MCP servers' tools in a run (issue 21): a real MCP server written with the SDK
(tests/fakes/mcp_server.py) over stdio and streamable HTTP, called by the model in scripted
runs over the mock model server, under the approval policy; crashing, hanging and garbage
servers become errors, never a stuck run."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from autocodebase.config import McpServerConfig, load_settings
from autocodebase.errors import ConfigError
from autocodebase.tools.mcp_servers import McpHub
from tests.conftest import REPO
from tests.fakes.mock_server import Reply
from tests.helpers import exec_with_mock, free_port, write_user_config

SERVER = (sys.executable, "-m", "tests.fakes.mcp_server")


def stdio_server(*extra: str, **options: object) -> McpServerConfig:
    values: dict[str, object] = {
        "command": SERVER[0],
        "args": (*SERVER[1:], *extra),
        "env": {"PYTHONPATH": str(REPO)},
        "startup_timeout_s": 30.0,
        "tool_timeout_s": 5.0,
        **options,
    }
    return McpServerConfig(**values)  # type: ignore[arg-type]


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[McpHub]:
    started = McpHub({"t": stdio_server()}, tmp_path, tmp_path / "logs")
    yield started
    started.close()


def server_table(name: str = "t", extra: str = "") -> str:
    return (
        f"[mcp_servers.{name}]\ncommand = {json.dumps(SERVER[0])}\n"
        f"args = {json.dumps(list(SERVER[1:]))}\n"
        f"env = {{ PYTHONPATH = {json.dumps(str(REPO))} }}\nstartup_timeout_s = 30\n{extra}"
    )


def test_servers_are_read_from_your_config(tmp_path: Path, isolated_home: Path) -> None:
    write_user_config(
        server_table("files", 'trusted_tools = ["add"]\ndisabled_tools = ["hang"]\n')
        + '[mcp_servers.remote]\nurl = "https://user:pw@mcp.example.com/mcp?key=k3y"\n'
        'env_headers = { Authorization = "REMOTE_TOKEN" }\ntrusted = true\n'
        '[mcp_servers.secretive]\ncommand = "srv"\nenv = { API_TOKEN = "s3cr3t-value-123" }\n',
    )
    settings = load_settings(tmp_path)
    files, remote = settings.mcp_servers["files"], settings.mcp_servers["remote"]
    assert files.args == SERVER[1:] and files.trusted_tools == ("add",)
    assert files.disabled_tools == ("hang",) and files.startup_timeout_s == 30.0
    assert remote.url == "https://user:pw@mcp.example.com/mcp?key=k3y" and remote.trusted
    assert remote.env_headers == {"Authorization": "REMOTE_TOKEN"}
    # The ledger gets the names of what a server is given, never the values.
    record = settings.to_record()["mcp_servers"]
    assert record["secretive"]["env"] == ["API_TOKEN"] and "s3cr3t" not in json.dumps(record)
    assert record["files"]["args"] == "2 arguments"  # arguments can carry tokens too
    assert record["remote"]["url"] == "https://mcp.example.com/mcp"


@pytest.mark.parametrize(
    ("table", "complaint"),
    [
        ('[mcp_servers.x]\nargs = ["a"]\n', "exactly one of command"),
        ('[mcp_servers.x]\ncommand = "a"\nurl = "http://h/mcp"\n', "exactly one of command"),
        ('[mcp_servers.a__b]\ncommand = "a"\n', "no __"),
        ('[mcp_servers.a_]\ncommand = "a"\n', "not ending in _"),
        ('[mcp_servers.x]\ncommand = "a"\nshell = true\n', "unknown keys"),
        ('[mcp_servers.x]\nurl = "file:///etc/passwd"\n', "http(s) URL"),
        ('[mcp_servers.x]\ncommand = "a"\ntool_timeout_s = 0\n', "positive number"),
        ('[mcp_servers.x]\ncommand = "a"\nenv_vars = ["A-B"]\n', "not an environment variable"),
    ],
)
def test_a_bad_server_table_is_one_clear_error(
    tmp_path: Path, isolated_home: Path, table: str, complaint: str
) -> None:
    write_user_config(table)
    with pytest.raises(ConfigError, match=complaint.replace("(", r"\(").replace(")", r"\)")):
        load_settings(tmp_path)


def test_a_repository_cannot_add_a_server(tmp_path: Path, isolated_home: Path) -> None:
    """A cloned repository naming a server would run its program on your machine."""
    (tmp_path / ".acb").mkdir()
    (tmp_path / ".acb" / "config.toml").write_text(server_table("evil"))
    settings = load_settings(tmp_path)
    assert settings.mcp_servers == {}
    assert any("mcp_servers" in warning for warning in settings.warnings)


@pytest.mark.slow  # starts MCP servers (each a Python process of its own)
def test_tools_are_listed_called_and_their_faults_reported(hub: McpHub) -> None:
    tools = {tool.name: tool for tool in hub.tools()}
    assert {"t__add", "t__note", "t__picture", "t__crash", "t__hang"} <= set(tools)
    schema = tools["t__add"].spec.parameters
    assert schema["properties"]["a"]["type"] == "integer" and schema["required"] == ["a", "b"]
    assert "from the MCP server t" in tools["t__add"].spec.description
    state = hub.states["t"]
    assert hub.call(state, "add", {"a": 2, "b": 3}).structuredContent == {"result": 5}
    assert hub.call(state, "fail", {}).isError
    started = time.monotonic()
    with pytest.raises(Exception, match="within 5 s"):
        hub.call(state, "hang", {})
    assert time.monotonic() - started < 15


@pytest.mark.slow  # starts MCP servers (each a Python process of its own)
def test_a_crashing_server_is_an_error_not_a_stuck_run(hub: McpHub) -> None:
    hub.tools()
    state = hub.states["t"]
    started = time.monotonic()
    for _ in range(2):  # the call that kills it, and one after
        with pytest.raises(Exception, match=r"MCP|within|failed|running"):
            hub.call(state, "crash", {})
    assert time.monotonic() - started < 30


@pytest.mark.slow  # starts MCP servers (each a Python process of its own)
@pytest.mark.parametrize(
    ("extra", "reason"),
    [(("--garbage",), "did not start within 3 s"), (("--slow-start", "30"), "did not start")],
)
def test_a_server_that_does_not_start_is_left_out(
    tmp_path: Path, extra: tuple[str, ...], reason: str
) -> None:
    broken = stdio_server(*extra, startup_timeout_s=3.0)
    hub = McpHub({"good": stdio_server(), "bad": broken}, tmp_path, tmp_path / "logs")
    try:
        started = time.monotonic()
        names = {tool.name for tool in hub.tools()}
        assert time.monotonic() - started < 40  # not held up beyond the startup timeouts
        assert "good__add" in names and not any(n.startswith("bad__") for n in names)
        assert hub.states["bad"].status == "failed" and reason in hub.states["bad"].error
    finally:
        hub.close()


@pytest.mark.slow  # starts MCP servers (each a Python process of its own)
def test_the_config_chooses_which_tools_are_offered(tmp_path: Path) -> None:
    only = stdio_server(enabled_tools=("add", "shout", "hang"), disabled_tools=("hang",))
    hub = McpHub({"t": only}, tmp_path, tmp_path / "logs")
    try:
        assert sorted(tool.name for tool in hub.tools()) == ["t__add", "t__shout"]
    finally:
        hub.close()


@pytest.mark.slow  # starts MCP servers (each a Python process of its own)
def test_a_streamable_http_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    process = subprocess.Popen(
        [*SERVER, "--http", str(port)],
        cwd=REPO,
        stderr=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        monkeypatch.setenv("TEST_MCP_TOKEN", "not-checked-by-this-server")
        remote = McpServerConfig(
            url=f"http://127.0.0.1:{port}/mcp", env_headers={"Authorization": "TEST_MCP_TOKEN"}
        )
        hub = McpHub({"web": remote}, tmp_path, tmp_path / "logs")
        try:
            tools = {tool.name: tool for tool in hub.tools()}
            assert "web__shout" in tools, hub.states["web"].error
            answer = hub.call(hub.states["web"], "shout", {"text": "over http"})
            assert answer.content[0].text == "OVER HTTP"
        finally:
            hub.close()
    finally:
        process.terminate()
        process.wait(timeout=30)


def recorded_events(home: Path, kind: str) -> list[dict[str, object]]:
    connection = sqlite3.connect(home / "ledger.db")
    rows = connection.execute("SELECT payload FROM events WHERE type = ?", (kind,)).fetchall()
    return [json.loads(row[0]) for row in rows]


@pytest.mark.slow  # the note is a change: the run's test and review gates check it
def test_a_scripted_run_calls_a_trusted_tool_and_records_it(
    wordstats_repo: Path, isolated_home: Path
) -> None:
    write_user_config(server_table(extra='trusted_tools = ["note"]\n'))
    replies = [
        Reply("", [("t__note", {"text": "hello"})]),
        Reply("Wrote the note through the MCP server."),
    ]
    done, server = exec_with_mock(wordstats_repo, replies, "leave a note")
    assert done.returncode == 0, done.stderr
    assert (wordstats_repo / "mcp-note.txt").read_text() == "hello"  # the call really ran
    offered = {tool["function"]["name"] for tool in server.requests[0].body["tools"]}
    assert {"shell", "t__note", "t__add"} <= offered
    results = [r for r in recorded_events(isolated_home, "tool_result") if r["name"] == "t__note"]
    assert results and results[0]["output"] == "wrote 5 characters"
    assert results[0]["data"] == {
        "server": "t",
        "tool": "note",
        "structured": {"result": "wrote 5 characters"},
    }


@pytest.mark.slow  # starts MCP servers (each a Python process of its own)
def test_an_untrusted_tool_is_refused_when_nobody_can_be_asked(
    wordstats_repo: Path, isolated_home: Path
) -> None:
    write_user_config(server_table())
    replies = [Reply("", [("t__note", {"text": "hello"})]), Reply("It was refused.")]
    done, server = exec_with_mock(wordstats_repo, replies, "leave a note")
    assert done.returncode == 0, done.stderr
    assert not (wordstats_repo / "mcp-note.txt").exists()
    answer = json.dumps(server.requests[1].body["messages"][-1])
    assert "only trusted MCP tools run" in answer and "trusted_tools" in answer
    approvals = recorded_events(isolated_home, "approval")
    assert approvals and approvals[0]["decision"] == "deny"
    assert str(approvals[0]["command"]).startswith("t__note ")


@pytest.mark.slow  # starts MCP servers (each a Python process of its own)
def test_servers_are_added_listed_and_removed_from_the_command_line(
    tmp_path: Path, isolated_home: Path
) -> None:
    from tests.helpers import run_acb

    config = isolated_home.parent / "config" / "acb" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text("# my settings\nmax_steps = 40\n")
    where = f"PYTHONPATH={REPO}"
    added = run_acb(
        "mcp", "add", "t", "--trust-tool", "add", "--env", where, "--", *SERVER, cwd=tmp_path
    )
    assert added.returncode == 0, added.stderr
    assert "# my settings" in config.read_text()  # your comments stay
    listed = run_acb("mcp", "list", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    [row] = json.loads(listed.stdout)
    assert row["status"] == "ready" and "add" in row["tools"] and row["trusted"] == "add"
    again = run_acb("mcp", "add", "t", "--", "other", cwd=tmp_path)
    assert again.returncode == 2 and "configured already" in again.stderr
    bad = run_acb("mcp", "add", "a__b", "--", "x", cwd=tmp_path)
    assert bad.returncode != 0 and "not changed" in bad.stderr
    assert "a__b" not in config.read_text()  # a change that would not load is not written
    removed = run_acb("mcp", "remove", "t", cwd=tmp_path)
    assert removed.returncode == 0 and "mcp_servers.t" not in config.read_text()
    assert "max_steps = 40" in config.read_text()


def test_a_program_planted_in_the_workspace_is_never_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A repository (or the model's earlier commands) can write bin/NAME in the workspace;
    with that folder on PATH, a server named NAME must not start it outside the sandbox."""
    workspace = tmp_path / "repo"
    (workspace / "bin").mkdir(parents=True)
    marker = tmp_path / "ran"
    planted = workspace / "bin" / "mcp-helper"
    planted.write_text(f"#!/bin/sh\ntouch {marker}\n")
    planted.chmod(0o755)
    monkeypatch.setenv("PATH", f"bin:{workspace / 'bin'}:{os.environ['PATH']}")
    for command in ("mcp-helper", "bin/mcp-helper"):
        hub = McpHub({"h": McpServerConfig(command=command)}, workspace, tmp_path / "logs")
        try:
            assert hub.tools() == []
            assert hub.states["h"].status == "failed"
        finally:
            hub.close()
    assert not marker.exists()


def test_what_cannot_be_offered_is_left_out_and_said(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from autocodebase.tools.mcp_servers import MAX_TOOLS, ServerState

    hub = McpHub({}, tmp_path, tmp_path / "logs")
    try:

        def tool(name: str, schema: dict[str, object] | None = None) -> object:
            return SimpleNamespace(name=name, description="d" * 5000, inputSchema=schema or {})

        tools = [tool("ok"), tool("bad name/with.dots"), tool("big", {"x": "y" * 20_000})]
        tools += [tool(f"t{n}") for n in range(MAX_TOOLS + 5)]
        state = ServerState("s", McpServerConfig(command="x"), status="ready", tools=tools)
        state.ready.set()
        hub.states["s"] = state
        offered = hub.tools()
    finally:
        hub.close()
    assert len(offered) == MAX_TOOLS and offered[0].name == "s__ok"
    assert len(offered[0].spec.description) < 1200
    said = "\n".join(hub.warnings)
    assert "a name providers refuse" in said and "a schema over 16 KB" in said
    assert f"more than {MAX_TOOLS} MCP tools" in said


def test_trust_given_in_a_session_is_for_that_server_s_tool_only(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from autocodebase.tools.mcp_servers import McpTool, ServerState

    hub = McpHub({}, tmp_path, tmp_path / "logs")
    try:
        first = ServerState("a", McpServerConfig(command="x"))
        second = ServerState("b", McpServerConfig(command="x"))
        shape = SimpleNamespace(name="x", description="", inputSchema={})
        hub.session_trusted.add(("a", "x"))
        assert McpTool(hub, first, shape).trusted
        assert not McpTool(hub, second, shape).trusted
    finally:
        hub.close()
