"""Which files matter for a task: personalised PageRank over the definition/reference graph,
fused with BM25.

The graph says which files the rest of the code leans on; BM25 says which files talk about
what the task talks about. Neither is enough alone: PageRank without a focus ranks `utils.py`
first for every task, BM25 misses the definition a symptom points to. So the lexical hits
(and files or identifiers the task names, and files already in the conversation) personalise
the PageRank, and the final score blends both. The blend weight was chosen on the
localisation benchmark (`bench/context`), not guessed; docs/benchmarks.md has the numbers.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from autocodebase.context.lexical import Bm25

if TYPE_CHECKING:
    import numpy as np

    from autocodebase.context.index import SymbolIndex

Method = Literal["fused", "bm25", "graph"]
BLEND = 0.5
"""Weight of the (max-normalised) BM25 score against the PageRank score in the fused ranking."""
SEEDS = 10
"""How many top BM25 files personalise the PageRank."""
DAMPING = 0.85
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PATHLIKE = re.compile(r"[A-Za-z0-9_.\-/]+")


@dataclass
class Ranking:
    """Files best first, and for each file how much each of its definitions is leaned on."""

    files: list[tuple[str, float]]
    definition_weight: dict[tuple[str, str], float] = field(default_factory=dict)
    """(path, name) → share of PageRank flowing into that definition."""


@dataclass
class _Graph:
    paths: list[str]
    position: dict[str, int]
    defined_in: dict[str, list[int]]
    refs: list[tuple[int, str, int]]
    documents: list[str]


class Ranker:
    """Ranks the files of one index; build once per refresh, ask many times."""

    def __init__(self, index: SymbolIndex) -> None:
        ids: dict[int, int] = {}
        paths: list[str] = []
        documents: list[str] = []
        for file_id, path, terms in index.documents():
            ids[file_id] = len(paths)
            paths.append(path)
            documents.append(terms)
        defined_in: dict[str, list[int]] = defaultdict(list)
        for file_id, name in index.all_definitions():
            where = defined_in[name]
            node = ids[file_id]
            if not where or where[-1] != node:
                where.append(node)
        refs = [(ids[file_id], name, count) for file_id, name, count in index.all_references()]
        self._graph = _Graph(
            paths, {p: i for i, p in enumerate(paths)}, defined_in, refs, documents
        )
        self._bm25: Bm25 | None = None

    @property
    def paths(self) -> list[str]:
        return self._graph.paths

    def bm25(self) -> Bm25:
        if self._bm25 is None:
            self._bm25 = Bm25(self._graph.documents)
        return self._bm25

    def rank(
        self,
        query: str = "",
        focus: Iterable[str] = (),
        method: Method = "fused",
        blend: float = BLEND,
    ) -> Ranking:
        """Rank every indexed file for `query`, leaning toward the `focus` files (in the
        conversation, recently edited, named by the user)."""
        import numpy as np

        graph = self._graph
        n = len(graph.paths)
        if n == 0:
            return Ranking(files=[])
        lexical = self.bm25().scores(query) if query else np.zeros(n)
        if method == "bm25":
            order = np.argsort(-lexical, kind="stable")
            return Ranking(files=[(graph.paths[i], float(lexical[i])) for i in order])
        mentioned = self._mentioned_identifiers(query)
        personal = np.zeros(n)
        for path in focus:
            if path in graph.position:
                personal[graph.position[path]] += 1.0
        for node in self._mentioned_files(query):
            personal[node] += 1.0
        for name in mentioned:
            for node in graph.defined_in[name]:
                personal[node] += 1.0 / len(graph.defined_in[name])
        if method == "fused" and lexical.any():
            top = np.argsort(-lexical)[:SEEDS]
            personal[top] += lexical[top] / lexical[top[0]]
        src, dst, weight, names = self._edges(mentioned)
        rank = _pagerank(n, src, dst, weight, personal)
        score = rank if method == "graph" else (1 - blend) * _unit(rank) + blend * _unit(lexical)
        order = np.argsort(-score, kind="stable")
        return Ranking(
            files=[(graph.paths[i], float(score[i])) for i in order],
            definition_weight=self._definition_weights(rank, src, dst, weight, names),
        )

    def _edges(self, mentioned: set[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
        """One edge per (referencing file, defining file, name), weighted like a reader would:
        a name the task mentions counts more, a private or very common name less, and a name
        defined in k files splits its weight k ways."""
        import numpy as np

        graph = self._graph
        src: list[int] = []
        dst: list[int] = []
        weight: list[float] = []
        names: list[str] = []
        for node, name, count in graph.refs:
            definers = graph.defined_in.get(name)
            if not definers:
                continue
            w = math.sqrt(count) / len(definers)
            if name in mentioned:
                w *= 10
            if name.startswith("_"):
                w *= 0.1
            if len(definers) > 5:
                w *= 0.1
            for target in definers:
                if target != node:
                    src.append(node)
                    dst.append(target)
                    weight.append(w)
                    names.append(name)
        return (
            np.asarray(src, dtype=np.int64),
            np.asarray(dst, dtype=np.int64),
            np.asarray(weight, dtype=np.float64),
            names,
        )

    def _definition_weights(
        self,
        rank: np.ndarray,
        src: np.ndarray,
        dst: np.ndarray,
        weight: np.ndarray,
        names: Sequence[str],
    ) -> dict[tuple[str, str], float]:
        import numpy as np

        if len(src) == 0:
            return {}
        out = np.bincount(src, weights=weight, minlength=len(rank))
        flow = rank[src] * weight / out[src]
        totals: dict[tuple[str, str], float] = defaultdict(float)
        paths = self._graph.paths
        for target, name, amount in zip(dst.tolist(), names, flow.tolist(), strict=True):
            totals[(paths[target], name)] += amount
        return dict(totals)

    def _mentioned_identifiers(self, query: str) -> set[str]:
        """Names in the task that something in the repository defines. Short or all-lowercase
        English words ('value', 'test') only count when written like code (`x`, x(), a.b)."""
        defined = self._graph.defined_in
        found: set[str] = set()
        for match in _IDENT.finditer(query):
            word = match.group()
            if word not in defined or len(word) < 3:
                continue
            code_like = (
                "_" in word
                or any(c.isupper() for c in word[1:])
                or query[match.end() : match.end() + 1] in "(."
                or query[max(0, match.start() - 1) : match.start()] in "`."
            )
            if code_like:
                found.add(word)
        return found

    def _mentioned_files(self, query: str) -> set[int]:
        """Files the task names by path, by file name, or as a dotted module (`pkg.mod`)."""
        by_tail: dict[str, list[int]] = defaultdict(list)
        for node, path in enumerate(self._graph.paths):
            by_tail[path.rsplit("/", 1)[-1]].append(node)
        found: set[int] = set()
        for token in _PATHLIKE.findall(query):
            token = token.strip(".-/")
            if not token:
                continue
            candidates = [token, token.replace(".", "/") + ".py"]
            for candidate in candidates:
                exact = self._graph.position.get(candidate)
                if exact is not None:
                    found.add(exact)
                elif "/" in candidate:
                    found.update(
                        i for i, p in enumerate(self._graph.paths) if p.endswith("/" + candidate)
                    )
            tail = token.rsplit("/", 1)[-1]
            if "." in tail and len(by_tail.get(tail, ())) <= 3:
                found.update(by_tail.get(tail, ()))
        return found


def _unit(values: np.ndarray) -> np.ndarray:
    top = float(values.max()) if len(values) else 0.0
    return values / top if top > 0 else values


def _pagerank(
    n: int,
    src: np.ndarray,
    dst: np.ndarray,
    weight: np.ndarray,
    personal: np.ndarray,
    iterations: int = 100,
    tolerance: float = 1e-9,
) -> np.ndarray:
    """Personalised PageRank by power iteration; dangling files return their mass to the
    personalisation, as in the standard formulation (and networkx)."""
    import numpy as np

    restart = personal / personal.sum() if personal.sum() > 0 else np.full(n, 1.0 / n)
    out = np.bincount(src, weights=weight, minlength=n)
    share = weight / out[src] if len(src) else weight
    dangling = out == 0
    rank = restart.copy()
    for _ in range(iterations):
        spread = np.bincount(dst, weights=rank[src] * share, minlength=n)
        new = DAMPING * (spread + rank[dangling].sum() * restart) + (1 - DAMPING) * restart
        if np.abs(new - rank).sum() < tolerance * n:
            return np.asarray(new)
        rank = new
    return np.asarray(rank)
