"""Tools from Model Context Protocol servers, offered to the model as `SERVER__tool`.

The servers of `[mcp_servers]` start with the run, all at once, on an asyncio loop in a thread
of their own (the SDK is async; the loop is not), and the first request waits for them at most
as long as their `startup_timeout_s`: a server that is slow, crashes or answers garbage is left
out with a warning, and the run goes on with the others. Each call has `tool_timeout_s`; a
server that dies or hangs mid-run turns into a tool error the model reads, never a stuck run.

An MCP tool runs outside the bubblewrap sandbox (the server is a program of its own), so each
call is under the approval policy: asked under `untrusted` and `on-request`, refused under
`never`, unless the user's config trusts the server (`trusted = true`) or the tool
(`trusted_tools`). A person's approval other than "once" trusts that tool for the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autocodebase.config import McpServerConfig
from autocodebase.events import Approval
from autocodebase.models.base import ToolSpec
from autocodebase.output import truncate_text
from autocodebase.programs import distrust, host_path, trusted, which
from autocodebase.tools.base import Tool, ToolContext, ToolResult, _portable

SEPARATOR = "__"
TOOL_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
"""What providers accept as a tool name."""
MAX_TOOLS = 100
"""Offered from all servers together (OpenAI takes 128 tools in all; each costs every step)."""
MAX_DESCRIPTION = 1024
MAX_SCHEMA_BYTES = 16 * 1024


@dataclass
class ServerState:
    name: str
    config: McpServerConfig
    status: str = "starting"
    """starting, ready, failed or stopped."""
    error: str = ""
    tools: list[Any] = field(default_factory=list)
    """The server's tools (SDK `Tool` objects) that the config lets through."""
    session: Any = None
    ready: threading.Event = field(default_factory=threading.Event)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    """Set (through the loop) when the hub closes; bound to the hub's loop on first use."""
    started_s: float = 0.0


def _allowed(config: McpServerConfig, tool: str) -> bool:
    if config.enabled_tools is not None and tool not in config.enabled_tools:
        return False
    return tool not in config.disabled_tools


def _environment(config: McpServerConfig) -> dict[str, str]:
    """What a stdio server gets: the SDK's short list of harmless variables (HOME, ...), a
    PATH without relative or workspace entries, the variables the config passes on by name,
    and its own `env`. Never acb's API keys."""
    from mcp.client.stdio import get_default_environment

    passed = {name: os.environ[name] for name in config.env_vars if name in os.environ}
    return {**get_default_environment(), "PATH": host_path(), **passed, **config.env}


def _program(command: str, workspace: Path) -> str:
    """The server's program as an absolute path, looked up on the host PATH without its
    relative entries and the workspace: a repository (or the model's earlier commands, which
    may write the workspace) could otherwise plant `bin/NAME` that starts outside the sandbox."""
    distrust(workspace)
    if "/" in command:
        if not Path(command).is_absolute():
            raise McpCallError(
                f"{command!r}: give the server's program as a name or an absolute path"
            )
        found: str | None = command
    else:
        found = which(command)
    ours = Path(sys.executable).parent  # read-only in the sandbox, like `programs.installed`
    if found is None or not (trusted(str(Path(found).parent)) or Path(found).parent == ours):
        raise McpCallError(f"{command!r} is not a program on the host PATH (outside the workspace)")
    return found


def _headers(config: McpServerConfig) -> dict[str, str]:
    named = {k: os.environ.get(v, "") for k, v in config.env_headers.items()}
    return {**config.headers, **{k: v for k, v in named.items() if v}}


