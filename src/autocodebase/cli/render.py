"""Human-readable progress for a run, drawn from the event stream on stderr."""

from __future__ import annotations

from typing import Any, TextIO

import click

MAX_OUTPUT_LINES = 6
PLAN_MARKS = {"completed": "[x]", "in_progress": "[>]", "pending": "[ ]"}


def summarize_call(name: str, arguments: dict[str, Any] | None) -> str:
    """One line saying what a tool call will do."""
    if arguments is None:
        return "(malformed arguments)"
    if name == "shell":
        return str(arguments.get("command", ""))
    if name == "read_file":
        span = ""
        if arguments.get("start_line") or arguments.get("end_line"):
            span = f":{arguments.get('start_line') or 1}-{arguments.get('end_line') or ''}"
        return f"{arguments.get('path', '')}{span}"
    if name == "search":
        where = arguments.get("path") or "."
        glob = f" ({arguments['glob']})" if arguments.get("glob") else ""
        return f"/{arguments.get('pattern', '')}/ in {where}{glob}"
    if name == "apply_patch":
        files = [
            line.split(":", 1)[1].strip()
            for line in str(arguments.get("patch", "")).splitlines()
            if line.startswith(("*** Add File:", "*** Update File:", "*** Delete File:"))
        ]
        return ", ".join(files)
    return ""


def format_tokens(usage: dict[str, int]) -> str:
    fresh, answer = usage.get("input_tokens", 0), usage.get("output_tokens", 0)
    if not fresh and not answer:
        # Some servers (llama.cpp's, scripted cassettes) report no usage; zero would be a lie.
        return "tokens not reported"
    return f"{fresh:,} in / {answer:,} out tokens"


def count(number: int, noun: str) -> str:
    """`1 step`, `2 steps`, `0 steps`."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def format_cost(cost: float | None) -> str:
    return "cost unknown" if cost is None else f"${cost:.4f}"


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
            # For commands the last line is our "[exit code 0, 1.2s]"; the one above it is
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


def describe_git(event: dict[str, Any]) -> tuple[str, bool]:
    """What happened to the run's changes in git, and whether all of them are committed: a
    change left in the working tree is said in words, with how to take it back."""
    left = event.get("left_uncommitted") or []
    listed = ", ".join(left[:5]) + (f" and {len(left) - 5} more" if len(left) > 5 else "")
    if event.get("commit"):
        subject = (event.get("message") or "").splitlines()[0] if event.get("message") else ""
        on = f" on {event['branch']}" if event.get("branch") else ""
        text = f"⎇ committed {event['commit'][:12]}{on}: {subject}".rstrip(": ")
        if left:
            text += f"\n⎇ left uncommitted in the working tree: {listed}"
        return text, not left
    if left:
        return (
            f"⎇ not committed: {count(len(left), 'file')} changed in the working tree ({listed}); "
            f"acb undo {event['run_id']} takes them back",
            False,
        )
    return "⎇ nothing to commit", True


def describe_tests_checked(event: dict[str, Any]) -> tuple[str, bool]:
    """One line for the test gate's verdict, and whether it is good news."""
    verdict, failed, old = event["verdict"], event["failed"], event["preexisting"]
    chosen = event.get("selected") or []
    scope = f" in {len(chosen)} test files chosen for the change" if chosen else ""
    if verdict == "passed":
        return f"◆ tests pass ({event['passed']} passed{scope})", True
    if verdict == "preexisting":
        return f"◆ tests: only the {len(old)} failure(s) that predate the run remain", True
    new = len(failed) - len(old)
    if verdict == "sent-back":
        return f"◆ tests: {new} new failure(s) sent back to the model", False
    if verdict == "gave-up":
        return f"◆ tests: {new} new failure(s) remain; the run will not claim success", False
    if verdict == "timed-out":
        return f"◆ tests timed out after {event.get('duration_s', 0):.0f} s: not verified", False
    return f"◆ tests {verdict}", True


def describe_review_checked(event: dict[str, Any]) -> tuple[str, bool]:
    """One line for the review gate's verdict, and whether it is good news."""
    count, blocking = len(event["findings"]), event["blocking"]
    verdict = event["verdict"]
    if verdict == "passed":
        return "◆ review: no findings on the change", True
    if verdict == "passed-with-findings":
        return f"◆ review: {count} finding(s) below {event['block_on']}, recorded", True
    if verdict == "sent-back":
        return f"◆ review: {blocking} blocking finding(s) sent back to the model", False
    return f"◆ review: {blocking} blocking finding(s) remain; nothing will be committed", False
