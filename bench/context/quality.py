"""File-level localisation: for each case (see cases.py), check out the repository at the
case's commit, rank its files for the query with every method, and record where the gold files
landed. Methods: acb's BM25 alone, acb's graph alone (PageRank personalised by the files and
identifiers the query names, like Aider's), acb's fused ranking at several blend weights, the
file order of the map itself (`map`: `ContextEngine.repo_map(query=...)` at the default budget,
exactly what the model sees at the start of a run and what `acb map --focus` prints; `map-4096`
at a 4,096-token budget), plain `bm25s` as a baseline (its default `bm25s.tokenize` over each
file's path + "\n" + full content, the same file list acb ranks, the query tokenised the same
way), and Aider's map order (`aider_worker.py rank`, run in Aider's venv, fed the same file list).

The repositories are checked out in git worktrees under the cache; cases are visited in commit
order so that both tools' caches see realistic, incremental change between cases.

When Aider's worker dies, a line `{"failed_method": "aider", "reason": ...}` is written and the
run goes on with acb alone: report.py then shows Aider as failed, with that reason.

Usage: python bench/context/quality.py --cases CASES --repos DIR --out RESULTS.jsonl
       [--aider-python PY] [--tools acb,bm25s,aider] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "src"))
# The index's parse workers are child interpreters: without this they would import whichever
# acb the venv has installed, and a cold build or a large checkout would mix two versions.
os.environ["PYTHONPATH"] = os.pathsep.join(
    filter(None, [str(HERE.parents[1] / "src"), os.environ.get("PYTHONPATH")])
)

from autocodebase.context.engine import DEFAULT_BUDGET, ContextEngine
from autocodebase.context.index import source_files
from autocodebase.context.ranking import Ranker, Tuning

_PLAIN = {"test_weight": 1.0, "mention_boost": 0.0}
"""Every knob spelled out: `Tuning(blend=0.5)` alone would take the default's other knobs."""
VARIANTS = {
    "fused-0.25": Tuning(blend=0.25, **_PLAIN),
    "fused-0.5": Tuning(blend=0.5, **_PLAIN),
    "fused-0.75": Tuning(blend=0.75, **_PLAIN),
    "fused-0.5-tests0.5": Tuning(blend=0.5, test_weight=0.5, mention_boost=0.0),
    "fused-0.5-named": Tuning(blend=0.5, test_weight=1.0, mention_boost=0.5),
    "fused-0.5-tests0.5-named": Tuning(blend=0.5, test_weight=0.5, mention_boost=0.5),
    "fused-0.75-tests0.5-named": Tuning(blend=0.75, test_weight=0.5, mention_boost=0.5),
    "fused-0.9-tests0.5-named": Tuning(blend=0.9, test_weight=0.5, mention_boost=0.5),
}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(cwd), *args], capture_output=True, text=True, check=True
    ).stdout


def cases_by_repo(path: Path, source: str | None = None) -> dict[str, list[dict[str, object]]]:
    """The cases of a cases file (cases.py), by repository; only `source`'s when given."""
    by_repo: dict[str, list[dict[str, object]]] = defaultdict(list)
    for line in path.read_text().splitlines():
        if line.strip():
            case = json.loads(line)
            if source is None or case["source"] == source:
                by_repo[str(case["repo"])].append(case)
    return by_repo


def in_commit_order(
    repos: Path, work: Path, repo: str, group: list[dict[str, object]], limit: int
) -> tuple[Path, list[dict[str, object]]]:
    """A worktree of `repo` under `work` (made once) and its cases in commit-date order, so
    that caches see realistic, incremental change between cases; the first `limit` if set."""
    clone = repos / repo
    tree = work / "trees" / repo
    if not tree.exists():
        git(clone, "worktree", "add", "-f", "--detach", str(tree), "HEAD")
    dated = sorted(
        group,
        key=lambda c: int(git(clone, "show", "-s", "--format=%ct", str(c["commit"])).strip()),
    )
    return tree, dated[:limit] if limit else dated


def positions(ranked: list[str], gold: list[str]) -> list[int | None]:
    where = {path: i + 1 for i, path in enumerate(ranked)}
    return [where.get(g) for g in gold]


