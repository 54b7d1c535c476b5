"""`acb mcp serve`: acb as an MCP server (stdio) for other agents and editors.

Every tool works on the one repository given at start and runs acb's own command for it in a
child process (`acb exec --json`, `acb review --format json`, `acb map`, `acb undo`), so a
task run this way has exactly the CLI's sandbox, approvals (headless: never asks), gates,
ledger and exit codes, and a run that crashes does not take the server down. A task's events
come back as progress notifications while it runs. Arguments are checked before anything runs:
run ids and revisions by their shape (never an option, never a path), sizes by their range.

Imported only by `acb mcp serve` (the SDK is imported here at module level: FastMCP reads the
tools' annotations, `Context` among them, from this module's namespace).
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import anyio
from mcp.server.fastmcp import Context, FastMCP

RUN_REF = re.compile(r"last|[A-Za-z0-9][A-Za-z0-9-]{0,63}")
REVISION = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./~^@{}-]{0,199}")
MAX_ANSWER = 60_000
"""Characters of a tool's answer; the rest is in the ledger (`show_run`, `acb runs show`)."""


class BadArgument(ValueError):
    """An argument refused before anything runs (the client sees the message)."""


def _checked(value: str, shape: re.Pattern[str], what: str) -> str:
    if not shape.fullmatch(value):
        raise BadArgument(f"{what} {value!r} is not acceptable")
    return value


def _revision(value: str) -> str:
    """A revision or BASE..HEAD; each side a plain git revision (no option, no path)."""
    sides = value.split("..", 1)
    for side in sides:
        if not REVISION.fullmatch(side) or ".." in side:
            raise BadArgument(f"revision {value!r} is not acceptable")
    return value


def _tail(stream: Any) -> str:
    """The last lines a child wrote to `stream` (a temporary file), which is then closed."""
    stream.seek(0)
    text = stream.read().decode(errors="replace")
    stream.close()
    return "\n".join(text.strip().splitlines()[-5:])


def _cut(text: str) -> str:
    if len(text) <= MAX_ANSWER:
        return text
    return text[:MAX_ANSWER] + f"\n… {len(text) - MAX_ANSWER:,} more characters"


