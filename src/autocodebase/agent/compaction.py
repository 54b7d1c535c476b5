"""Context compaction: when a conversation nears the model's window, older turns are summarised
by the model — but what a summary must never lose stays verbatim, outside it: the task as first
stated, the current plan, the files touched, and the last test run (Codex's most common
complaint is that compaction forgets the task). AGENTS.md rules live in the system prompt,
which is never compacted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from autocodebase.models.base import Message, Model, ModelError, Usage
from autocodebase.models.retry import RetryPolicy, call_with_retries
from autocodebase.output import truncate_text

CHARS_PER_TOKEN = 4
"""An estimate, labelled as such: no tokenizer is bundled for every provider."""
SUMMARY_PROMPT = """\
Summarise this conversation between a user and a coding agent so the agent can continue the
work without it. Keep: decisions made and why, what was tried and failed, open questions, the
state of the work. Be concise and specific (names of files, functions, commands).
Reply with the summary only."""
TEST_WORDS = ("pytest", "test", "cargo test", "npm test", "go test", "make check")


def estimate_tokens(messages: Sequence[Message]) -> int:
    return (
        sum(len(m.content) + sum(len(c.raw_arguments) for c in m.tool_calls) for m in messages)
        // CHARS_PER_TOKEN
    )


@dataclass(frozen=True)
class Kept:
    """What survives compaction word for word."""

    task: str
    plan: list[dict[str, str]]
    files_touched: list[str]
    last_test: str | None


def last_test_run(messages: Sequence[Message]) -> str | None:
    commands = {
        call.id: str((call.arguments or {}).get("command", ""))
        for m in messages
        for call in m.tool_calls
        if call.name == "shell"
    }
    for message in reversed(messages):
        command = commands.get(message.tool_call_id or "", "")
        if message.role == "tool" and any(word in command for word in TEST_WORDS):
            return f"$ {command}\n{truncate_text(message.content, 4000)}"
    return None


def _latest_exchange(messages: Sequence[Message]) -> int:
    """Where the latest tool exchange starts (its assistant message), or the end when the
    conversation's last message is not a tool result (between turns: everything goes)."""
    if not messages or messages[-1].role != "tool":
        return len(messages)
    for index in range(len(messages) - 1, 0, -1):
        if messages[index].role == "assistant" and messages[index].tool_calls:
            return index
    return len(messages)


def worth_compacting(messages: Sequence[Message], keep_latest: bool = True) -> bool:
    """Whether what compaction would summarise holds more than user messages (the task, an
    earlier summary): when the window is full of the system prompt and the latest exchange,
    summarising again would only lose detail, step after step."""
    older = messages[1 : _latest_exchange(messages) if keep_latest else len(messages)]
    return any(m.role != "user" for m in older)


def transcript(messages: Sequence[Message]) -> str:
    lines = []
    for m in messages:
        calls = "".join(f"\n  -> {c.name}({c.raw_arguments[:300]})" for c in m.tool_calls)
        lines.append(f"[{m.role}] {truncate_text(m.content, 3000)}{calls}")
    return "\n".join(lines)


def compact(
    messages: list[Message],
    kept: Kept,
    model: Model,
    retry: RetryPolicy,
    keep_latest: bool = True,
) -> tuple[list[Message], Usage]:
    """The compacted conversation: the system prompt, one message holding what is kept, and
    the latest exchange word for word.

    It runs before a model call, when no tool call waits for its result. Inside a turn (a
    long headless run is one turn) the last assistant message with tool calls and their
    results stay as they are, so the model sees what it just did; the rest goes into the
    summary. With `keep_latest` off (the request is over the window even so), that exchange
    goes into the summary too.
    """
    cut = _latest_exchange(messages) if keep_latest else len(messages)
    older = messages[1:cut]
    if not older:
        return messages, Usage()
    request = [Message("system", SUMMARY_PROMPT), Message("user", transcript(older))]
    try:
        response = call_with_retries(lambda: model.complete(request, []), retry)
        summary, usage = response.message.content.strip(), response.usage
    except ModelError as exc:
        summary, usage = f"(no summary: the model could not write one: {exc})", Usage()
    plan = "\n".join(f"- [{s['status']}] {s['step']}" for s in kept.plan) or "(none)"
    files = ", ".join(kept.files_touched) or "(none)"
    parts = [
        "[acb] The conversation so far was compacted to fit the context window.",
        f"The task, as the user first stated it:\n{kept.task}",
        f"Current plan:\n{plan}",
        f"Files touched so far: {files}",
        f"Last test run:\n{kept.last_test}" if kept.last_test else "Last test run: (none yet)",
        f"Summary of the earlier conversation:\n{summary}",
    ]
    return [messages[0], Message("user", "\n\n".join(parts)), *messages[cut:]], usage
