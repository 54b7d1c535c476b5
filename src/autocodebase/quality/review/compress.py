"""A diff made to fit a model's budget, the way PR-Agent does it: each hunk with a little context
and the definition it sits in, new lines numbered so findings can point at them, removed lines
apart; files with the most added code first; what does not fit is summarised (hunk headers
only) or listed by name, and deleted files are listed, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from autocodebase.context.symbols import extract
from autocodebase.context.tokens import count_tokens
from autocodebase.quality.review.changes import FilePatch, ReviewHunk


@dataclass
class CompressedDiff:
    text: str
    tokens: int
    shown: list[str]
    summarised: list[str]
    omitted: list[str]
    deleted: list[str]
    new_lines: dict[str, set[int]]
    """Lines of each shown file the model saw numbered: findings must point at one of them."""


def compress(
    patches: list[FilePatch],
    root: Path,
    budget: int,
    count: Callable[[str], int] = count_tokens,
) -> CompressedDiff:
    deleted = [p.path for p in patches if p.deleted]
    live = sorted((p for p in patches if not p.deleted and p.hunks), key=lambda p: -p.added)
    for patch in live:
        _label_scopes(patch, root)
    footer_room = count("\n".join(p.path for p in patches)) + 60
    room = budget - footer_room
    rendered: dict[str, str] = {}
    shown: list[str] = []
    summarised: list[str] = []
    new_lines: dict[str, set[int]] = {}
    for patch in live:  # first every file that fits whole, biggest change first
        full = render_file(patch)
        cost = count(full)
        if cost <= room:
            rendered[patch.path], room = full, room - cost
            shown.append(patch.path)
            new_lines[patch.path] = {x.new for h in patch.hunks for x in h.diff.lines if x.new}
    for patch in live:  # then where the others changed, while there is room
        if patch.path in rendered:
            continue
        brief = render_summary(patch)
        cost = count(brief)
        if cost <= room:
            rendered[patch.path], room = brief, room - cost
            summarised.append(patch.path)
    parts = [rendered[p.path] for p in live if p.path in rendered]
    omitted = [p.path for p in live if p.path not in rendered]
    if omitted:
        parts.append("## Other modified files (not shown)\n" + "\n".join(omitted) + "\n")
    if deleted:
        parts.append("## Deleted files\n" + "\n".join(deleted) + "\n")
    text = "\n".join(parts)
    return CompressedDiff(text, count(text), shown, summarised, omitted, deleted, new_lines)


def render_file(patch: FilePatch) -> str:
    out = [f"## File: {patch.path}"]
    for hunk in patch.hunks:
        out.append(_header(hunk))
        new = [line for line in hunk.diff.lines if line.kind != "-"]
        old = [line.text for line in hunk.diff.lines if line.kind == "-"]
        if new:
            out.append("__new hunk__")
            out += [f"{x.new} {'+' if x.kind == '+' else ' '}{x.text}" for x in new]
        if old:
            out.append("__old hunk__")
            out += [f"-{text}" for text in old]
    return "\n".join(out) + "\n"


def render_summary(patch: FilePatch) -> str:
    """A file too big to show: where it changed and how much."""
    removed = sum(x.kind == "-" for h in patch.hunks for x in h.diff.lines)
    out = [f"## File: {patch.path} (summarised: +{patch.added} -{removed} lines)"]
    out += [_header(h) + f" +{h.added}" for h in patch.hunks]
    return "\n".join(out) + "\n"


def _header(hunk: ReviewHunk) -> str:
    numbers = [x.new for x in hunk.diff.lines if x.new]
    span = f"lines {numbers[0]}-{numbers[-1]}" if numbers else f"at line {hunk.diff.new_start}"
    return f"@@ {span}" + (f" in {hunk.scope}" if hunk.scope else "") + " @@"


def _label_scopes(patch: FilePatch, root: Path) -> None:
    """The innermost definition around each hunk's first changed line (tree-sitter, any
    language the context engine knows)."""
    try:
        data = (root / patch.path).read_bytes()
    except OSError:
        return
    symbols = extract(patch.path, data)
    if symbols is None:
        return
    for hunk in patch.hunks:
        added = [x.new for x in hunk.diff.lines if x.kind == "+" and x.new]
        first = added[0] if added else hunk.diff.new_start
        around = [
            d
            for d in symbols.definitions
            if d.line <= first <= d.end_line and d.kind not in ("constant", "variable")
        ]
        if around:
            best = min(around, key=lambda d: d.end_line - d.line)
            hunk.scope = best.signature.strip() or f"{best.kind} {best.name}"