def build_server(workspace: Path, model: str | None = None) -> Any:
    """The FastMCP server for `workspace` (resolved; every tool works there and only there)."""
    from autocodebase.errors import UsageError
    from autocodebase.vcs.git import git_root

    found = git_root(workspace)
    if found is None:
        raise UsageError(f"{workspace} is not in a git repository: acb mcp serve -C REPO")
    root = found.resolve()
    acb = [sys.executable, "-m", "autocodebase"]
    server = FastMCP(
        "acb",
        instructions=(
            f"acb, an autonomous coding agent, working on the repository {workspace}. "
            "run_task runs a task headless (sandboxed, recorded, tests and review gates); "
            "list_runs and show_run read the run ledger; review, repo_map and undo_run work "
            "on the same repository."
        ),
        log_level="WARNING",
    )

    async def acb_command(*arguments: str) -> tuple[int, str, str]:
        done = await anyio.run_process([*acb, *arguments], cwd=workspace, check=False, stdin=None)
        return (
            done.returncode,
            done.stdout.decode(errors="replace"),
            done.stderr.decode(errors="replace"),
        )

    @server.tool()
    async def run_task(task: str, ctx: Context, max_steps: int = 30) -> str:  # type: ignore[type-arg]
        """Run a coding task on the repository with acb exec: sandboxed commands, approvals
        never (nothing can be asked), the test and review gates, a commit with provenance, and
        a record in the ledger. Returns the run's id, outcome and final message.

        Args:
            task: What to do, in plain language.
            max_steps: The most model calls the run may make (1-200).
        """
        if not task.strip():
            raise BadArgument("the task is empty")
        if not 1 <= max_steps <= 200:
            raise BadArgument("max_steps must be between 1 and 200")
        arguments = ["exec", "-", "--json", "--max-steps", str(max_steps), "-C", str(workspace)]
        if model:  # chosen by whoever started the server, never by the client
            arguments += ["--model", model]
        finished: dict[str, Any] = {}
        run_id = ""
        steps = 0
        # stderr to a file: a pipe nobody reads would stop the run once it filled.
        errors = tempfile.TemporaryFile()  # noqa: SIM115 - closed below
        command = [*acb, *arguments]
        async with await anyio.open_process(command, cwd=workspace, stderr=errors) as process:
            assert process.stdin is not None and process.stdout is not None
            await process.stdin.send(task.encode())
            await process.stdin.aclose()
            buffered = b""
            async for chunk in process.stdout:
                buffered += chunk
                *lines, buffered = buffered.split(b"\n")
                for line in lines:
                    try:
                        event = json.loads(line)
                    except ValueError:
                        continue
                    run_id = run_id or str(event.get("run_id", ""))
                    kind = event.get("type")
                    if kind == "model_request":
                        steps += 1
                        await ctx.report_progress(steps, max_steps, f"step {steps}")
                    elif kind == "tool_call":
                        await ctx.info(f"{event.get('name')}: {str(event.get('arguments'))[:200]}")
                    elif kind == "run_finished":
                        finished = event
            code = await process.wait()
        said = _tail(errors)
        summary = {
            "run_id": run_id,
            "exit_code": code,
            "outcome": finished.get("outcome", "failed"),
            "final_message": finished.get("final_message", ""),
            "error": finished.get("error") or (None if finished else said),
            "steps": finished.get("steps", steps),
            "cost_usd": finished.get("cost_usd"),
            "verification": finished.get("verification"),
            "changed": bool(finished.get("diff")),
        }
        return json.dumps(summary, indent=2)

    def own_run(ref: str) -> str:
        """The id of run `ref` if it worked in this repository (`last`: the last one here):
        a client given one repository reads and undoes nothing of another's."""
        from autocodebase.cli.runs_cmd import reader

        ledger = reader()
        ref = _checked(ref, RUN_REF, "run")
        run_id: str = ledger.last_in(root) if ref == "last" else ledger.resolve(ref)
        where = Path(ledger.run(run_id)["workspace"])
        if not (where == root or where.is_relative_to(root)):
            raise BadArgument(f"run {run_id} did not work in this repository")
        return run_id

    @server.tool()
    def list_runs(limit: int = 20) -> str:
        """The most recent runs in this repository: id, start, task, model, outcome, steps,
        cost.

        Args:
            limit: How many runs (1-200).
        """
        from autocodebase.cli.runs_cmd import reader

        if not 1 <= limit <= 200:
            raise BadArgument("limit must be between 1 and 200")
        runs = reader().list_runs_in(root, limit)
        return json.dumps([vars(run) for run in runs], indent=2)

    @server.tool()
    def show_run(run: str = "last") -> str:
        """A run of this repository: its settings, outcome, final diff and every event.

        Args:
            run: A run id, a unique prefix of one, or `last` (the last run here).
        """
        from autocodebase.cli.runs_cmd import reader

        ledger = reader()
        run_id = own_run(run)
        record = {**ledger.run(run_id), "events": ledger.events(run_id)}
        return _cut(json.dumps(record, indent=2, default=str))

    @server.tool()
    async def review(revision: str = "") -> str:
        """acb's review gates (ruff, bandit, semgrep, secrets, ...) on a change: the
        uncommitted changes by default, or a revision or BASE..HEAD. Findings as JSON.

        Args:
            revision: A commit, or BASE..HEAD; empty for the uncommitted changes or the last commit.
        """
        arguments = ["review", "--format", "json", "--no-model", "--fail-on", "never"]
        if revision:
            arguments.append(_revision(revision))
        code, out, err = await acb_command(*arguments, "-C", str(workspace))
        if code != 0:
            raise BadArgument(err.strip().splitlines()[-1] if err.strip() else f"exit {code}")
        return _cut(out)

    @server.tool()
    async def repo_map(focus: str = "", budget: int = 1024) -> str:
        """The repository map: signatures of the definitions that matter most for FOCUS,
        grouped by file, within a token budget.

        Args:
            focus: What the work is about: a task, file names, identifiers.
            budget: Tokens for the map (64-16384).
        """
        if not 64 <= budget <= 16384:
            raise BadArgument("budget must be between 64 and 16384")
        code, out, err = await acb_command(
            "map", "--focus", focus, "--budget", str(budget), "-C", str(workspace)
        )
        if code != 0:
            raise BadArgument(err.strip() or f"exit {code}")
        return _cut(out)

    @server.tool()
    async def undo_run(run: str = "last") -> str:
        """Put back the files a run changed in this repository and take its commit back
        (refused for files changed since the run).

        Args:
            run: A run id, a unique prefix of one, or `last` (the last run here).
        """
        code, out, err = await acb_command("undo", own_run(run), "-C", str(workspace))
        if code != 0:
            raise BadArgument(err.strip() or f"exit {code}")
        return out.strip() or "done"

    return server
