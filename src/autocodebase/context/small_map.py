"""The map of a small repository: all of it, when all of it fits the budget.

Ranking exists to choose what a budget leaves out. When every definition of a repository fits,
nothing is left out, and the order of the files is all that ranking would add; building it
(numpy and the definition graph: a few tenths of a second of imports for a one-file project)
was most of a new repository's wait for its first request. So a repository of at most
`SMALL_REPOSITORY_FILES` files whose whole map fits is shown whole, ordered without the graph:
the files the task names, then by the same BM25 the ranker uses (in plain Python), tests
weighed down as the ranker weighs them, then the focus and what it uses, then by path.
Anything larger, or that does not fit, goes to the ranker as before.

Whether it fits is decided without loading the tokenizer (0.2-0.6 s here): a map is accepted
when its UTF-8 bytes are at most `BYTES_PER_TOKEN` times the budget. cl100k never needed
fewer than 2.83 bytes a token on the maps and per-file maps of flask (95 texts, median 3.74),
so at 2 the budget holds with room to spare.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping

from autocodebase.context.paths import is_test_path
from autocodebase.context.ranking import DEFAULT_TUNING, Ranking
from autocodebase.context.repo_map import RepoMap, render_map
from autocodebase.context.symbols import Definition

SMALL_REPOSITORY_FILES = 150
BYTES_PER_TOKEN = 2
TEST_WEIGHT = DEFAULT_TUNING.test_weight
EVERYTHING = 1 << 40
"""A budget the renderer never reaches (it then neither cuts nor counts tokens)."""


def whole_map(
    paths: Iterable[str],
    definitions_of: Callable[[str], list[Definition]],
    references_in: Callable[[str], Mapping[str, object]],
    lexical: Callable[[str], Mapping[str, float]],
    budget: int,
    query: str = "",
    focus: Iterable[str] = (),
    exclude: Iterable[str] = (),
) -> RepoMap | None:
    """The whole repository's map in a cheap order, or None when the repository is too large
    or its map does not fit `budget` (then the ranker chooses what to show)."""
    skipped = set(exclude)
    listed = sorted(p for p in paths if p not in skipped)
    if len(listed) > SMALL_REPOSITORY_FILES:
        return None
    definitions = {path: definitions_of(path) for path in listed}
    total = sum(len(found) for found in definitions.values())
    order = _cheap_order(definitions, query, focus, references_in, lexical)
    ranking = Ranking(files=[(path, 0.0) for path in order])
    built = render_map(ranking, definitions.__getitem__, EVERYTHING)
    if built.definitions < total or len(built.text.encode("utf-8")) > budget * BYTES_PER_TOKEN:
        return None
    return built


def _cheap_order(
    definitions: dict[str, list[Definition]],
    query: str,
    focus: Iterable[str],
    references_in: Callable[[str], Mapping[str, object]],
    lexical: Callable[[str], Mapping[str, float]],
) -> list[str]:
    """Files the task names (by path, file name or dotted module) first, then by BM25 for
    the task (`lexical`: path, definitions and content; a test file at the ranker's test
    weight), then the focus (files the run touched) and the files defining what named or
    touched files use, then by path."""
    lowered = query.lower()
    named = {path for path in definitions if _named_in(lowered, path)}
    touched = set(focus) | named
    used = {name for path in touched if path in definitions for name in references_in(path)}
    leaned_on = {p for p, found in definitions.items() if any(d.name in used for d in found)}
    scores = lexical(query) if query else {}

    def key(path: str) -> tuple[bool, float, bool, bool, str]:
        weight = TEST_WEIGHT if is_test_path(path) else 1.0
        return (
            path not in named,
            -scores.get(path, 0.0) * weight,
            path not in touched,
            path not in leaned_on,
            path,
        )

    return sorted(definitions, key=key)


def _named_in(lowered_query: str, path: str) -> bool:
    """Whether the task names `path` whole: as the path, its file name or its dotted module,
    not as part of a longer word (`io.py` is not named by `audio.py`)."""
    module = path.rsplit(".", 1)[0].replace("/", ".")
    for form in (path, path.rsplit("/", 1)[-1], module):
        pattern = rf"(?<![\w./-]){re.escape(form.lower())}(?![\w/-])"
        if "." in form and re.search(pattern, lowered_query):
            return True
    return False
