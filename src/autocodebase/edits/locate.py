"""Find the one place a hunk was meant for, with graded fallbacks, and never guess.

Order of trial: exact, then ignoring trailing whitespace, indentation, typographic punctuation;
then, for hunks that elide code (`...`, `# ... existing code ...`), each written piece in turn;
then, for stale context, a match where every removed line is found and only a few context lines
differ. The first grade that matches anywhere decides: one match applies, several are refused
with their line numbers. Context lines are re-emitted as the file has them, so a lenient match
never rewrites lines the model only quoted for orientation.

`@@` anchors are read as git writes hunk headers: the nearest definition above the hunk, as it
was before the patch. So successive hunks inside one definition repeat it (the occurrence the
previous hunk ended in is searched too), an earlier hunk may have rewritten it, and a hunk may
lie past the end of its block. Anchors narrow the search; ambiguity is refused as everywhere else.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from autocodebase.edits.model import Hunk, PatchError
from autocodebase.edits.normalize import (
    GRADES,
    LENIENT,
    PUNCTUATION,
    Normalizer,
    leading_whitespace,
)

ELISION = re.compile(
    r"^\s*(?:(?:#|//|/\*|<!--|--)\s*)?(?:\.\.\.|…)(?:.*(?:\.\.\.|…))?\s*(?:\*/|-->)?\s*$"
)
STALE_CONTEXT_SHARE = 3
"""At most one context line in this many may differ from the file in the stale-context grade."""


@dataclass(frozen=True)
class Match:
    start: int
    length: int
    replacement: list[str]
    grade: str


class _Lines:
    """A file's lines with per-normaliser caches, so each grade normalises the file once."""

    def __init__(self, lines: Sequence[str]):
        self.raw = list(lines)
        self._cache: dict[Normalizer, list[str]] = {}

    def norm(self, normalizer: Normalizer) -> list[str]:
        if normalizer not in self._cache:
            self._cache[normalizer] = [normalizer(line) for line in self.raw]
        return self._cache[normalizer]


def is_elision(line: str) -> bool:
    return bool(ELISION.match(line))


def _find(
    file: _Lines, old: Sequence[str], normalizer: Normalizer, start: int, at_eof: bool
) -> list[int]:
    lines = file.norm(normalizer)
    wanted = [normalizer(line) for line in old]
    size = len(wanted)
    if at_eof:
        first = len(lines) - size
        return [first] if first >= start and lines[first:] == wanted else []
    return [
        i
        for i in range(start, len(lines) - size + 1)
        if lines[i] == wanted[0] and lines[i : i + size] == wanted
    ]


def _block_end(lines: Sequence[str], anchor: int) -> int:
    """End (exclusive) of the indented block an anchor line opens, e.g. a def's body."""
    depth = len(leading_whitespace(lines[anchor]).expandtabs(4))
    index = anchor + 1
    while index < len(lines):
        line = lines[index]
        if line.strip() and len(leading_whitespace(line).expandtabs(4)) <= depth:
            return index + 1 if line.strip()[0] in ")]}" else index
        index += 1
    return index


def _anchor_hits(lines: Sequence[str], anchor: str, begin: int, end: int) -> list[int]:
    wanted = LENIENT(anchor)
    hits = [i for i in range(begin, end) if lines[i] == wanted]
    return hits or [i for i in range(begin, end) if wanted and wanted in lines[i]]


def _anchors_present(file: _Lines, anchors: Sequence[str]) -> bool:
    lines = file.norm(LENIENT)
    return all(_anchor_hits(lines, anchor, 0, len(lines)) for anchor in anchors)


def _from_cursor(hits: list[int], start: int) -> list[int]:
    """The occurrences at or after `start`, and the last one before it: a hunk that follows
    another inside the same definition repeats that definition's header (git does)."""
    before = [h for h in hits if h < start]
    return before[-1:] + [h for h in hits if h >= start]


