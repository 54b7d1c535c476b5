"""The `shell` tool: run a bash command in the workspace with a timeout and bounded output."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time

from autocodebase.tools.base import ToolContext, ToolResult, tool
from autocodebase.tools.output import HeadTailBuffer

MAX_TIMEOUT_S = 3600


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


@tool
def shell(context: ToolContext, command: str, timeout_s: int | None = None) -> ToolResult:
    """Run a bash command in the workspace and return its exit code and combined output.

    Use it to inspect the project, run tests and linters, or use any command-line tool. Output
    longer than the limit keeps its beginning and end. Prefer apply_patch for editing files.

    Args:
        command: The bash command line to run, e.g. "python -m pytest -q".
        timeout_s: Seconds before the command is killed (default from settings, at most 3600).
    """
    limit_s = min(timeout_s or context.shell_timeout_s, MAX_TIMEOUT_S)
    started = time.monotonic()
    process = subprocess.Popen(
        ["bash", "-c", command],
        cwd=context.workspace,
        env=context.env or None,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so a timeout kills the children too
    )
    assert process.stdout is not None
    buffer = HeadTailBuffer(context.output_limit)
    reader = threading.Thread(target=buffer.drain, args=(process.stdout,), daemon=True)
    reader.start()
    timed_out = False
    try:
        process.wait(timeout=limit_s)
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:
        # Kill any background children still holding the pipe, then collect what they wrote.
        _kill_group(process)
        process.wait()
        reader.join(timeout=5)
        process.stdout.close()
    elapsed = time.monotonic() - started
    output = buffer.render()
    code = process.returncode
    status = f"timed out after {limit_s}s (killed)" if timed_out else f"exit code {code}"
    text = f"{output.rstrip()}\n[{status}, {elapsed:.1f}s]" if output.strip() else f"[{status}]"
    return ToolResult(
        text,
        is_error=timed_out or code != 0,
        data={"exit_code": code, "timed_out": timed_out, "output_bytes": buffer.total},
    )
