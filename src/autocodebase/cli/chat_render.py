"""How a conversation looks: the model's markdown as it streams, compact tool lines, coloured
diffs of every edit, a spinner while something runs, and the running token and cost count."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.markdown import Markdown
from rich.markup import escape
from rich.status import Status
from rich.syntax import Syntax

from autocodebase.cli.render import (
    PLAN_MARKS,
    describe_git,
    describe_review_checked,
    describe_tests_checked,
    format_cost,
    format_tokens,
    summarize_call,
)

MAX_DIFF_LINES = 80


def _halt(stop: Callable[[], None]) -> None:
    """Stop a spinner or live text even if a Ctrl-C landed inside rich's own start: rich then
    has the display marked started without its render hook, and its stop fails on the pop of
    that hook after it has already let go of the console."""
    with contextlib.suppress(IndexError):
        stop()


class ChatRenderer:
    """An event sink drawing on a rich console."""

    def __init__(self, console: Console):
        self.console = console
        self.live: Live | None = None
        self.status: Status | None = None
        self.text = ""

    def __call__(self, event: dict[str, Any]) -> None:
        handler = getattr(self, f"on_{event['type']}", None)
        if handler is not None:
            handler(event)

    def _stop(self) -> None:
        status, self.status = self.status, None
        if status is not None:
            _halt(status.stop)

    def _end_text(self) -> None:
        live, self.live = self.live, None
        if live is not None:
            _halt(live.stop)
        self.text = ""

    def _wait(self, what: str) -> None:
        self._stop()
        self.status = self.console.status(what, spinner="dots")
        self.status.start()

    def pause(self) -> None:
        """Stop the spinner and the live text: someone is about to be asked something."""
        self._stop()
        self._end_text()

    def on_model_request(self, event: dict[str, Any]) -> None:
        self._wait("thinking…")

    def on_assistant_delta(self, event: dict[str, Any]) -> None:
        self._stop()
        self.text += event["text"]
        if self.live is None:
            self.live = Live(console=self.console, auto_refresh=False, vertical_overflow="visible")
            self.live.start()
        self.live.update(Markdown(self.text), refresh=True)

    def on_model_response(self, event: dict[str, Any]) -> None:
        self._stop()
        self._end_text()

    def on_model_retry(self, event: dict[str, Any]) -> None:
        self._stop()
        self.console.print(
            f"[yellow]⟳ {escape(event['error'])} — retrying in {event['delay_s']:.1f}s[/]"
        )

    def on_tool_call(self, event: dict[str, Any]) -> None:
        summary = summarize_call(event["name"], event["arguments"])
        self.console.print(f"[cyan]▸ {event['name']}[/] {escape(summary)}", highlight=False)
        self._wait(f"running {event['name']}…")

    def on_tool_result(self, event: dict[str, Any]) -> None:
        self._stop()
        data = event["data"]
        lines = event["output"].rstrip().splitlines()
        mark = "[red]✗[/]" if event["is_error"] else "[green]✓[/]"
        if event["name"] == "shell":
            tail = lines[-2:] if not event["is_error"] else lines[-6:]
            self.console.print(f"  {mark} [dim]{event['duration_s']:.1f}s[/]", highlight=False)
            for line in tail:
                self.console.print(f"    [dim]{escape(line[:200])}[/]", highlight=False)
        elif event["name"] == "apply_patch" and not event["is_error"] and data.get("diff"):
            diff = "\n".join(data["diff"].splitlines()[:MAX_DIFF_LINES])
            self.console.print(Syntax(diff, "diff", theme="ansi_dark", background_color="default"))
        else:
            first = lines[0] if lines else "ok"
            self.console.print(f"  {mark} [dim]{escape(first[:160])}[/]", highlight=False)

    def on_plan_updated(self, event: dict[str, Any]) -> None:
        for step in event["steps"]:
            mark = escape(PLAN_MARKS.get(step["status"], "[ ]"))
            self.console.print(f"  [magenta]{mark}[/] {escape(step['step'])}", highlight=False)

    def on_approval(self, event: dict[str, Any]) -> None:
        self._stop()

    def on_review_checked(self, event: dict[str, Any]) -> None:
        self._stop()
        text, good = describe_review_checked(event)
        self.console.print(f"[{'green' if good else 'yellow'}]{escape(text)}[/]", highlight=False)

    def on_tests_checked(self, event: dict[str, Any]) -> None:
        self._stop()
        text, good = describe_tests_checked(event)
        self.console.print(f"[{'green' if good else 'yellow'}]{escape(text)}[/]", highlight=False)

    def on_git(self, event: dict[str, Any]) -> None:
        self._stop()
        text, good = describe_git(event)
        self.console.print(f"[{'green' if good else 'yellow'}]{escape(text)}[/]", highlight=False)

    def on_error(self, event: dict[str, Any]) -> None:
        self._stop()
        kind = "error" if event["fatal"] else "warning"
        self.console.print(f"[red]{kind}: {escape(event['message'])}[/]", highlight=False)

    def on_compacted(self, event: dict[str, Any]) -> None:
        before, after = event["tokens_before"], event["tokens_after"]
        self.console.print(f"[dim]context compacted: ~{before:,} → ~{after:,} tokens[/]")

    def on_turn_finished(self, event: dict[str, Any]) -> None:
        self._stop()
        self._end_text()
        self.console.print(
            f"[dim]{format_tokens(event['usage'])} · {format_cost(event['cost_usd'])}[/]"
        )