class McpHub:
    """The run's MCP servers: started at once, their tools listed, calls made with a timeout."""

    def __init__(self, servers: Mapping[str, McpServerConfig], workspace: Path, log_dir: Path):
        self.workspace = workspace
        self.log_dir = log_dir
        # The SDK logs what a server sends that is not JSON-RPC; that is the server's fault,
        # said once as "left out", not a traceback in the person's terminal.
        quiet = logging.getLogger("mcp")
        quiet.propagate = False
        if not quiet.handlers:
            quiet.addHandler(logging.NullHandler())
        now = time.monotonic()
        self.states = {n: ServerState(n, c, started_s=now) for n, c in servers.items() if c.enabled}
        self.session_trusted: set[tuple[str, str]] = set()
        """(server, tool) pairs a person approved for the rest of the session."""
        self.warnings: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="acb-mcp", daemon=True)
        self._thread.start()
        self._runs = [
            asyncio.run_coroutine_threadsafe(self._serve(state), self._loop)
            for state in self.states.values()
        ]

    async def _serve(self, state: ServerState) -> None:
        """Connect, list the tools, and hold the connection until the hub closes."""
        import anyio
        from mcp import ClientSession

        if state.stop.is_set():  # closed before it began
            state.status = "stopped"
            state.ready.set()
            return
        try:
            async with contextlib.AsyncExitStack() as stack:
                # Contexts are entered outside the timeout's scope: anyio's scopes must nest,
                # and the transports hold task groups open until the hub closes.
                read, write = await stack.enter_async_context(self._transport(state))
                session = await stack.enter_async_context(ClientSession(read, write))
                with anyio.fail_after(state.config.startup_timeout_s):
                    await session.initialize()
                    listed = await session.list_tools()
                state.tools = [t for t in listed.tools if _allowed(state.config, t.name)]
                state.session = session
                state.status = "ready"
                state.ready.set()
                await state.stop.wait()
                state.status = "stopped"
        except TimeoutError:
            state.status = "failed"
            state.error = f"did not start within {state.config.startup_timeout_s:g} s"
        except Exception as exc:  # a server that cannot start is reported, never fatal
            state.status = "failed"
            state.error = _describe(exc)
        finally:
            state.session = None
            state.ready.set()

    def _transport(self, state: ServerState) -> Any:
        config = state.config
        if config.url is not None:
            import httpx
            from mcp.client.streamable_http import streamable_http_client

            client = httpx.AsyncClient(headers=_headers(config), timeout=config.tool_timeout_s)
            return _http(streamable_http_client(config.url, http_client=client), client)
        from mcp import StdioServerParameters
        from mcp.client.stdio import stdio_client

        assert config.command is not None
        program = _program(config.command, self.workspace)
        log = _open_log(self.log_dir / f"{state.name}.log")
        parameters = StdioServerParameters(
            command=program,
            args=list(config.args),
            env=_environment(config),
            cwd=config.cwd or str(self.workspace),
        )
        return _closing(stdio_client(parameters, errlog=log), log)

    def wait_ready(self) -> list[ServerState]:
        """Wait for every server to be up or given up on (each within its startup timeout,
        counted from when the hub started them); the states, in config order."""
        for state in self.states.values():
            left = state.config.startup_timeout_s + 2 - (time.monotonic() - state.started_s)
            state.ready.wait(timeout=max(0.1, left))
            if not state.ready.is_set():
                state.status = "failed"
                state.error = f"did not start within {state.config.startup_timeout_s:g} s"
        return list(self.states.values())

    def tools(self) -> list[McpTool]:
        """The servers' tools as tools of the run; what cannot be offered (a name providers
        refuse, one taken already, a schema too large, past `MAX_TOOLS`) is left out and said
        in `warnings`."""
        offered: list[McpTool] = []
        names: set[str] = set()
        for state in self.wait_ready():
            if state.status != "ready":
                continue
            for tool in state.tools:
                name = f"{state.name}{SEPARATOR}{tool.name}"
                schema = tool.inputSchema if isinstance(tool.inputSchema, dict) else {}
                problem = (
                    "a name providers refuse"
                    if not TOOL_NAME.fullmatch(name)
                    else "a name taken already"
                    if name in names
                    else "a schema over 16 KB"
                    if len(json.dumps(schema)) > MAX_SCHEMA_BYTES
                    else f"more than {MAX_TOOLS} MCP tools"
                    if len(offered) >= MAX_TOOLS
                    else None
                )
                if problem:
                    self.warnings.append(f"MCP tool {name[:80]!r} left out: {problem}")
                    continue
                names.add(name)
                offered.append(McpTool(self, state, tool))
        return offered

    def call(self, state: ServerState, tool: str, arguments: dict[str, Any]) -> Any:
        """The server's `CallToolResult`; raises `McpCallError` when it cannot be had."""
        if state.session is None:
            raise McpCallError(f"the MCP server {state.name} is not running ({state.error})")
        timeout = state.config.tool_timeout_s
        future = asyncio.run_coroutine_threadsafe(
            self._call(state.session, tool, arguments, timeout), self._loop
        )
        try:
            return future.result(timeout=timeout + 5)
        except TimeoutError:
            future.cancel()
            raise McpCallError(f"{state.name} did not answer within {timeout:g} s") from None
        except McpCallError:
            raise
        except BaseException as exc:
            future.cancel()
            if isinstance(exc, Exception):
                raise McpCallError(f"{state.name} failed: {_describe(exc)}") from None
            raise  # Ctrl-C, a terminating signal: the turn ends, the call is abandoned

    async def _call(
        self, session: Any, tool: str, arguments: dict[str, Any], timeout: float
    ) -> Any:
        import anyio

        try:
            with anyio.fail_after(timeout):
                return await session.call_tool(tool, arguments)
        except TimeoutError:
            raise McpCallError(f"no answer within {timeout:g} s") from None

    def close(self) -> None:
        """Stop every server (stdio ones are terminated) and the loop, within ten seconds."""
        for state in self.states.values():
            self._loop.call_soon_threadsafe(state.stop.set)
        deadline = time.monotonic() + 10
        for run in self._runs:
            # Stuck or failed: cancelled below, either way.
            with contextlib.suppress(Exception):
                run.result(timeout=max(0.1, deadline - time.monotonic()))
            if not run.done():
                run.cancel()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._loop.close()


class McpCallError(Exception):
    """A call that got no result: the server is gone, hung or failed."""


MAX_LOG_BYTES = 5 * 1024 * 1024


