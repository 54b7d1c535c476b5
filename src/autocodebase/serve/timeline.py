"""A run's events as the entries of its page: what the model was told and said, each tool call
with its output, each edit as a highlighted diff, the gates' verdicts, the commit.

Everything shown passes through the redactor first, again: the ledger stores redacted events,
and the dashboard also hides the secrets of the process serving it (its token among them), so
a secret that reached the ledger some other way is not put on a web page either.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from autocodebase.event_text import (
    PLAN_MARKS,
    describe_git,
    describe_review_checked,
    describe_tests_checked,
    format_cost,
    format_tokens,
    summarize_call,
)
from autocodebase.redact import Redactor

MAX_OUTPUT_CHARS = 20_000
"""Per text on the page; the ledger keeps what the model saw, `acb runs show` prints it."""
MAX_DIFF_CHARS = 300_000
"""A diff larger than this is cut before it is highlighted (Pygments on megabytes is slow)."""


@dataclass
class Entry:
    """One row of the timeline: its kind (a CSS class), a heading, and what to show under it."""

    seq: int
    kind: str
    title: str
    text: str = ""
    diff: Markup | None = None
    good: bool | None = None
    details: list[tuple[str, str]] = field(default_factory=list)
    """(label, preformatted text) shown folded."""
    rows: list[dict[str, Any]] = field(default_factory=list)


def highlight_diff(diff: str) -> Markup:
    """A unified diff as HTML (Pygments escapes the text; nothing of it is trusted)."""
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import DiffLexer

    diff = _cut(diff, MAX_DIFF_CHARS)
    return Markup(highlight(diff, DiffLexer(), HtmlFormatter(cssclass="diff")))  # noqa: S704 - Pygments' output is escaped


def _cut(text: str, limit: int = MAX_OUTPUT_CHARS) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n… {len(text) - limit:,} more characters (acb runs show has all)"


def _messages(event: dict[str, Any]) -> list[Entry]:
    entries: list[Entry] = []
    for message in event.get("new_messages") or []:
        role = message.get("role", "")
        content = message.get("content") or ""
        if role == "user":
            entries.append(
                Entry(event["seq"], "user", "the task" if not entries else "user", content)
            )
        elif role == "system":
            entries.append(
                Entry(event["seq"], "system", "system prompt", details=[("prompt", content)])
            )
    return entries


def _entries(event: dict[str, Any], calls: dict[str, dict[str, Any]]) -> list[Entry]:
    kind, seq = event["type"], event["seq"]
    if kind == "run_started":
        settings = "\n".join(f"{k}: {v}" for k, v in sorted(event["settings"].items()))
        return [
            Entry(
                seq,
                "start",
                f"run started with {event['model']} in {event['workspace']}",
                f"sandbox: {event['sandbox']}",
                details=[("settings", settings)],
            )
        ]
    if kind == "model_request":
        return _messages(event)
    if kind == "model_response":
        if not event.get("content"):
            return []
        facts = f"{format_tokens(event['usage'])} · {format_cost(event.get('cost_usd'))}"
        return [
            Entry(seq, "assistant", f"the model (step {event['step']}) · {facts}", event["content"])
        ]
    if kind == "tool_call":
        calls[event["call_id"]] = event
        return []
    if kind == "tool_result":
        call = calls.get(event["call_id"], {})
        arguments = call.get("arguments")
        entry = Entry(
            seq,
            "tool",
            f"{event['name']} {summarize_call(event['name'], arguments)}".strip(),
            good=not event["is_error"],
        )
        if event["name"] == "apply_patch" and not event["is_error"] and event["data"].get("diff"):
            entry.diff = highlight_diff(event["data"]["diff"])
        else:
            entry.details.append((f"output ({event['duration_s']:.1f} s)", _cut(event["output"])))
        if arguments and event["name"] not in ("shell", "read_file"):
            shown = arguments.get("patch") if event["name"] == "apply_patch" else arguments
            entry.details.insert(0, ("arguments", _cut(str(shown))))
        return [entry]
    if kind == "approval":
        text = f"{event['decision']} ({event['how']}): {event['reason']}"
        title = "approval outside the sandbox" if event["escalated"] else "approval"
        return [Entry(seq, "approval", f"{title}: {event['command']}", text)]
    if kind == "plan_updated":
        plan = "\n".join(
            f"{PLAN_MARKS.get(s['status'], '[ ]')} {s['step']}" for s in event["steps"]
        )
        return [Entry(seq, "plan", "plan", plan)]
    if kind == "tests_checked":
        text, good = describe_tests_checked(event)
        failing = "\n".join(event["failed"]) or "none"
        details = [("command", event["command"]), ("failing", failing)]
        return [Entry(seq, "gate", text.lstrip("◆ "), good=good, details=details)]
    if kind == "review_checked":
        text, good = describe_review_checked(event)
        return [Entry(seq, "gate", text.lstrip("◆ "), good=good, rows=list(event["findings"]))]
    if kind == "git":
        text, good = describe_git(event)
        entry = Entry(seq, "git", text.lstrip("⎇ ").splitlines()[0], good=good)
        if event.get("message"):
            entry.details.append(("commit message", event["message"]))
        if event.get("committed"):
            entry.details.append(("committed", "\n".join(event["committed"])))
        return [entry]
    if kind == "error":
        return [
            Entry(
                seq, "error", "error" if event["fatal"] else "warning", event["message"], good=False
            )
        ]
    if kind == "model_retry":
        text = f"retry {event['attempt']} in {event['delay_s']:.1f} s: {event['error']}"
        return [Entry(seq, "retry", "the model's API failed", text, good=False)]
    if kind == "compacted":
        text = f"{event['tokens_before']:,} → {event['tokens_after']:,} tokens (estimated)"
        return [Entry(seq, "note", "conversation compacted", text)]
    if kind == "model_switched":
        return [
            Entry(seq, "note", f"model switched to {event['model']}", f"from {event['previous']}")
        ]
    if kind == "run_finished":
        cost = format_cost(event.get("cost_usd"))
        facts = f"{event['steps']} steps · {format_tokens(event['usage'])} · {cost}"
        text = event.get("error") or event.get("final_message") or ""
        return [
            Entry(
                seq,
                "finish",
                f"{event['outcome']} · {facts}",
                text,
                good=event["outcome"] == "completed",
            )
        ]
    return []


def timeline(
    events: list[dict[str, Any]],
    redactor: Redactor,
    calls: dict[str, dict[str, Any]] | None = None,
) -> list[Entry]:
    """The page's entries for `events` (all of a run's, or the new ones of a live run, whose
    results find their earlier calls in `calls`), every text capped."""
    known = {k: redactor.value(v) for k, v in (calls or {}).items()}
    entries: list[Entry] = []
    for event in events:
        entries.extend(_entries(redactor.value(event), known))
    for entry in entries:
        entry.title = _cut(entry.title, 500)
        entry.text = _cut(entry.text)
        entry.details = [(label, _cut(body)) for label, body in entry.details]
    return entries


def usage_series(events: list[dict[str, Any]]) -> dict[str, list[float | None]]:
    """Tokens and cost after each model response, for the run's chart."""
    steps: list[float | None] = []
    tokens_in: list[float | None] = []
    tokens_out: list[float | None] = []
    cost: list[float | None] = []
    total_in = total_out = 0
    for event in events:
        if event["type"] != "model_response":
            continue
        total_in += int(event["usage"].get("input_tokens", 0))
        total_out += int(event["usage"].get("output_tokens", 0))
        steps.append(len(steps) + 1)
        tokens_in.append(total_in)
        tokens_out.append(total_out)
        cost.append(event.get("total_cost_usd"))
    reported = bool(total_in or total_out or any(c for c in cost))
    return {
        "step": steps,
        "input_tokens": tokens_in,
        "output_tokens": tokens_out,
        "cost_usd": cost,
        "reported": [1.0] if reported else [],
    }