class Aider:
    """Aider's RepoMap in its own venv, one request at a time over pipes."""

    def __init__(self, python: Path) -> None:
        self.log = tempfile.TemporaryFile("w+")  # noqa: SIM115 - open while the worker runs
        self.child = subprocess.Popen(
            [str(python), str(HERE / "aider_worker.py"), "rank"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )

    def ask(self, root: Path, files: list[str], query: str) -> None:
        assert self.child.stdin is not None
        try:
            self.child.stdin.write(
                json.dumps({"root": str(root), "files": files, "query": query}) + "\n"
            )
            self.child.stdin.flush()
        except OSError as error:
            raise self.died() from error

    def answer(self) -> dict[str, object]:
        assert self.child.stdout is not None
        try:
            answer: dict[str, object] = json.loads(self.child.stdout.readline())
        except ValueError as error:
            raise self.died() from error
        return answer

    def died(self) -> AiderFailed:
        """The worker stopped answering: kill it, and say what it said last."""
        self.child.kill()
        self.child.communicate()
        self.log.seek(0)
        said = " ".join(self.log.read()[-400:].split())
        return AiderFailed(f"aider_worker.py rank stopped (exit {self.child.returncode}): {said}")

    def close(self) -> None:
        assert self.child.stdin is not None
        self.child.stdin.close()
        self.child.wait()
        self.log.close()


class AiderFailed(Exception):
    """Aider's worker died; quality records it (`{"failed_method": "aider", ...}`) and goes on
    with acb alone, and report.py shows Aider as failed rather than as a low recall."""


class PlainBm25s:
    """The baseline: `bm25s` as its README uses it, on path + "\n" + content of each file.

    Tokens are cached per (path, blob) so that consecutive cases of one repository only
    re-tokenise what changed; the index itself is rebuilt for every case."""

    def __init__(self) -> None:
        self._tokens: dict[tuple[str, str], list[str]] = {}

    def rank(self, tree: Path, files: list[str], query: str) -> list[str]:
        import bm25s
        import numpy as np

        blobs: dict[str, str] = {}
        for line in git(tree, "ls-files", "-s").splitlines():
            _, blob, rest = line.split(" ", 2)
            blobs[rest.split("\t", 1)[1]] = blob
        corpus: list[list[str]] = []
        fresh: dict[tuple[str, str], list[str]] = {}
        for path in files:
            key = (path, blobs.get(path, ""))
            tokens = self._tokens.get(key)
            if tokens is None or not key[1]:
                text = (tree / path).read_text(encoding="utf-8", errors="replace")
                tokens = bm25s.tokenize(
                    [path + "\n" + text], return_ids=False, show_progress=False
                )[0]
                tokens = [sys.intern(t) for t in tokens]
            fresh[key] = tokens
            corpus.append(tokens)
        self._tokens = fresh
        retriever = bm25s.BM25()
        retriever.index(corpus, show_progress=False)
        vocabulary = retriever.vocab_dict or {}
        asked = bm25s.tokenize([query], return_ids=False, show_progress=False)[0]
        asked = [t for t in asked if t in vocabulary]
        if not asked:
            return list(files)
        scores = retriever.get_scores(asked)
        return [files[i] for i in np.argsort(-scores, kind="stable")]


def rank_with_acb(
    engine: ContextEngine, query: str, gold: list[str]
) -> tuple[dict[str, list[int | None]], dict[str, float]]:
    started = time.perf_counter()
    engine.refresh()
    ranker = Ranker(engine.index)
    built = time.perf_counter()
    ranks: dict[str, list[int | None]] = {}
    ranks["bm25"] = positions([p for p, _ in ranker.rank(query, method="bm25").files], gold)
    ranks["graph"] = positions([p for p, _ in ranker.rank(query, method="graph").files], gold)
    for label, tuning in VARIANTS.items():
        fused = ranker.rank(query, method="fused", tuning=tuning)
        ranks[label] = positions([p for p, _ in fused.files], gold)
    per_method = (time.perf_counter() - built) / (2 + len(VARIANTS))
    ranks["map"] = positions(engine.repo_map(DEFAULT_BUDGET, query=query).files, gold)
    ranks["map-4096"] = positions(engine.repo_map(4096, query=query).files, gold)
    return ranks, {"acb_index_s": built - started, "acb_rank_s": per_method}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=Path, required=True)
    parser.add_argument("--repos", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True, help="worktrees and indexes go here")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--aider-python", type=Path)
    parser.add_argument(
        "--tools",
        default="acb,bm25s,aider",
        help="any of acb, bm25s (plain bm25s), aider (separate runs can be merged)",
    )
    parser.add_argument("--limit", type=int, default=0, help="at most N cases per repository")
    args = parser.parse_args()
    by_repo = cases_by_repo(args.cases)
    tools = set(args.tools.split(","))
    aider = Aider(args.aider_python) if args.aider_python and "aider" in tools else None
    use_acb = "acb" in tools
    plain = PlainBm25s() if "bm25s" in tools else None
    args.work.mkdir(parents=True, exist_ok=True)
    with args.out.open("w") as out:
        for repo, group in by_repo.items():
            tree, dated = in_commit_order(args.repos, args.work, repo, group, args.limit)
            if plain is not None:
                plain = PlainBm25s()  # per repository: its cache holds one tree's tokens
            with ContextEngine(tree, args.work / f"{repo}.db") as engine:
                for case in dated:
                    git(tree, "checkout", "-q", "-f", "--detach", str(case["commit"]))
                    files = source_files(tree)
                    query, gold = str(case["query"]), list(case["gold"])  # type: ignore[call-overload]
                    ranks: dict[str, list[int | None]] = {}
                    timing: dict[str, float] = {}
                    try:
                        if aider:
                            aider.ask(tree, files, query)
                        if use_acb:
                            ranks, timing = rank_with_acb(engine, query, gold)
                        if plain is not None:
                            if not use_acb:
                                engine.refresh()
                            ranked = plain.rank(tree, [p for _, p in engine.index.files()], query)
                            ranks["bm25s"] = positions(ranked, gold)
                        if aider:
                            answer = aider.answer()
                            ranks["aider"] = positions(list(answer["ranked"]), gold)  # type: ignore[call-overload]
                            timing["aider_rank_s"] = float(answer["seconds"])  # type: ignore[arg-type]
                    except AiderFailed as error:
                        print(f"aider failed: {error}", file=sys.stderr, flush=True)
                        out.write(json.dumps({"failed_method": "aider", "reason": str(error)}))
                        out.write("\n")
                        aider = None
                        if use_acb and not ranks:
                            ranks, timing = rank_with_acb(engine, query, gold)
                    record = {key: case[key] for key in ("id", "source", "repo", "gold")}
                    out.write(json.dumps({**record, "ranks": ranks, **timing}) + "\n")
                    out.flush()
                    print(
                        f"{case['id']}: " + " ".join(f"{m}={r}" for m, r in ranks.items()),
                        file=sys.stderr,
                        flush=True,
                    )
    if aider:
        aider.close()


if __name__ == "__main__":
    main()
