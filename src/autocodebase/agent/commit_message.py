"""Commit messages written by the model from the run's diff, with acb's provenance trailers.

The model is asked for a conventional subject and a body saying why; if it cannot answer (a
provider fault, a cassette that ends earlier), a plain message built from the task is used and
the run says so. Trailers are always added by acb, never taken from the model, and acb never adds
Signed-off-by: signing off is the human's act.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from autocodebase.models.base import Message, Model, ModelError, Usage
from autocodebase.models.retry import RetryPolicy, call_with_retries
from autocodebase.output import truncate_text

SYSTEM = """\
You write git commit messages. Reply with the message only, no code fences:
a subject line of at most 72 characters in Conventional Commits form (type(scope): summary,
imperative mood), a blank line, then a short body (wrapped at 72) that says why the change was
made and anything a reviewer should know. Do not add trailers or Signed-off-by lines."""
MAX_DIFF_CHARS = 12_000
TRAILER = re.compile(r"^(signed-off-by|co-authored-by|assisted-by|acb-run|acb-verified):", re.I)


VERIFIED_TRAILER_CHARS = 200
"""A trailer is one line: the verification's detail is cut to this, the ledger keeps it whole."""


def trailers(model: str, run_id: str, verified: str | None = None) -> str:
    """`Assisted-by`, `Acb-Run` and, when known, `Acb-Verified: verified (whole suite: ...)`."""
    lines = [f"Assisted-by: acb:{model}", f"Acb-Run: {run_id}"]
    if verified:
        one_line = " ".join(verified.split())
        if len(one_line) > VERIFIED_TRAILER_CHARS:
            one_line = one_line[: VERIFIED_TRAILER_CHARS - 1].rstrip() + "…"
        lines.append(f"Acb-Verified: {one_line}")
    return "\n".join(lines)


def tidy(text: str) -> str:
    """The model's message without fences or trailers, with a subject of at most 72 chars."""
    lines = [line.rstrip() for line in text.strip().strip("`").splitlines()]
    lines = [line for line in lines if not TRAILER.match(line) and not line.startswith("```")]
    while lines and not lines[0]:
        lines.pop(0)
    if not lines:
        return ""
    subject = lines[0]
    if len(subject) > 72:
        subject = subject[:71].rstrip() + "…"
    body = "\n".join(lines[1:]).strip()
    return subject + ("\n\n" + body if body else "")


def fallback_message(task: str, paths: Sequence[str]) -> str:
    summary = " ".join(task.split())
    subject = f"chore: {summary}" if len(summary) <= 64 else f"chore: {summary[:62].rstrip()}…"
    listed = "\n".join(f"- {p}" for p in paths[:20])
    return f"{subject}\n\nChanged by an acb run for the task above:\n{listed}"


def write_commit_message(
    model: Model, retry: RetryPolicy, task: str, diff: str, paths: Sequence[str]
) -> tuple[str, str, Usage]:
    """(message without trailers, 'model' or 'fallback: why', usage of the call)."""
    prompt = [
        Message("system", SYSTEM),
        Message("user", f"Task:\n{task}\n\nDiff:\n{truncate_text(diff, MAX_DIFF_CHARS)}"),
    ]
    try:
        response = call_with_retries(lambda: model.complete(prompt, []), retry)
    except ModelError as exc:
        return fallback_message(task, paths), f"fallback: {exc}", Usage()
    message = tidy(response.message.content)
    if not message:
        return (
            fallback_message(task, paths),
            "fallback: the model's reply was empty",
            response.usage,
        )
    return message, "model", response.usage
