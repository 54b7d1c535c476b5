"""`acb runs`: read the ledger — which runs happened, and the whole story of one."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from autocodebase.cli.render import (
    count,
    describe_review_checked,
    describe_tests_checked,
    format_cost,
    format_tokens,
    summarize_call,
)

FOLD_LINES = 30
SYSTEM_FOLD_LINES = 6


def reader() -> Any:
    from autocodebase.config import load_settings
    from autocodebase.ledger.store import LedgerReader, connect

    return LedgerReader(connect(load_settings(Path.cwd()).ledger_path))


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"


def _fold(text: str, full: bool, limit: int = FOLD_LINES) -> str:
    lines = text.rstrip().splitlines()
    if full or len(lines) <= limit:
        return "\n".join(lines)
    half = limit // 2
    hidden = len(lines) - 2 * half
    return "\n".join([*lines[:half], f"[... {hidden} lines; --full shows all ...]", *lines[-half:]])


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


@click.group("runs")
def runs() -> None:
    """Inspect recorded runs (the ledger lives in $ACB_HOME, default ~/.local/state/acb)."""


@runs.command("list")
@click.option("-n", "--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_runs(limit: int, as_json: bool) -> None:
    """List the most recent runs, newest first."""
    summaries = reader().list_runs(limit)
    if as_json:
        click.echo(json.dumps([vars(s) for s in summaries], indent=2))
        return
    if not summaries:
        click.echo("no runs recorded yet")
        return
    for s in summaries:
        outcome = s.outcome or ("running?" if s.finished_at is None else "-")
        task = s.task.splitlines()[0][:60]
        click.echo(
            f"{s.id}  {_when(s.started_at)}  {outcome:<11} {count(s.steps or 0, 'step'):>9}  "
            f"{format_cost(s.cost_usd):>12}  {s.model}  {task}"
        )


def _render_event(event: dict[str, Any], full: bool) -> str | None:
    kind = event["type"]
    if kind == "model_request":
        parts = []
        for message in event["new_messages"]:
            if message["role"] in ("system", "user"):
                # The system prompt is long and mostly the same for every run: fold it harder.
                limit = SYSTEM_FOLD_LINES if message["role"] == "system" else FOLD_LINES
                folded = _fold(message["content"], full, limit)
                parts.append(f"[{message['role']}]\n{_indent(folded)}")
        return "\n".join(parts) or None
    if kind == "model_response":
        cost = format_cost(event["cost_usd"])
        head = f"── step {event['step']} · {format_tokens(event['usage'])} · {cost}"
        body = (
            f"\n[assistant]\n{_indent(_fold(event['content'], full))}" if event["content"] else ""
        )
        return head + body
    if kind == "model_retry":
        return f"[retry] attempt {event['attempt']} failed: {event['error']}"
    if kind == "tool_call":
        args = event["arguments"]
        detail = summarize_call(event["name"], args)
        body = ""
        if event["name"] == "apply_patch" and args:
            body = "\n" + _indent(_fold(str(args.get("patch", "")), full))
        elif args is None:
            body = "\n" + _indent(event["raw_arguments"])
        return f"[tool call] {event['name']} {detail}{body}"
    if kind == "tool_result":
        mark = "✗" if event["is_error"] else "✓"
        return f"[tool result {mark}] {event['name']} ({event['duration_s']}s)\n" + _indent(
            _fold(event["output"], full)
        )
    if kind == "file_changed":
        return f"[file] {event['change']} {event['path']} by {event['by']}"
    if kind == "plan_updated":
        return "[plan] " + "; ".join(f"{s['step']} ({s['status']})" for s in event["steps"])
    if kind == "approval":
        where = "outside the sandbox" if event["escalated"] else "in the sandbox"
        return f"[approval] {event['decision']} ({event['how']}): {event['command']} {where}"
    if kind == "compacted":
        return f"[compacted] ~{event['tokens_before']:,} -> ~{event['tokens_after']:,} tokens"
    if kind == "turn_finished":
        return f"[turn {event['outcome']}]"
    if kind == "git":
        if event["commit"]:
            files, source = len(event["committed"]), event["message_source"]
            text = f"[commit] {event['commit'][:12]} ({files} files; message: {source})"
            text += "\n" + _indent(event["message"] or "")
        else:
            text = "[commit] none"
        if event["left_uncommitted"]:
            text += "\n[left uncommitted] " + ", ".join(event["left_uncommitted"])
        return text
    if kind == "error":
        return f"[{'error' if event['fatal'] else 'warning'}] {event['message']}"
    if kind == "tests_checked":
        text, _ = describe_tests_checked(event)
        failing = ", ".join(event["failed"][:10])
        return f"[tests] {text.lstrip('◆ ')} · {event['command']}" + (
            f"\n    failing: {failing}" if failing else ""
        )
    if kind == "review_checked":
        text, _ = describe_review_checked(event)
        findings = [
            f"{f.get('severity')} {f.get('file')}:{f.get('line')} {f.get('message')}"
            for f in event["findings"][:10]
        ]
        return f"[review] {text.lstrip('◆ ')}" + "".join(f"\n    {f}" for f in findings)
    return None


@runs.command("show")
@click.argument("run", default="last")
@click.option("--json", "as_json", is_flag=True, help="Print the run and its events as JSON.")
@click.option("--full", is_flag=True, help="Do not fold long messages and outputs.")
def show_run(run: str, as_json: bool, full: bool) -> None:
    """Tell the whole story of RUN (an id, a unique prefix of one, or `last`)."""
    ledger = reader()
    run_id = ledger.resolve(run)
    record = ledger.run(run_id)
    events = ledger.events(run_id)
    if as_json:
        click.echo(json.dumps({"run": record, "events": events}, indent=2))
        return
    duration = (record["finished_at"] or time.time()) - record["started_at"]
    usage = {
        "input_tokens": record["input_tokens"] or 0,
        "output_tokens": record["output_tokens"] or 0,
    }
    header = [
        f"run       {run_id}",
        f"task      {record['task']}",
        f"model     {record['model']}",
        f"workspace {record['workspace']}",
        f"sandbox   {record['sandbox']}",
        f"started   {_when(record['started_at'])} ({duration:.1f}s)",
        f"outcome   {record['outcome'] or 'unfinished (the run was killed or is running)'}",
        f"usage     {count(record['steps'] or 0, 'step')} · {format_tokens(usage)} · "
        f"{format_cost(record['cost_usd'])}",
    ]
    if record.get("verification"):
        header.append(f"tests     {record['verification']} ({record['verification_detail']})")
    if record["error"]:
        header.append(f"error     {record['error']}")
    if record.get("checkpoint_ref"):
        header.append(f"undo      acb undo {run_id}   (checkpoint {record['checkpoint_ref']})")
    if record.get("commit_sha"):
        header.append(
            f"commit    {record['commit_sha']} on {record.get('branch') or 'detached HEAD'}"
        )
    click.echo("\n".join(header) + "\n")
    for event in events:
        text = _render_event(event, full)
        if text:
            click.echo(text)
    if record["final_message"]:
        click.echo(f"\n[final message]\n{_indent(record['final_message'])}")
    if record["diff"]:
        click.echo(f"\n[diff]\n{_fold(record['diff'], full)}")
    elif record["outcome"] is not None:
        click.echo("\n[diff] none recorded (no change, or the workspace is not a git repository)")
