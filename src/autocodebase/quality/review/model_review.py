"""The model's review, in two passes. The first asks for concrete findings on the compressed
diff (bug, security, performance, test gap) with file:line, severity and a fix. The second
shows the model its own findings and asks it to score each 0-10 for being real and worth a
reviewer's time; weak ones are dropped. A reviewer is judged on precision: on a clean change it
should say nothing, so anything that does not point at a line the model was shown is dropped
too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from autocodebase.models.base import Message, Model, Response, Usage
from autocodebase.models.retry import RetryPolicy, call_with_retries
from autocodebase.quality.model_text import json_values
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
    proposals = _items(first.message.content, "findings", "file")
    result.proposed = len(proposals)
    located = []
    for item in proposals:
        why = _invalid(item, diff)
        if why:
            result.dropped.append((item, why))
        else:
            located.append(item)
    if not located:
        return result
    second = ask(SCORE_SYSTEM, _score_prompt(diff, located))
    result.usage = result.usage + second.usage
    scores = _scores(_items(second.message.content, "scores", "score"), len(located))
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
    """Why a proposal cannot be placed on the change ('' when it can); normalises the
    spellings models use for its file, line and category in place first."""
    _normalise(item, diff)
    if not isinstance(item.get("file"), str) or not isinstance(item.get("line"), int):
        return "no file and line"
    if str(item.get("category", "")) not in CATEGORIES:
        return f"category {item.get('category')!r} is not one asked for"
    if item["line"] not in diff.new_lines.get(item["file"], set()):
        return "points at a line the change does not show"
    return ""


_ALIASES = {
    "file": ("file", "path", "filename", "file_path", "filepath"),
    "line": ("line", "line_number", "lineno", "start_line", "line_start"),
    "category": ("category", "type", "kind"),
    "message": ("message", "description", "issue", "problem"),
    "fix": ("fix", "suggestion", "recommendation", "suggested_fix"),
}
_CATEGORY_SPELLINGS = {"test gap": "test-gap", "test_gap": "test-gap", "testgap": "test-gap"}
_SEVERITY_SPELLINGS = {"critical": "high", "blocker": "high", "major": "high", "minor": "low"}
_LINE = re.compile(r"^\s*L?(\d+)(?:\s*[-–:,]\s*L?\d+)?\s*$", re.I)
_FILE_AND_LINE = re.compile(r"^(.+?):(\d+)(?::\d+)?$")


def _normalise(item: dict[str, Any], diff: CompressedDiff) -> None:
    """Real models name a field `path` or `line_number`, write the line as "12", "L12" or
    "12-14", the file as git prints it (`b/users.py`, `./users.py`, `users.py:12`) or by its
    bare name, and the category in their own case. Each is put in the one spelling the checks
    read, so a real finding is not dropped for how it was written."""
    for name, aliases in _ALIASES.items():
        if item.get(name) is None:
            found = next((item[a] for a in aliases if item.get(a) is not None), None)
            if found is not None:
                item[name] = found
    file, line = item.get("file"), item.get("line")
    if isinstance(file, str):
        file = file.strip().strip("`").replace("\\", "/")
        joined = _FILE_AND_LINE.match(file)
        if joined and file not in diff.new_lines:
            file = joined.group(1)
            line = joined.group(2) if line is None else line
        item["file"] = _placed_file(file, diff)
    if isinstance(line, float) and line.is_integer():
        line = int(line)
    elif isinstance(line, str) and (number := _LINE.match(line)):
        line = int(number.group(1))
    item["line"] = None if isinstance(line, bool) else line
    category = item.get("category")
    if isinstance(category, str):
        category = category.strip().lower()
        item["category"] = _CATEGORY_SPELLINGS.get(category, category)
    severity = item.get("severity")
    if isinstance(severity, str):
        severity = severity.strip().lower()
        item["severity"] = _SEVERITY_SPELLINGS.get(severity, severity)


def _placed_file(file: str, diff: CompressedDiff) -> str:
    """The changed file a model's path means: git's `a/`/`b/` and `./` prefixes and a leading
    `/` removed; a bare name or a path's tail matched when exactly one changed file ends so."""
    shown = diff.new_lines
    if file in shown:
        return file
    stripped = file
    while True:
        for prefix in ("a/", "b/", "./", "/"):
            if stripped.startswith(prefix) and stripped[len(prefix) :]:
                stripped = stripped[len(prefix) :]
                break
        else:
            break
        if stripped in shown:
            return stripped
    ends = [
        path for path in shown if path.endswith("/" + stripped) or stripped.endswith("/" + path)
    ]
    return ends[0] if len(ends) == 1 else stripped


_SCORE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*(\d+(?:\.\d+)?))?")
_ID = re.compile(r"^\s*#?\s*(\d+)\s*\.?\s*$")


def _number(value: object, pattern: re.Pattern[str]) -> re.Match[str] | None:
    return pattern.match(value) if isinstance(value, str) else None


def _score(value: object) -> float | None:
    """8, 8.5, "8", "8/10" or "80/100" as a score out of 10; None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    found = _number(value, _SCORE)
    if found is None:
        return None
    score = float(found.group(1))
    scale = float(found.group(2)) if found.group(2) else 10.0
    return score * 10 / scale if scale else None


def _scores(items: list[dict[str, Any]], count: int) -> dict[int, tuple[float, str]]:
    """Each finding's score by its number. Ids may be written "1" or "#1"; a list of scores
    without ids, one per finding, is read in order."""
    scores: dict[int, tuple[float, str]] = {}
    unnumbered: list[tuple[float, str]] = []
    for entry in items:
        score = _score(
            next((entry[k] for k in ("score", "rating", "confidence") if k in entry), None)
        )
        if score is None:
            continue
        why = str(entry.get("why", entry.get("reason", "")))
        raw = next((entry[k] for k in ("id", "finding", "index", "number") if k in entry), None)
        number: int | None = None
        if isinstance(raw, int) and not isinstance(raw, bool):
            number = raw
        elif (found := _number(raw, _ID)) is not None:
            number = int(found.group(1))
        if number is None:
            unnumbered.append((score, why))
        else:
            scores.setdefault(number, (score, why))
    if not scores and len(unnumbered) == count:
        scores = dict(enumerate(unnumbered, start=1))
    return scores


def _items(text: str, key: str, marker: str) -> list[dict[str, Any]]:
    """The list under `key` in the model's JSON answer; [] when there is none: an unreadable
    answer is no finding, not a crash. The JSON may follow a `<think>` block, sit in a fence
    or in prose, be the list itself, an object with the list under `key` (in any case) or
    under its only list, or a single item (an object with `marker`)."""
    for data in json_values(text):
        items: object = None
        if isinstance(data, list):
            items = data
        elif isinstance(data, dict):
            lowered = {str(k).lower(): v for k, v in data.items()}
            lists = [v for v in data.values() if isinstance(v, list)]
            if isinstance(lowered.get(key), list):
                items = lowered[key]
            elif marker in lowered:
                items = [data]
            elif len(lists) == 1:
                items = lists[0]
        if isinstance(items, list) and all(isinstance(i, dict | str) for i in items):
            # A finding written as a sentence cannot be placed; it is kept to be dropped and
            # counted with that reason rather than vanish.
            return [i if isinstance(i, dict) else {"message": i} for i in items]
    return []
