"""Human-readable progress for a run, drawn from the event stream on stderr."""

from __future__ import annotations

from typing import Any, TextIO

import click

from autocodebase.event_text import (
    PLAN_MARKS,
    count,
    describe_git,
    describe_review_checked,
    describe_tests_checked,
    format_cost,
    format_tokens,
    summarize_call,
)

__all__ = [
    "PLAN_MARKS",
    "HumanRenderer",
    "count",
    "describe_git",
    "describe_review_checked",
    "describe_tests_checked",
    "format_cost",
    "format_tokens",
    "summarize_call",
]

MAX_OUTPUT_LINES = 6


class HumanRenderer:
    """An event sink that writes what is happening, compactly, for a person watching."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.color = stream.isatty()
        self.mid_line = False

    def _line(self, text: str, **style: Any) -> None:
        if self.mid_line:
            self.stream.write("\n")
            self.mid_line = False
        click.echo(click.style(text, **style) if self.color else text, file=self.stream)

    def __call__(self, event: dict[str, Any]) -> None:
        handler = getattr(self, f"on_{event['type']}", None)
        if handler is not None:
            handler(event)
        self.stream.flush()

    def on_run_started(self, event: dict[str, Any]) -> None:
        self._line(
            f"acb · {event['model']} · {event['workspace']} · run {event['run_id']}", dim=True
        )
        self._line(f"task: {event['task']}", bold=True)

    def on_assistant_delta(self, event: dict[str, Any]) -> None:
        self.stream.write(event["text"])
        self.mid_line = not event["text"].endswith("\n")

    def on_progress(self, event: dict[str, Any]) -> None:
        self._line(f"… {event['message']}", dim=True)

    def on_model_retry(self, event: dict[str, Any]) -> None:
        self._line(
            f"⟳ {event['error']} — retrying in {event['delay_s']:.1f}s "
            f"(attempt {event['attempt'] + 1})",
            fg="yellow",
        )

    def on_tool_call(self, event: dict[str, Any]) -> None:
        summary = summarize_call(event["name"], event["arguments"])
        self._line(f"▸ {event['name']} {summary}".rstrip(), fg="cyan")

    def on_tool_result(self, event: dict[str, Any]) -> None:
        lines = event["output"].rstrip().splitlines()
        if not event["is_error"]:
            # For commands the last line is our "[exit 0, 1.2s]"; the one above it is
            # usually the command's own summary ("7 passed in 0.03s").
            shown = lines[-2:] if event["name"] == "shell" else lines[-1:]
            self._line(f"  ✓ {' · '.join(s.strip() for s in shown)[:160] or 'ok'}", dim=True)
            return
        for line in lines[-MAX_OUTPUT_LINES:]:
            self._line(f"  ✗ {line[:200]}", fg="red")

    def on_file_changed(self, event: dict[str, Any]) -> None:
        moved = f" → {event['moved_to']}" if event.get("moved_to") else ""
        self._line(f"  ✎ {event['change']} {event['path']}{moved} ({event['by']})", fg="green")

    def on_plan_updated(self, event: dict[str, Any]) -> None:
        for step in event["steps"]:
            self._line(f"  {PLAN_MARKS.get(step['status'], '[ ]')} {step['step']}", fg="magenta")

    def on_test_candidate(self, event: dict[str, Any]) -> None:
        kept = event["verdict"] == "kept"
        label = "kept" if kept else f"rejected ({event['category']})"
        self._line(
            f"  ◇ candidate for {event['target']}: {label}: {event['reason'][:140]}",
            fg="green" if kept else "yellow",
        )

    def on_review_checked(self, event: dict[str, Any]) -> None:
        text, good = describe_review_checked(event)
        self._line(text, fg="green" if good else "yellow")

    def on_tests_checked(self, event: dict[str, Any]) -> None:
        text, good = describe_tests_checked(event)
        self._line(text, fg="green" if good else "yellow")

    def on_git(self, event: dict[str, Any]) -> None:
        text, good = describe_git(event)
        for line in text.splitlines():
            self._line(line, fg="green" if good else "yellow")

    def on_error(self, event: dict[str, Any]) -> None:
        self._line(f"{'error' if event['fatal'] else 'warning'}: {event['message']}", fg="red")

    def on_run_finished(self, event: dict[str, Any]) -> None:
        facts = (
            f"{count(event['steps'], 'step')} · {format_tokens(event['usage'])} · "
            f"{format_cost(event['cost_usd'])} · {event['duration_s']:.1f}s · run {event['run_id']}"
        )
        verification = event.get("verification")
        if verification:
            good = verification["status"] == "verified"
            self._line(
                f"◆ {verification['status']}: {verification['detail']}",
                fg="green" if good else "yellow",
            )
        if event["outcome"] == "completed":
            self._line(f"✔ completed · {facts}", fg="green", bold=True)
        else:
            reason = f": {event['error']}" if event.get("error") else ""
            self._line(f"✘ {event['outcome']}{reason} · {facts}", fg="red", bold=True)