def _anchor_regions(
    file: _Lines, anchors: Sequence[str], start: int, path: str
) -> list[tuple[int, int]]:
    """Regions [begin, end) inside the blocks the anchors name, nested anchor by anchor, from
    the occurrence governing `start` on."""
    lines = file.norm(LENIENT)
    regions = [(0, len(lines))]
    for anchor in anchors:
        hits: list[int] = []
        for begin, end in regions:
            hits += _from_cursor(_anchor_hits(lines, anchor, begin, end), start)
        if not hits:
            raise PatchError(f"{path}: the anchor '@@ {anchor.strip()}' was not found")
        regions = [(i, _block_end(file.raw, i)) for i in hits]
    return regions


def _within_anchors(positions: list[int], regions: list[tuple[int, int]]) -> list[int]:
    inside = [p for p in positions if any(begin <= p <= end for begin, end in regions)]
    if inside:
        return inside
    # Codex's reading of an anchor: the hunk comes somewhere after it.
    first = min(begin for begin, _ in regions)
    return [p for p in positions if p > first]


def _reindent(text: str, patch_indent: str, file_indent: str) -> str:
    if patch_indent == file_indent or not text.strip():
        return text
    lead = leading_whitespace(text)
    if lead.startswith(patch_indent):
        return file_indent + text[len(patch_indent) :]
    width = (
        len(lead.expandtabs(4)) + len(file_indent.expandtabs(4)) - len(patch_indent.expandtabs(4))
    )
    unit = "\t" if file_indent.startswith("\t") else " "
    return (unit * (max(width, 0) // (4 if unit == "\t" else 1))) + text.lstrip()


def _replacement(file: _Lines, hunk: Hunk, start: int, grade: str) -> list[str]:
    """The new lines: context as the file has it, additions re-indented when indentation drifted.

    Each added line takes its indentation shift from the nearest quoted line above it (below,
    for additions at the top), so a hunk whose own indentation is inconsistent still lands
    consistently with the file.
    """
    matched = file.raw[start : start + len(hunk.old)]
    shifts: list[tuple[str, str] | None] = []  # per hunk line: (patch indent, file indent)
    index = 0
    for op, text in hunk.lines:
        if op == "+":
            shifts.append(None)
            continue
        original = matched[index]
        index += 1
        usable = (
            grade not in ("exact", "trailing-whitespace")
            and text.strip()
            and LENIENT(text) == LENIENT(original)  # a stale line says nothing about indentation
        )
        shifts.append((leading_whitespace(text), leading_whitespace(original)) if usable else None)
    retyped = {_retype_key(line): line for line in matched} if grade != "exact" else {}
    out: list[str] = []
    index = 0
    for position, (op, text) in enumerate(hunk.lines):
        if op == " ":
            out.append(matched[index])
            index += 1
        elif op == "-":
            index += 1
        else:
            above = (s for s in reversed(shifts[:position]) if s is not None)
            below = (s for s in shifts[position:] if s is not None)
            patch_indent, file_indent = next(above, None) or next(below, None) or ("", "")
            added = _reindent(text, patch_indent, file_indent)
            # When the model's copy was inexact, an added line that only re-types a quoted one
            # (same indentation, other trailing space or quote style) is the file's line.
            out.append(retyped.get(_retype_key(added), added))
    return out


def _retype_key(line: str) -> str:
    return line.rstrip().translate(PUNCTUATION)


def _ambiguous(path: str, positions: list[int], grade: str) -> PatchError:
    where = ", ".join(str(p + 1) for p in positions[:10])
    more = f" and {len(positions) - 10} more" if len(positions) > 10 else ""
    leniency = "" if grade == "exact" else f" (compared {grade.replace('-', ' ')}-insensitively)"
    return PatchError(
        f"{path}: the hunk matches {len(positions)} places{leniency}, at lines {where}{more}; "
        "add surrounding lines or an '@@ def/class ...' anchor so that it matches only one"
    )


def _candidates(file: _Lines, hunk: Hunk, start: int, path: str) -> tuple[list[int], str]:
    """Positions at the strictest grade that matches anywhere (none: an empty list).

    No occurrence of an anchor is preferred to another, not even the one the previous hunk
    ended in: two definitions with the same `def` line and the same lines (sympy's
    `Union.__new__` and `Intersection.__new__`) are told apart only by line numbers, which a
    Codex patch does not carry, so a hunk that fits under both is refused, not guessed at.
    """
    regions = _anchor_regions(file, hunk.anchors, start, path) if hunk.anchors else None
    for grade, normalizer in GRADES:
        positions = _find(file, hunk.old, normalizer, start, hunk.at_eof)
        if regions is not None:
            positions = _within_anchors(positions, regions)
        if positions:
            return positions, grade
    return [], ""


def _graded(file: _Lines, hunk: Hunk, start: int, path: str) -> Match | None:
    positions, grade = _candidates(file, hunk, start, path)
    if len(positions) > 1:
        raise _ambiguous(path, positions, grade)
    if not positions:
        return None
    return Match(positions[0], len(hunk.old), _replacement(file, hunk, positions[0], grade), grade)


def _split_at_elisions(hunk: Hunk) -> list[Hunk] | None:
    pieces: list[list[tuple[str, str]]] = [[]]
    for op, text in hunk.lines:
        if is_elision(text):
            if op != " ":
                return None  # removing or adding "..." says nothing about which lines are meant
            pieces.append([])
        else:
            pieces[-1].append((op, text))
    if len(pieces) < 2:
        return None
    return [Hunk(tuple(p), hunk.anchors, False) for p in pieces if p]  # type: ignore[arg-type]


def _placements(
    pieces: list[Hunk], found: list[tuple[list[int], str]], limit: int = 2
) -> list[tuple[int, ...]]:
    """Ordered, non-overlapping placements of the pieces, told apart only by where the pieces
    that change something land (a context-only piece just has to fit somewhere in order)."""
    distinct: dict[tuple[int, ...], tuple[int, ...]] = {}

    def walk(index: int, after: int, chosen: tuple[int, ...]) -> None:
        if len(distinct) >= limit:
            return
        if index == len(pieces):
            key = tuple(p for p, piece in zip(chosen, pieces, strict=True) if piece.changes)
            distinct.setdefault(key, chosen)
            return
        fitting = [p for p in found[index][0] if p >= after]
        if not pieces[index].changes:
            fitting = fitting[:1]  # the earliest fit leaves the most room for what follows
        for position in fitting:
            walk(index + 1, position + len(pieces[index].old), (*chosen, position))

    walk(0, 0, ())
    return list(distinct.values())


def _elided(file: _Lines, hunk: Hunk, start: int, path: str) -> Match | None:
    """Locate the pieces between `...` markers in order; the elided lines stay as they are."""
    pieces = _split_at_elisions(hunk)
    if not pieces or any(not p.old for p in pieces):
        return None
    found = [_candidates(file, piece, start, path) for piece in pieces]
    if any(not positions for positions, _ in found):
        return None
    placements = _placements(pieces, found)
    if not placements:
        return None
    if len(placements) > 1:
        first_changing = next(i for i, p in enumerate(pieces) if p.changes)
        raise _ambiguous(path, sorted({pl[first_changing] for pl in placements}), "elision")
    placement = placements[0]
    replacement: list[str] = []
    for index, (piece, position) in enumerate(zip(pieces, placement, strict=True)):
        replacement += _replacement(file, piece, position, found[index][1])
        if index + 1 < len(pieces):
            replacement += file.raw[position + len(piece.old) : placement[index + 1]]
    length = placement[-1] + len(pieces[-1].old) - placement[0]
    return Match(placement[0], length, replacement, "elision")


def _stale_context(file: _Lines, hunk: Hunk, start: int) -> tuple[Match | None, list[int]]:
    """Every removed line found, a few context lines differing: the file changed under the model."""
    context = [i for i, (op, _) in enumerate(x for x in hunk.lines if x[0] != "+") if op == " "]
    allowed = len(context) // STALE_CONTEXT_SHARE
    old = [LENIENT(line) for line in hunk.old]
    if allowed == 0 or len(old) - allowed < 2:
        return None, []
    lines = file.norm(LENIENT)
    context_set = set(context)
    positions = []
    for begin in range(start, len(lines) - len(old) + 1):
        misses = 0
        for offset, wanted in enumerate(old):
            if lines[begin + offset] != wanted:
                if offset not in context_set:
                    break
                misses += 1
                if misses > allowed:
                    break
        else:
            if sum(1 for o, w in enumerate(old) if w and lines[begin + o] == w) >= 2:
                positions.append(begin)
    if len(positions) != 1:
        return None, positions
    return Match(
        positions[0],
        len(old),
        _replacement(file, hunk, positions[0], "stale-context"),
        "stale-context",
    ), positions


def closest_region(lines: Sequence[str], old: Sequence[str]) -> str:
    """The stretch of the file most like `old`, with line numbers, to help the model retry."""
    if not old or not lines:
        return ""
    first = LENIENT(old[0])
    scored = sorted(
        range(len(lines)),
        key=lambda i: -difflib.SequenceMatcher(None, LENIENT(lines[i]), first).ratio(),
    )[:25]
    target = "\n".join(LENIENT(line) for line in old)

    def window_score(i: int) -> float:
        window = "\n".join(LENIENT(line) for line in lines[i : i + len(old)])
        return difflib.SequenceMatcher(None, window, target).ratio()

    best = max(scored, key=window_score)
    low, high = max(best - 2, 0), min(best + len(old) + 2, len(lines))
    return "\n".join(f"{n + 1:>5} | {lines[n]}" for n in range(low, high))


def _not_found(lines: Sequence[str], hunk: Hunk, path: str) -> PatchError:
    present = {LENIENT(line) for line in lines}
    missing = [line for line in hunk.old if LENIENT(line) not in present and not is_elision(line)]
    detail = (
        f" These lines are not in the file: {missing[:5]!r}."
        if missing
        else " Each line exists, but not in this order (or not after the previous hunk)."
    )
    region = closest_region(lines, hunk.old)
    return PatchError(
        f"{path}: could not find the lines this hunk removes or keeps as context.{detail}"
        + (f"\nClosest region of the file:\n{region}" if region else "")
        + "\nRead the file again and resend the patch with lines copied exactly."
    )


def locate(lines: Sequence[str], hunk: Hunk, cursor: int, path: str) -> Match:
    """Where `hunk` applies, searching from `cursor` first (for ordered hunks) then everywhere."""
    file = _Lines(lines)
    if hunk.anchors and cursor and not _anchors_present(file, hunk.anchors):
        # git's headers name the line as it was before the patch, which an earlier hunk of
        # the same patch may have rewritten (`def f(a)` -> `def f(b)`): locate the hunk
        # without the anchor, where it must still match exactly one place.
        hunk = Hunk(hunk.lines, (), hunk.at_eof)
    if not hunk.old:
        if hunk.anchors:
            # Pure additions under `@@ class Foo` go at the end of Foo's body: the Foo the
            # cursor is in, else the next one.
            regions = _anchor_regions(file, hunk.anchors, cursor, path)
            begin, end = next((r for r in regions if r[1] >= cursor), regions[0])
            while end > begin + 1 and not lines[end - 1].strip():
                end -= 1
            return Match(end, 0, hunk.new, "insert")
        return Match(len(lines), 0, hunk.new, "insert")
    starts = [cursor, 0] if cursor else [0]
    stale_candidates: list[int] = []
    for start in starts:
        for attempt in (_graded, _elided):
            match = attempt(file, hunk, start, path)
            if match is not None:
                return match
        match, stale_candidates = _stale_context(file, hunk, start)
        if match is not None:
            return match
    if len(stale_candidates) > 1:
        raise _ambiguous(path, stale_candidates, "stale-context")
    raise _not_found(lines, hunk, path)
