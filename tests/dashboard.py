"""The dashboard served for real (uvicorn on a loopback port, in a thread) over a ledger
written by acb's own LedgerWriter from acb's own event types."""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Imported here, in the main thread: anyio loads its file I/O lazily, on the first static file
# served, and anyio is a pytest plugin, so that import goes through pytest's assertion rewriter
# (ast.parse) in the server's thread. CPython 3.11's AST recursion counter is not thread-safe:
# with another thread compiling at that moment the import failed with "AST constructor
# recursion depth mismatch" and the static file came back empty (seen once in CI).
import anyio._core._fileio  # noqa: F401

from autocodebase.events import (
    Git,
    ModelRequest,
    ModelResponse,
    ReviewChecked,
    RunFinished,
    RunStarted,
    TestsChecked,
    ToolCall,
    ToolResult,
    event_payload,
)
from autocodebase.ledger.store import LedgerWriter, connect

DIFF = (
    "diff --git a/app.py b/app.py\n--- a/app.py\n+++ b/app.py\n@@ -1 +1,2 @@\n"
    " x = 1\n+ANSWER = 42\n"
)


def record_run(
    ledger: Path,
    run_id: str,
    *,
    task: str = "add the answer",
    model: str = "openai/gpt-test",
    workspace: str = "/repos/app",
    outcome: str = "completed",
    started_at: float | None = None,
    output: str = "ok",
    finished: bool = True,
) -> None:
    """One run as the agent records it: request, response with a patch call, its result,
    the test and review gates, the commit and the end (left out when `finished` is false)."""
    writer = LedgerWriter(connect(ledger))
    now = started_at if started_at is not None else time.time()
    seq = 0

    def emit(event: Any) -> None:
        nonlocal seq
        writer({**event_payload(event), "run_id": run_id, "seq": seq, "ts": now + seq})
        seq += 1

    settings = {"approval": "on-request", "sandbox": "workspace-write"}
    emit(
        RunStarted(
            task=task,
            model=model,
            workspace=workspace,
            settings=settings,
            sandbox="bubblewrap",
            acb_version="test",
        )
    )
    emit(
        ModelRequest(
            step=1,
            new_messages=[{"role": "user", "content": task}],
            message_count=2,
            tools=["apply_patch"],
        )
    )
    emit(
        ModelResponse(
            step=1,
            content="Adding it.",
            tool_calls=[],
            model=model,
            usage={"input_tokens": 1200, "output_tokens": 80},
            cost_usd=0.002,
            total_cost_usd=0.002,
            duration_s=1.0,
            stop_reason="tool_calls",
        )
    )
    emit(
        ToolCall(
            step=1,
            call_id="c1",
            name="apply_patch",
            arguments={"patch": "*** Begin Patch\n*** Update File: app.py\n*** End Patch"},
            raw_arguments="{}",
        )
    )
    emit(
        ToolResult(
            step=1,
            call_id="c1",
            name="apply_patch",
            is_error=False,
            output=output,
            data={"diff": DIFF},
            duration_s=0.1,
        )
    )
    if not finished:
        return
    emit(
        TestsChecked(
            command="pytest -q",
            passed=10,
            failed=[],
            preexisting=[],
            verdict="passed",
            duration_s=2.0,
        )
    )
    finding = {
        "tool": "bandit",
        "rule": "B105",
        "severity": "low",
        "file": "app.py",
        "line": 2,
        "message": "possible hardcoded value",
        "fix_hint": "",
    }
    emit(
        ReviewChecked(
            findings=[finding], blocking=0, block_on="high", verdict="passed-with-findings"
        )
    )
    emit(
        Git(
            checkpoint="refs/acb/checkpoints/x/start",
            end_checkpoint="refs/acb/x/end",
            commit="0123456789abcdef0123456789abcdef01234567",
            branch="main",
            committed=["app.py"],
            left_uncommitted=[],
            message="feat: the answer\n\nAcb-Run: x",
            message_source="model",
        )
    )
    emit(
        RunFinished(
            outcome=outcome,
            exit_code=0,
            final_message="Done.",
            steps=1,
            usage={"input_tokens": 1200, "output_tokens": 80},
            cost_usd=0.002,
            duration_s=5.0,
            diff=DIFF,
            verification={"status": "verified", "detail": "10 passed"},
        )
    )


@dataclass
class Served:
    url: str
    port: int

    def get(
        self, path: str, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], str]:
        """(status, headers, body) without following redirects."""

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args: Any, **kwargs: Any) -> None:
                return None

        opener = urllib.request.build_opener(NoRedirect)
        request = urllib.request.Request(self.url + path, headers=headers or {})
        try:
            with opener.open(request, timeout=30) as answer:
                return answer.status, dict(answer.headers), answer.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read().decode()


@contextmanager
def serving(app: Any) -> Iterator[Served]:
    """`app` on 127.0.0.1 at a free port until the block ends."""
    import uvicorn

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "the dashboard did not start"
    try:
        yield Served(f"http://127.0.0.1:{port}", port)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listener.close()
