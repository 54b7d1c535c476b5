"""The context engine: one object that keeps a repository's index current and answers
"what should the model see for this task?" — used by `acb map`, the `repo_map` tool and the
map given to the model at the start of a run."""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from importlib.util import find_spec
from pathlib import Path

from autocodebase.context import lexical, paths, ranking, small_map, tokens
from autocodebase.context import repo_map as rendering
from autocodebase.context.index import RefreshStats, SymbolIndex
from autocodebase.context.ranking import DEFAULT_TUNING, Method, Ranker, Ranking, Tuning
from autocodebase.context.repo_map import RepoMap, render_map
from autocodebase.context.small_map import whole_map

DEFAULT_BUDGET = 1024
"""Tokens for the map at the start of a run (Aider's default map size is the same)."""


class ContextEngine:
    def __init__(self, root: Path, index_path: Path | None = None) -> None:
        self.root = root
        self.index = SymbolIndex(root, index_path)
        self._ranker: Ranker | None = None
        self._ranker_generation = -1
        self.last_refresh: RefreshStats | None = None

    def close(self) -> None:
        self.index.close()

    def __enter__(self) -> ContextEngine:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def refresh(self) -> RefreshStats:
        """Re-read what changed on disk; the ranking is rebuilt only if something did."""
        stats = self.index.refresh(while_parsing=_load_map_dependencies)
        if stats.parsed or stats.removed:
            self._ranker = None
        self.last_refresh = stats
        return stats

    def ranker(self) -> Ranker:
        if self._ranker is None:
            if self.last_refresh is None:
                self.refresh()
            self._ranker_generation = self.index.generation()
            self._ranker = Ranker(self.index)
        return self._ranker

    def rank(
        self,
        query: str = "",
        focus: Iterable[str] = (),
        method: Method = "fused",
        tuning: Tuning = DEFAULT_TUNING,
    ) -> Ranking:
        return self.ranker().rank(query, focus, method, tuning)

    def repo_map(
        self,
        budget: int = DEFAULT_BUDGET,
        query: str = "",
        focus: Iterable[str] = (),
        exclude: Iterable[str] = (),
    ) -> RepoMap:
        """The map for this task. A map already rendered for the same arguments and the same
        indexed content (and the same ranking code) is served from the index's memo: a warm
        start with nothing changed then costs a stat of each file and one lookup."""
        if self.last_refresh is None:
            self.refresh()
        focus, exclude = list(focus), list(exclude)
        key = json.dumps([_code_stamp(), budget, query, focus, exclude])
        remembered = self.index.recall(key, self.index.generation())
        if remembered is not None:
            text, files, definitions = json.loads(remembered)
            return RepoMap(text=text, files=files, definitions=definitions)
        index = self.index
        small = whole_map(
            index.paths().values(),
            index.definitions_of,
            index.references_in,
            self._lexical_weights,
            budget,
            query,
            focus,
            exclude,
        )
        if small is not None:
            generation = self.index.generation()
            built = small
        else:
            ranker = self.ranker()
            generation = self._ranker_generation
            built = render_map(
                ranker.rank(query, focus), self.index.definitions_of, budget, exclude
            )
        value = json.dumps([built.text, built.files, built.definitions])
        self.index.remember(key, generation, value)
        return built

    def _lexical_weights(self, query: str) -> dict[str, float]:
        """BM25 for `query` by path, over the stored documents, without numpy (for
        small_map, which asks only of repositories of a few files)."""
        paths = [path for _, path in self.index.files()]
        return dict(
            zip(paths, lexical.Bm25(list(self.index.documents())).weights(query), strict=True)
        )


@cache
def _code_stamp() -> list[object]:
    """What, besides the index's content, decides a map: the code that ranks and renders it
    (each module's file size and mtime, so an edited or upgraded acb never reuses an old map)
    and whether the real tokenizer is installed."""
    stamp: list[object] = [find_spec("tiktoken") is not None]
    for module in (lexical, paths, ranking, rendering, small_map, tokens):
        status = Path(module.__file__ or "").stat()
        stamp.append([module.__name__, status.st_size, status.st_mtime_ns])
    return stamp


def _load_map_dependencies() -> None:
    """Import numpy and load the tokenizer while workers parse, rather than after them: they
    are a few tenths of a second of every cold build's critical path."""
    import numpy  # noqa: F401

    tokens.count_tokens("")
