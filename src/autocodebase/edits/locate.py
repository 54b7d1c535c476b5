"""Find where a hunk's old lines sit in a file, with graded fallbacks and no guessing.

Grades, tried in order: exact, ignoring trailing whitespace, ignoring all surrounding whitespace.
A grade that matches in more than one place is refused, never resolved by picking the first: the
model is told where the candidates are and asked for more context or an `@@` anchor.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence

from autocodebase.edits.model import Hunk, PatchError

Normalizer = Callable[[str], str]
GRADES: tuple[tuple[str, Normalizer], ...] = (
    ("exact", lambda s: s),
    ("trailing-whitespace", str.rstrip),
    ("indentation", str.strip),
)


def _positions(
    lines: Sequence[str], old: Sequence[str], start: int, norm: Normalizer, at_eof: bool
) -> list[int]:
    wanted = [norm(line) for line in old]
    size = len(wanted)
    if at_eof:
        candidates = [len(lines) - size] if len(lines) - size >= start else []
    else:
        candidates = list(range(start, len(lines) - size + 1))
    return [i for i in candidates if [norm(x) for x in lines[i : i + size]] == wanted]


def find_anchor(lines: Sequence[str], anchor: str, start: int, path: str) -> int:
    """Index of the line just after the anchor (e.g. `def bar():`) at or after `start`."""
    target = anchor.strip()
    exact = [i for i in range(start, len(lines)) if lines[i].strip() == target]
    loose = exact or [i for i in range(start, len(lines)) if target in lines[i]]
    if not loose:
        raise PatchError(f"{path}: anchor '@@ {target}' was not found")
    if len(loose) > 1:
        where = ", ".join(str(i + 1) for i in loose[:10])
        raise PatchError(f"{path}: anchor '@@ {target}' matches lines {where}; make it unique")
    return loose[0] + 1


def closest_region(lines: Sequence[str], old: Sequence[str], start: int) -> str:
    """The stretch of the file most like `old`, with line numbers, to help the model retry."""
    if not old or not lines:
        return ""
    first = old[0].strip()
    best, best_score = start, -1.0
    for i in range(start, len(lines)):
        score = difflib.SequenceMatcher(None, lines[i].strip(), first).ratio()
        if score > best_score:
            best, best_score = i, score
    low, high = max(best - 2, 0), min(best + len(old) + 2, len(lines))
    return "\n".join(f"{n + 1:>5} | {lines[n]}" for n in range(low, high))


def locate(lines: Sequence[str], hunk: Hunk, start: int, path: str) -> tuple[int, str]:
    """(index, grade) of the unique place the hunk's old lines match, searching from `start`."""
    if hunk.anchor:
        start = find_anchor(lines, hunk.anchor, start, path)
    if not hunk.old:
        return (len(lines) if hunk.at_eof or not hunk.anchor else start), "insert"
    for grade, norm in GRADES:
        found = _positions(lines, hunk.old, start, norm, hunk.at_eof)
        if len(found) == 1:
            return found[0], grade
        if len(found) > 1:
            where = ", ".join(str(i + 1) for i in found[:10])
            raise PatchError(
                f"{path}: the hunk's context matches {len(found)} places (lines {where}); "
                "add surrounding lines or an '@@ def/class ...' anchor so it matches one"
            )
    missing = [line for line in hunk.old if line.strip() not in {x.strip() for x in lines}]
    detail = f" These lines are not in the file: {missing[:5]!r}." if missing else ""
    region = closest_region(lines, hunk.old, start)
    raise PatchError(
        f"{path}: could not find the hunk's context/removed lines.{detail}"
        + (f"\nClosest region of the file:\n{region}" if region else "")
        + "\nRead the file again and resend the patch with lines copied exactly."
    )


def reindent(new: Sequence[str], old_first: str, file_first: str) -> list[str]:
    """Shift `new` from the patch's indentation to the file's, when only indentation differed."""
    patch_indent = old_first[: len(old_first) - len(old_first.lstrip())]
    file_indent = file_first[: len(file_first) - len(file_first.lstrip())]
    if patch_indent == file_indent:
        return list(new)
    return [
        file_indent + line[len(patch_indent) :] if line.startswith(patch_indent) else line
        for line in new
    ]
