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
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "src"))

import numpy as np

from autocodebase.context.engine import DEFAULT_BUDGET, ContextEngine
from autocodebase.context.lexical import MAX_DOC_TERMS, _kept_words, path_terms, text_terms
from autocodebase.context.ranking import DEFAULT_TUNING, Tuning
from autocodebase.context.repo_map import render_map

K1, B = 1.5, 0.75
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
TUNINGS = {"default": DEFAULT_TUNING}


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
        "F": Counter(text_terms(text)),
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
    return terms if how in {"plain", "acb-dup"} else list(dict.fromkeys(terms))


def bm25(
    docs: list[dict[str, Counter[str]]], weights: dict[str, float], terms: list[str]
) -> np.ndarray:
    n = len(docs)
    length = np.array(
        [sum(w * sum(d[p].values()) for p, w in weights.items()) for d in docs], dtype=float
    )
    norm = K1 * (1 - B + B * length / max(length.mean(), 1e-9))
    score = np.zeros(n)
    counts = Counter(terms)
    for term, repeat in counts.items():
        tf = np.array(
            [sum(w * d[p].get(term, 0) for p, w in weights.items()) for d in docs], dtype=float
        )
        df = int((tf > 0).sum())
        if df == 0:
            continue
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        score += repeat * idf * tf / (tf + norm)
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
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--no-map", action="store_true", help="BM25 ranks only")
    args = parser.parse_args()
    chosen = {name: VARIANTS[name] for name in args.variants.split(",")}
    cases = [json.loads(line) for line in args.cases.read_text().splitlines() if line.strip()]
    by_repo: dict[str, list[dict[str, object]]] = defaultdict(list)
    for case in cases:
        by_repo[str(case["repo"])].append(case)
    args.work.mkdir(parents=True, exist_ok=True)
    with args.out.open("w") as out:
        for repo, group in by_repo.items():
            clone = args.repos / repo
            tree = args.work / "trees" / repo
            if not tree.exists():
                git(clone, "worktree", "add", "-f", "--detach", str(tree), "HEAD")
            dated = sorted(
                group,
                key=lambda c: int(
                    git(clone, "show", "-s", "--format=%ct", str(c["commit"])).strip()
                ),
            )
            if args.limit:
                dated = dated[: args.limit]
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
                    ranks: dict[str, list[int | None]] = {}
                    for name, (weights, how) in chosen.items():
                        scores = bm25(docs, weights, query_terms(query, how))
                        order = np.argsort(-scores, kind="stable")
                        ranks[f"{name}:bm25"] = positions([paths[i] for i in order], gold)
                        if args.no_map:
                            continue
                        ranker._bm25 = _Fixed(scores)  # type: ignore[assignment]
                        for label, tuning in TUNINGS.items():
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
