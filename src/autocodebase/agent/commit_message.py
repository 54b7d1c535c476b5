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
from autocodebase.quality.model_text import MAX_TEXT_CHARS, fences, strip_thinking

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


SUBJECT_CHARS = 72
MAX_BODY_CHARS = 4_000
"""A body longer than this is cut at a line: a model that writes a megabyte must not make
`git commit-tree` fail (its argument list has a limit) or bury the history."""

_LABEL = r"(?:commit(?:\s+message)?|subject(?:\s+line)?|title|summary|header)"
_SUBJECT_LABEL = re.compile(rf"^{_LABEL}\s*:\s*", re.I)
_HEADING = re.compile(rf"^(?:(?:suggested|proposed|git)\s+)?{_LABEL}$", re.I)
"""A heading such as "### Commit message" that names what follows."""
_BODY_LABEL = re.compile(r"^(?:body|description|details|commit body)\s*:\s*", re.I)
_PREAMBLE = re.compile(
    r"^(?:sure|certainly|okay|ok|of course|absolutely|great|alright|here(?:'s| is| are)"
    r"|below is|the following|i(?:'ve| have| will|'ll| would)|based on|this is|proposed"
    r"|suggested)\b",
    re.I,
)
_CHATTER = re.compile(
    r"^(?:let me know|i hope|hope this|feel free|would you like|do you want|if you(?:'d| would)"
    r"|you can (?:adjust|modify|tweak|change|edit)|this (?:commit )?message (?:follows|uses|"
    r"describes|summari[sz]es|captures|explains|is)|this follows|note: this (?:commit|message)"
    r"|happy to)",
    re.I,
)
_RULE = re.compile(r"^\s*(?:-{3,}|\*{3,}|_{3,})\s*$")


def _plain(line: str) -> str:
    """A line without the markdown a model puts around a heading or a subject."""
    line = re.sub(r"^\s*#{1,6}\s+", "", line).strip()
    for mark in ("**", "__", "*", "`", '"', "'"):
        if len(line) > 2 * len(mark) and line.startswith(mark) and line.endswith(mark):
            line = line[len(mark) : -len(mark)].strip()
    line = re.sub(r"^(\*\*|__)([^*_]+?:)\1\s*", r"\2 ", line).strip()  # **Subject:** x
    return line.replace("**", "")


def _is_preamble(plain: str) -> bool:
    """A line said to the user before the message: it ends in a colon ("Commit message:"), or
    opens like chat ("Sure!", "Here's ...") and ends a sentence or names the commit message.
    A subject such as "Commit message parsing: ..." is neither."""
    return plain.endswith(":") or bool(
        _PREAMBLE.match(plain) and (plain[-1] in ".!" or "commit message" in plain.lower())
    )


def _message_part(text: str) -> str:
    """The fenced message when the model fenced it after a preamble (the fence is the
    message, the prose around it is chatter); the whole text otherwise."""
    for fence in fences(text):
        before = [line for line in text[: fence.start].splitlines() if line.strip()]
        if fence.body.strip() and all(
            not _plain(line) or _is_preamble(_plain(line)) for line in before
        ):
            return fence.body
    return text


def _cut_subject(subject: str) -> str:
    """At most 72 characters, cut at a word where there is one in the last third."""
    if len(subject) <= SUBJECT_CHARS:
        return subject
    cut = subject[: SUBJECT_CHARS - 1]
    space = cut.rfind(" ")
    if space > SUBJECT_CHARS * 2 // 3:
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + "…"


def _cut_body(body: str) -> str:
    if len(body) <= MAX_BODY_CHARS:
        return body
    kept = body[:MAX_BODY_CHARS].rsplit("\n", 1)[0].rstrip()
    return kept + f"\n\n[message cut by acb: the model wrote {len(body)} characters of body]"


def _body_after_label(lines: list[str]) -> list[str]:
    """The body's lines, without a "Body:" label (bold or not) on its first line."""
    lines = list(lines)
    while lines and not lines[0].strip():
        lines.pop(0)
    if lines:
        first = _plain(lines[0])
        labelled = _BODY_LABEL.match(first)
        if labelled:
            rest = first[labelled.end() :].strip()
            lines = ([rest] if rest else []) + lines[1:]
    return lines


def _strip_chatter(body: str) -> str:
    """The body without the closing paragraphs a chat model adds for the user ("Let me know
    if you'd like changes!") or a rule before them; blank runs collapsed to one line."""
    paragraphs = [p.strip("\n") for p in re.split(r"\n\s*\n", body) if p.strip()]
    while paragraphs and (
        _CHATTER.match(_plain(paragraphs[-1].lstrip().splitlines()[0]))
        or _RULE.match(paragraphs[-1])
    ):
        paragraphs.pop()
    return "\n\n".join(paragraphs).strip()


def tidy(text: str) -> str:
    """The commit message in what the model wrote: without its reasoning (`<think>`), a
    preamble ("Here is the commit message:"), the fence around it, markdown and labels
    ("**Subject:**", "Body:") on the subject, closing chatter ("Let me know if ...") and any
    trailers (acb adds its own); a subject of at most 72 characters, a blank line, the body
    (capped). '' when nothing usable is left, so the caller falls back."""
    text = _message_part(strip_thinking(text[:MAX_TEXT_CHARS]))
    lines = [line.rstrip() for line in text.splitlines()]
    lines = [
        line
        for line in lines
        if not TRAILER.match(line.strip()) and not re.match(r"^\s*(```|~~~)", line)
    ]
    while lines:
        plain = _plain(lines[0])
        if not plain or _RULE.match(lines[0]):
            lines.pop(0)
            continue
        labelled = _SUBJECT_LABEL.match(plain)
        if labelled and plain[labelled.end() :].strip():
            lines[0] = plain[labelled.end() :]
            break
        if labelled or _is_preamble(plain) or _HEADING.match(plain):
            lines.pop(0)
            continue
        break
    if not lines:
        return ""
    subject = _plain(lines[0])
    if not re.search(r"\w", subject) or _CHATTER.match(subject):
        return ""
    body = _strip_chatter("\n".join(_body_after_label(lines[1:])))
    return _cut_subject(subject) + ("\n\n" + _cut_body(body) if body else "")


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
            "fallback: the model's reply held no message",
            response.usage,
        )
    return message, "model", response.usage