def _open_log(path: Path) -> Any:
    """The server's stderr log, private to you, started afresh once it passes 5 MB."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW
    descriptor = os.open(path, flags, 0o600)
    if os.fstat(descriptor).st_size > MAX_LOG_BYTES:
        os.ftruncate(descriptor, 0)
    return os.fdopen(descriptor, "a", encoding="utf-8")


@contextlib.asynccontextmanager
async def _closing(transport: Any, log: Any) -> Any:
    try:
        async with transport as streams:
            yield streams
    finally:
        log.close()


@contextlib.asynccontextmanager
async def _http(transport: Any, client: Any) -> Any:
    async with client, transport as (read, write, _session_id):
        yield read, write


def _describe(exc: BaseException) -> str:
    """One line for an exception, with the first of a group's (anyio raises groups)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class McpTool(Tool):
    """One server tool as a tool of the run. Its schema is the server's, not derived from a
    Python signature, so `Tool.__init__` is not used; what the toolbox and the loop ask of a
    tool (name, spec, may_change_files, run) is all here."""

    def __init__(self, hub: McpHub, state: ServerState, tool: Any):
        self.normalise = None
        self.read_only = False
        self.hub = hub
        self.state = state
        self.tool_name = str(tool.name)
        self.name = f"{state.name}{SEPARATOR}{self.tool_name}"
        schema = tool.inputSchema if isinstance(tool.inputSchema, dict) else {}
        schema = _portable({"type": "object", **schema})
        schema.setdefault("properties", {})
        description = (tool.description or "").strip()[:MAX_DESCRIPTION]
        source = f"(from the MCP server {state.name}; runs outside the sandbox)"
        self.spec = ToolSpec(self.name, f"{description} {source}".strip(), schema)

    def may_change_files(self, _arguments: Any) -> bool:
        return True  # nothing says what a server's tool does; the loop looks

    @property
    def trusted(self) -> bool:
        config = self.state.config
        return (
            config.trusted
            or self.tool_name in config.trusted_tools
            or (self.state.name, self.tool_name) in self.hub.session_trusted
        )

    def run(self, context: ToolContext, arguments: dict[str, Any]) -> ToolResult:
        if not self.trusted:
            refusal = self._approval(context, arguments)
            if refusal is not None:
                return ToolResult(refusal, is_error=True)
        try:
            result = self.hub.call(self.state, self.tool_name, arguments)
        except McpCallError as exc:
            return ToolResult(f"error: the MCP tool {self.name} gave no result: {exc}", True)
        return _tool_result(self, result, context.output_limit)

    def _approval(self, context: ToolContext, arguments: dict[str, Any]) -> str | None:
        """Why the call may not run (None: it may), asking the person when one can be asked."""
        from autocodebase.sandbox.gate import ApprovalRequest

        gate = context.commands
        policy = getattr(gate, "approvals", "never")
        approver = getattr(gate, "approver", None)
        shown = f"{self.name} {json.dumps(arguments, ensure_ascii=False)[:400]}"
        reason = "an MCP tool runs outside the sandbox"
        advice = (
            f"trust it in your config ([mcp_servers.{self.state.name}] trusted = true, or "
            f'trusted_tools = ["{self.tool_name}"])'
        )

        def record(decision: str, how: str) -> None:
            context.emit(
                Approval(command=shown, escalated=True, reason=reason, decision=decision, how=how)
            )

        if policy == "never":
            record("deny", "approvals never: only trusted MCP tools run")
            return f"not run: under approvals 'never' only trusted MCP tools run; {advice}"
        if approver is None:
            record("deny", "headless: nobody to ask")
            return f"not run: this MCP tool needs approval and this run cannot ask; {advice}"
        decision = approver(ApprovalRequest(shown, reason, escalated=True))
        decided = decision if isinstance(decision, str) else "deny"
        record(decided, "asked")
        if decided == "deny":
            return "not run: the user declined this MCP tool call. Try another way or ask them."
        if decided != "approve-once":
            self.hub.session_trusted.add((self.state.name, self.tool_name))
        return None


def _tool_result(tool: McpTool, result: Any, limit: int) -> ToolResult:
    """The model's text from the server's content: text as it is, an image or a binary
    resource described (not sent: acb passes no attachments yet), structured content as JSON
    when nothing else says it; capped like every tool's output."""
    parts: list[str] = []
    for item in result.content or []:
        kind = getattr(item, "type", "")
        if kind == "text":
            parts.append(item.text)
        elif kind in ("image", "audio"):
            size = len(item.data) * 3 // 4
            parts.append(f"[{kind} {item.mimeType}, about {size:,} bytes: not shown to the model]")
        elif kind == "resource":
            inner = item.resource
            text = getattr(inner, "text", None)
            parts.append(text if text is not None else f"[resource {inner.uri}]")
        elif kind == "resource_link":
            parts.append(f"[resource link {item.uri}]")
    structured = getattr(result, "structuredContent", None)
    if structured is not None and not parts:
        parts.append(json.dumps(structured, ensure_ascii=False))
    output = truncate_text("\n".join(parts) or "(no output)", limit)
    data: dict[str, Any] = {"server": tool.state.name, "tool": tool.tool_name}
    if structured is not None:
        data["structured"] = structured
    return ToolResult(output, is_error=bool(result.isError), data=data)
