"""The repo map: signatures of the definitions that matter most for the task, grouped by file,
as many as fit a token budget.

What the model gets is the headers as written in the source with their line numbers, so it
can `read_file` exactly the part it needs next. The budget is filled greedily by definition
score (a file's rank, lifted for definitions other files lean on), and the cut is found by
bisection on the rendered text's real token count, not on an estimate of it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property

from autocodebase.context.ranking import Ranking
from autocodebase.context.symbols import Definition
from autocodebase.context.tokens import count_tokens, fits

_KIND_WEIGHT = {"constant": 0.5, "variable": 0.5, "macro": 0.7}
"""Module-level names are many and mostly plumbing; they yield to classes and functions."""
MAX_FILES_CONSIDERED = 300
"""No budget a model can afford shows more files than this; looking further only costs time."""


@dataclass(frozen=True)
class RepoMap:
    text: str
    files: list[str]
    definitions: int

    @cached_property
    def tokens(self) -> int:
        return count_tokens(self.text)


@dataclass(frozen=True)
class _Entry:
    score: float
    order: int
    path: str
    definition: Definition


def render_map(
    ranking: Ranking,
    definitions_of: Callable[[str], list[Definition]],
    budget: int,
    exclude: Iterable[str] = (),
) -> RepoMap:
    """The best map of at most `budget` tokens (cl100k or estimated, see `tokens`)."""
    skipped = set(exclude)
    entries: list[_Entry] = []
    considered = [(p, s) for p, s in ranking.files if p not in skipped][:MAX_FILES_CONSIDERED]
    top_score = max((s for _, s in considered), default=0.0) or 1.0
    for order, (path, score) in enumerate(considered):
        defs = definitions_of(path)
        weights = [ranking.definition_weight.get((path, d.name), 0.0) for d in defs]
        heaviest = max(weights, default=0.0) or 1.0
        # Rank-order term keeps files in ranking order when scores tie (e.g. all zero).
        file_score = score / top_score + 1.0 / (order + 2)
        entries.extend(
            _Entry(
                file_score * _KIND_WEIGHT.get(d.kind, 1.0) * (0.3 + 0.7 * w / heaviest),
                order,
                path,
                d,
            )
            for d, w in zip(defs, weights, strict=True)
        )
    entries.sort(key=lambda e: (-e.score, e.order, e.definition.line))
    chosen = _within_budget(entries, budget)
    text = _render(chosen)
    while chosen and not fits(text, budget):
        chosen.pop()  # the per-line count was a little low: the exact count of the text decides
        text = _render(chosen)
    files = list(dict.fromkeys(e.path for e in sorted(chosen, key=lambda e: e.order)))
    return RepoMap(text=text, files=files, definitions=len(chosen))


def _within_budget(entries: list[_Entry], budget: int) -> list[_Entry]:
    """The longest prefix of `entries` whose lines (and file headers) add up to `budget`,
    counting each line once instead of re-encoding the whole map for every candidate cut."""
    if len(_render(entries).encode("utf-8")) <= budget:
        return list(entries)  # no tokenizer needed: every token is at least one byte
    chosen: list[_Entry] = []
    headed: set[str] = set()
    used = 0
    for entry in entries:
        cost = count_tokens(f"{entry.definition.line}│{entry.definition.signature}") + 1
        if entry.path not in headed:
            cost += count_tokens(f"{entry.path}:") + 2
        if used + cost > budget:
            break
        used += cost
        chosen.append(entry)
        headed.add(entry.path)
    return chosen


def _render(entries: list[_Entry]) -> str:
    by_file: dict[str, list[_Entry]] = {}
    for entry in sorted(entries, key=lambda e: (e.order, e.definition.line)):
        by_file.setdefault(entry.path, []).append(entry)
    blocks: list[str] = []
    for path, chosen in by_file.items():
        width = len(str(chosen[-1].definition.line))
        lines = [f"{path}:"]
        lines.extend(f"{e.definition.line:>{width}}│{e.definition.signature}" for e in chosen)
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + ("\n" if blocks else "")
