"""What a reply without a tool call means when nobody is there to answer.

In a conversation, a question or "Now I'll run the tests." ends the turn and the person
replies. In `acb exec` nobody replies: taking such a reply as the end of the task would commit
a change that was never verified. The loop nudges the model once to go on; a second such reply
ends the run as `needs_input`, without a commit (see `Agent._loop`).
"""

from __future__ import annotations

import re

_INTENT = re.compile(
    r"\b(?:i(?:'ll| will| am going to|'m going to)|let me|let's|next,? i|now,? i|"
    r"i need to|i should|i'd like to|going to)\b",
    re.IGNORECASE,
)
_ASKS = re.compile(
    r"\b(?:should i|shall i|do you want|would you like|can you|could you|please confirm|"
    r"let me know|which (?:one|option)|what would you)\b",
    re.IGNORECASE,
)
_DONE = re.compile(
    r"\b(?:done|completed|finished|implemented|fixed|added|updated|changed|all tests pass|"
    r"tests pass|verified)\b",
    re.IGNORECASE,
)

NUDGE = (
    "[acb: this is a headless run: nobody can answer questions or confirm plans. Do not ask; "
    "choose the most reasonable option yourself and carry on with your tools. Reply without "
    "a tool call only when the task is done and verified, or when it truly cannot be done "
    "(then say why).]"
)
EMPTY_NUDGE = (
    "[acb: your reply was empty. Continue with the task using your tools, or reply with what "
    "you did and how you verified it if you are done.]"
)
CUT_NUDGE = (
    "[acb: your reply was cut off at the output token limit. Continue where you stopped; keep "
    "replies and patches shorter (several smaller apply_patch calls instead of one large one).]"
)


def awaits_answer(text: str) -> str | None:
    """'question' or 'announcement' when `text` waits for someone (asks, or says what it is
    about to do without doing it); None when it reads as a final report."""
    last = _last_sentences(text)
    if not last:
        return None
    # A report of work done that ends "Should I also ...?" or "Let me know ..." is a report:
    # the task is over, the extra can wait for a person.
    if (last.rstrip().endswith("?") or _ASKS.search(last)) and not _DONE.search(text):
        return "question"
    if _INTENT.search(last) and not _DONE.search(last):
        return "announcement"
    return None


def _last_sentences(text: str, count: int = 2) -> str:
    """The closing sentences, where a reply asks or announces (a report that says what it
    will not do in its middle is still a report)."""
    stripped = text.strip()
    if not stripped:
        return ""
    sentences = re.split(r"(?<=[.!?])\s+", stripped)
    return " ".join(sentences[-count:])


_WRITTEN_CALL = re.compile(
    r"^\*\*\* Begin Patch|<tool_call>|<function[=_ ]|\bfunctions\.(\w+)|"
    r'\{\s*"(?:name|tool)"\s*:\s*"(\w+)"\s*,\s*"(?:arguments|parameters|input)"',
    re.MULTILINE,
)


def written_call(text: str, tools: tuple[str, ...]) -> str | None:
    """What in `text` is a tool call or patch written out instead of made (small local models
    do this, and so do models whose chat template has no tool syntax): acb acts only on calls
    made through the API, so it would be silently ignored."""
    for match in _WRITTEN_CALL.finditer(text):
        named = match.group(1) or match.group(2)
        if named is None or named in tools:
            return match.group(0).strip()[:60]
    return None


def written_call_nudge(shown: str) -> str:
    return (
        f"[acb: your reply has a tool call written as text ({shown!r}). Nothing was run or "
        "changed: acb acts only on tool calls made with the tool-calling interface. Make the "
        "call that way (apply_patch for edits), or, if the task is done, reply with a report "
        "and no call.]"
    )
