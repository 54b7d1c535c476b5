"""The model's review, in two passes. The first asks for concrete findings on the compressed
diff (bug, security, performance, test gap) with file:line, severity and a fix. The second
shows the model its own findings and asks it to score each 0-10 for being real and worth a
reviewer's time; weak ones are dropped. A reviewer is judged on precision: on a clean change it
should say nothing, so anything that does not point at a line the model was shown is dropped
too.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from autocodebase.models.base import Message, Model, Response, Usage
from autocodebase.models.retry import RetryPolicy, call_with_retries
from autocodebase.quality.review.changes import ChangeSet, parse_patches, whole_file_patch
from autocodebase.quality.review.compress import CompressedDiff, compress
from autocodebase.quality.review.findings import RANK, Finding

CATEGORIES = ("bug", "security", "performance", "test-gap")
KEEP_SCORE = 7
"""Findings scored below this in the second pass are dropped (PR-Agent's suggestion scoring
keeps the strong ones the same way)."""

FIND_SYSTEM = """You review a code change before it is committed. Report only concrete problems
the change introduces: a bug, a security flaw, a real performance problem, or missing tests for
new behaviour. Do not comment on style, naming, formatting or taste, and do not praise. Point at
a numbered line of a __new hunk__ (an added "+" line where possible). If the change is fine,
return an empty list.

Answer with JSON only:
{"findings": [{"file": "path", "line": 12, "category": "bug|security|performance|test-gap",
"severity": "high|medium|low", "message": "what is wrong and why it matters",
"fix": "the concrete change to make"}]}"""

SCORE_SYSTEM = """You check another reviewer's findings on a code change. For each finding, score
0-10 how sure you are that it is a real problem the change introduces and worth a developer's
time: 0-3 wrong, speculative or style; 4-6 plausible but minor or unproven; 7-10 real and
important. Be strict: a false alarm costs trust.

Answer with JSON only: {"scores": [{"id": 1, "score": 8, "why": "short reason"}]}"""


@dataclass
class ModelReview:
    findings: list[Finding] = field(default_factory=list)
    proposed: int = 0
    """How many the first pass proposed before checks and scoring."""
    dropped: list[tuple[dict[str, Any], str]] = field(default_factory=list)
    """Each dropped proposal with why (off the diff, scored low, malformed)."""
    usage: Usage = field(default_factory=Usage)
    diff: CompressedDiff | None = None


def review_with_model(
    model: Model, changes: ChangeSet, budget: int = 6000, retry: RetryPolicy | None = None
) -> ModelReview:
    """Raises `ModelError` when the model cannot be reached after the retries."""

    def ask(system: str, prompt: str) -> Response:
        messages = [Message("system", system), Message("user", prompt)]
        if retry is None:
            return model.complete(messages, [])
        return call_with_retries(lambda: model.complete(messages, []), retry)

    patches = parse_patches(changes.diff)
    in_diff = {p.path for p in patches}
    for path in changes.files:
        if path not in in_diff and (changes.root / path).is_file():
            patches.append(
                whole_file_patch(path, (changes.root / path).read_text(errors="replace"))
            )
    result = ModelReview()
    diff = compress(patches, changes.root, budget)
    result.diff = diff
    if not diff.shown and not diff.summarised:
        return result
    first = ask(FIND_SYSTEM, _find_prompt(diff))
    result.usage = result.usage + first.usage
    proposals = _items(first.message.content, "findings")
    result.proposed = len(proposals)
    located = []
    for item in proposals:
        if isinstance(item.get("line"), str) and item["line"].strip().isdigit():
            item["line"] = int(item["line"])  # "12" is a line number too
        why = _invalid(item, diff)
        if why:
            result.dropped.append((item, why))
        else:
            located.append(item)
    if not located:
        return result
    second = ask(SCORE_SYSTEM, _score_prompt(diff, located))
    result.usage = result.usage + second.usage
    scores = {
        int(s["id"]): (float(s.get("score", 0)), str(s.get("why", "")))
        for s in _items(second.message.content, "scores")
        if isinstance(s.get("id"), int) and isinstance(s.get("score"), int | float)
    }
    for number, item in enumerate(located, start=1):
        score, why = scores.get(number, (0.0, "not scored"))
        if score < KEEP_SCORE:
            result.dropped.append((item, f"scored {score:g}/10: {why}"))
            continue
        severity = str(item.get("severity", "medium")).lower()
        result.findings.append(
            Finding(
                tool="model",
                rule=str(item.get("category", "bug")),
                severity=severity if severity in RANK else "medium",  # type: ignore[arg-type]
                file=str(item["file"]),
                line=int(item["line"]),
                message=f"{item.get('message', '')} (scored {score:g}/10)",
                fix_hint=str(item.get("fix", "")),
            )
        )
    return result


def _find_prompt(diff: CompressedDiff) -> str:
    return (
        'The change, compressed: each hunk shows new lines numbered ("+" = added), '
        "then the removed lines.\n\n" + diff.text
    )


def _score_prompt(diff: CompressedDiff, located: list[dict[str, Any]]) -> str:
    listed = "\n".join(
        f"{n}. {i['file']}:{i['line']} [{i.get('category', '?')}, {i.get('severity', '?')}] "
        f"{i.get('message', '')} (fix: {i.get('fix', '')})"
        for n, i in enumerate(located, start=1)
    )
    return f"The change:\n\n{diff.text}\n\nThe findings to score:\n{listed}"


def _invalid(item: dict[str, Any], diff: CompressedDiff) -> str:
    if not isinstance(item.get("file"), str) or not isinstance(item.get("line"), int):
        return "no file and line"
    if str(item.get("category", "")) not in CATEGORIES:
        return f"category {item.get('category')!r} is not one asked for"
    if item["line"] not in diff.new_lines.get(item["file"], set()):
        return "points at a line the change does not show"
    return ""


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


def _items(text: str, key: str) -> list[dict[str, Any]]:
    """The list under `key` in the model's JSON answer (fenced or bare); [] when there is none:
    an unreadable answer is no finding, not a crash."""
    for candidate in [*_FENCE.findall(text), text, text[text.find("{") : text.rfind("}") + 1]]:
        try:
            data = json.loads(candidate)
        except (json.JSONDecodeError, ValueError):
            continue
        items = data.get(key) if isinstance(data, dict) else data
        if isinstance(items, list):
            return [i for i in items if isinstance(i, dict)]
    return []
