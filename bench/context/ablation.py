"""Why does acb's lexical index score below plain bm25s? An ablation over what goes into each
file's document and how the query is tokenised, run on the localisation cases (cases.py).

For every case, the repository is checked out and acb's index refreshed (as quality.py does);
each file's document is then assembled from parts, weighted: its path words (P), the words of
the names it defines (D) and references (R), its comments/docstrings capped at 400 terms as
the index stores them (C) or uncapped (Cfull), its single-line string literals (S), all the
words of its content split like identifiers (F), and plain bm25s tokens of path + content
(plain). BM25 (Lucene variant, k1 1.5, b 0.75: bm25s's defaults) is computed here from term
counts, so that every variant is scored on the same case without re-indexing; each variant is
also fed to acb's fused ranking and to the map renderer (budget 1024), so the figures are for
what the model would see.

Usage: python bench/context/ablation.py --cases CASES --repos DIR --work DIR --out OUT.jsonl
       [--limit N] [--variants NAME,...]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "src"))
sys.path.insert(0, str(HERE.parents[1]))
# The index's parse workers are child interpreters: without this they would import whichever
# acb the venv has installed, and a cold build or a large checkout would mix two versions.
os.environ["PYTHONPATH"] = os.pathsep.join(
    filter(None, [str(HERE.parents[1] / "src"), os.environ.get("PYTHONPATH")])
)

import numpy as np

from autocodebase.context.engine import DEFAULT_BUDGET, ContextEngine
from autocodebase.context.lexical import _kept_words, path_terms, text_terms
from autocodebase.context.ranking import DEFAULT_TUNING, Tuning
from autocodebase.context.repo_map import render_map
from bench.context.quality import cases_by_repo, in_commit_order

K1, B = 1.5, 0.75
MAX_DOC_TERMS = 400
"""What the index kept of comments and docstrings before (EXTRACTOR_VERSION 3)."""
_STRING = re.compile(r'"((?:[^"\\\n]|\\.)*)"|\'((?:[^\'\\\n]|\\.)*)\'')

# variant name -> (weights of the parts, query tokenisation)
VARIANTS: dict[str, tuple[dict[str, float], str]] = {
    "bag": ({"P": 3, "D": 2, "R": 1, "C": 1}, "acb"),
    "bag-nocap": ({"P": 3, "D": 2, "R": 1, "Cfull": 1}, "acb"),
    "bag+S": ({"P": 3, "D": 2, "R": 1, "C": 1, "S": 1}, "acb"),
    "bag-nocap+S": ({"P": 3, "D": 2, "R": 1, "Cfull": 1, "S": 1}, "acb"),
    "3P+2D+F": ({"P": 3, "D": 2, "F": 1}, "acb"),
    "P+F": ({"P": 1, "F": 1}, "acb"),
    "3P+F": ({"P": 3, "F": 1}, "acb"),
    "bag+F": ({"P": 3, "D": 2, "R": 1, "C": 1, "F": 1}, "acb"),
    "plain": ({"plain": 1}, "plain"),
    "plain-acbq": ({"plain": 1}, "plain-dedup"),
    "bag-dupq": ({"P": 3, "D": 2, "R": 1, "C": 1}, "acb-dup"),
    "3P+F-dupq": ({"P": 3, "F": 1}, "acb-dup"),
}
VARIANTS2: dict[str, tuple[dict[str, float], str]] = {
    "3P+F-dupq": ({"P": 3, "F": 1}, "acb-dup"),
    "P+F-dupq": ({"P": 1, "F": 1}, "acb-dup"),
    "2P+F-dupq": ({"P": 2, "F": 1}, "acb-dup"),
    "5P+F-dupq": ({"P": 5, "F": 1}, "acb-dup"),
    "3P+2D+F-dupq": ({"P": 3, "D": 2, "F": 1}, "acb-dup"),
    "3P+F-sqrtq": ({"P": 3, "F": 1}, "acb-sqrt"),
    "3P+Fu-dupq": ({"P": 3, "Fu": 1}, "acb-dup"),
    "3P+2D+Fu-dupq": ({"P": 3, "D": 2, "Fu": 1}, "acb-dup"),
    "bag+S-dupq": ({"P": 3, "D": 2, "R": 1, "C": 1, "S": 1}, "acb-dup"),
    "bag+Fu-dupq": ({"P": 3, "D": 2, "R": 1, "C": 1, "Fu": 1}, "acb-dup"),
}
VARIANTS.update(VARIANTS2)
TUNINGS = {"default": DEFAULT_TUNING}
GRID = {
    f"b{blend}-t{tests}-n{named}": Tuning(blend=blend, test_weight=tests, mention_boost=named)
    for blend in (0.5, 0.75, 0.9)
    for tests in (0.5,)
    for named in (0.25, 0.5, 1.0)
}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(cwd), *args], capture_output=True, text=True, check=True
    ).stdout


def positions(ranked: list[str], gold: list[str]) -> list[int | None]:
    where = {path: i + 1 for i, path in enumerate(ranked)}
    return [where.get(g) for g in gold]


def words(names: list[str]) -> Counter[str]:
    out: Counter[str] = Counter()
    for name in names:
        out.update(_kept_words(name))
    return out


def parts_of(
    path: str, text: str, doc: str, defined: list[str], referenced: list[str]
) -> dict[str, Counter[str]]:
    import bm25s

    literals = " ".join(a or b for a, b in _STRING.findall(text))
    return {
        "P": Counter(path_terms(path)),
        "D": words(defined),
        "R": words(referenced),
        "C": Counter(text_terms(doc, MAX_DOC_TERMS)),
        "Cfull": Counter(text_terms(doc)),
        "S": Counter(text_terms(literals)),
        "F": (full := Counter(text_terms(text))),
        "Fu": Counter(dict.fromkeys(full, 1)),
        "plain": Counter(
            bm25s.tokenize([path + "\n" + text], return_ids=False, show_progress=False)[0]
        ),
    }


def query_terms(query: str, how: str) -> list[str]:
    import bm25s

    if how.startswith("plain"):
        terms = bm25s.tokenize([query], return_ids=False, show_progress=False)[0]
    else:
        terms = text_terms(query)
    return terms if how in {"plain", "acb-dup", "acb-sqrt"} else list(dict.fromkeys(terms))


class Scorer:
    """BM25 of any weighted mix of parts over one case's documents; the per-part lengths and
    term counts are computed once and shared by every variant."""

    def __init__(self, docs: list[dict[str, Counter[str]]]) -> None:
        self.docs = docs
        self._length: dict[str, np.ndarray] = {}
        self._tf: dict[tuple[str, str], np.ndarray] = {}

    def length(self, part: str) -> np.ndarray:
        if part not in self._length:
            self._length[part] = np.array([d[part].total() for d in self.docs], dtype=float)
        return self._length[part]

    def tf(self, part: str, term: str) -> np.ndarray:
        key = (part, term)
        if key not in self._tf:
            self._tf[key] = np.array([d[part].get(term, 0) for d in self.docs], dtype=float)
        return self._tf[key]

    def bm25(self, weights: dict[str, float], terms: list[str], query_tf: str) -> np.ndarray:
        n = len(self.docs)
        length: np.ndarray = sum((w * self.length(p) for p, w in weights.items()), np.zeros(n))
        norm = K1 * (1 - B + B * length / max(float(np.mean(length)), 1e-9))
        score = np.zeros(n)
        for term, repeat in Counter(terms).items():
            tf: np.ndarray = sum((w * self.tf(p, term) for p, w in weights.items()), np.zeros(n))
            df = int(np.count_nonzero(tf))
            if df == 0:
                continue
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            weight = math.sqrt(repeat) if query_tf == "sqrt" else repeat
            score += weight * idf * tf / (tf + norm)
        return score


class _Fixed:
    def __init__(self, scores: np.ndarray) -> None:
        self._scores = scores

    def scores(self, query: str) -> np.ndarray:
        return self._scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=Path, required=True)
    parser.add_argument("--repos", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--source", help="only the cases of this source (history)")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--no-map", action="store_true", help="BM25 ranks only")
    parser.add_argument("--grid", action="store_true", help="every tuning of GRID, not the default")
    args = parser.parse_args()
    chosen = {name: VARIANTS[name] for name in args.variants.split(",")}
    tunings = GRID if args.grid else TUNINGS
    by_repo = cases_by_repo(args.cases, args.source or None)
    args.work.mkdir(parents=True, exist_ok=True)
    with args.out.open("w") as out:
        for repo, group in by_repo.items():
            tree, dated = in_commit_order(args.repos, args.work, repo, group, args.limit)
            cache: dict[tuple[str, str], dict[str, Counter[str]]] = {}
            with ContextEngine(tree, args.work / f"{repo}.db") as engine:
                for case in dated:
                    git(tree, "checkout", "-q", "-f", "--detach", str(case["commit"]))
                    engine.refresh()
                    index = engine.index
                    rows = list(
                        index.db.execute("SELECT id, path, sha1, doc FROM files ORDER BY id")
                    )
                    defined: dict[int, list[str]] = defaultdict(list)
                    for file_id, name in index.db.execute("SELECT file_id, name FROM defs"):
                        defined[file_id].append(name)
                    fresh: dict[tuple[str, str], dict[str, Counter[str]]] = {}
                    docs = []
                    for file_id, path, sha1, doc in rows:
                        key = (path, sha1)
                        parts = cache.get(key)
                        if parts is None:
                            text = (tree / path).read_text(encoding="utf-8", errors="replace")
                            referenced = [
                                name
                                for (name,) in index.db.execute(
                                    "SELECT name FROM refs WHERE file_id=?", (file_id,)
                                )
                            ]
                            parts = parts_of(path, text, doc, defined[file_id], referenced)
                        fresh[key] = parts
                        docs.append(parts)
                    cache = fresh
                    query, gold = str(case["query"]), list(case["gold"])  # type: ignore[call-overload]
                    paths = [path for _, path, _, _ in rows]
                    ranker = engine.ranker()
                    scorer = Scorer(docs)
                    ranks: dict[str, list[int | None]] = {}
                    for name, (weights, how) in chosen.items():
                        scores = scorer.bm25(
                            weights,
                            query_terms(query, how),
                            "sqrt" if how.endswith("sqrt") else "linear",
                        )
                        order = np.argsort(-scores, kind="stable")
                        ranks[f"{name}:bm25"] = positions([paths[i] for i in order], gold)
                        if args.no_map:
                            continue
                        ranker._bm25 = _Fixed(scores)  # type: ignore[assignment]
                        for label, tuning in tunings.items():
                            ranking = ranker.rank(query, tuning=tuning)
                            ranks[f"{name}:fused-{label}"] = positions(
                                [p for p, _ in ranking.files], gold
                            )
                            shown = render_map(ranking, index.definitions_of, DEFAULT_BUDGET)
                            ranks[f"{name}:map-{label}"] = positions(shown.files, gold)
                    ranker._bm25 = None
                    record = {key: case[key] for key in ("id", "source", "repo", "gold")}
                    out.write(json.dumps({**record, "ranks": ranks}) + "\n")
                    out.flush()
                    print(case["id"], file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
