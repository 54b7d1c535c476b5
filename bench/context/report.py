"""Turn the speed and quality results into the "Context engine" section of docs/benchmarks.md.

A tool whose build failed, or that was not run, is shown as failed with its reason, with no
ratio, and is left out of the reading; a method with no result (Aider's worker died) has no
recall column; a group with no case has no recall ("–"), never 0. The command exits 1 without
writing when a tool asked for (`--tools`, default acb,aider) has no figure, unless
`--allow-missing` (bench/outcome.py).

Usage: python bench/context/report.py --speed S.json [--speed S2.json] --quality Q.jsonl --write
       [--tools acb,aider] [--allow-missing]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.outcome import add_allow_missing, conclude, failed

KS = (1, 5, 10)
METHOD_NAMES = {
    "bm25": "BM25 alone (acb's lexical index)",
    "graph": "graph alone (PageRank personalised by named files/identifiers)",
    "aider": "Aider RepoMap order",
    "bm25s": "plain bm25s (path + full content, default `bm25s.tokenize`)",
    "map": "**acb map order** (the files of the 1,024-token map the model sees)",
    "map-4096": "acb map order at 4,096 tokens",
}


def recall(results: list[dict[str, object]], method: str, k: int) -> float | None:
    """Mean recall@k over the cases, or None when there is no case: no cases is no figure."""
    scores = []
    for result in results:
        ranks = result["ranks"][method]  # type: ignore[index]
        scores.append(sum(1 for r in ranks if r is not None and r <= k) / len(ranks))
    return sum(scores) / len(scores) if scores else None


def shown(value: float | None, fmt: str = ".3f") -> str:
    return "–" if value is None else format(value, fmt)


def best(methods: list[str], cases: list[dict[str, object]], ks: tuple[int, ...]) -> str:
    """The method with the highest recall at `ks` on `cases` (a case-less group ranks none)."""
    return max(methods, key=lambda m: tuple(recall(cases, m, k) or 0.0 for k in ks))


def chosen_blend(results: list[dict[str, object]], methods: list[str]) -> str:
    """The default fused variant: best R@5 (then R@10) on the history cases (on all cases
    when there are none)."""
    dev = [r for r in results if r["source"] == "history"] or results
    return best([m for m in methods if m.startswith("fused-")], dev, (5, 10))


def method_label(method: str) -> str:
    """`fused-0.5-tests0.5-named` → "acb fused: BM25 weight 0.5, tests ×0.5, named files +0.5"."""
    if not method.startswith("fused-"):
        return METHOD_NAMES.get(method, method)
    blend, *knobs = method[6:].split("-")
    words = [f"BM25 weight {blend}"]
    for knob in knobs:
        if knob.startswith("tests"):
            words.append(f"tests ×{knob[5:]}")
        elif knob == "named":
            words.append("named files +0.5")
    return "acb fused: " + ", ".join(words)


def quality_tables(results: list[dict[str, object]]) -> tuple[str, str]:
    methods = list(results[0]["ranks"])  # type: ignore[call-overload]
    dev = [r for r in results if r["source"] == "history"]
    held_out = [r for r in results if r["source"] == "swe-bench-lite"]
    chosen = chosen_blend(results, methods)
    lines = [
        "| method | all: R@1 | R@5 | R@10 | SWE-bench Lite: R@1 | R@5 | R@10 | history: R@1 | R@5 | R@10 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for method in methods:
        cells = [shown(recall(group, method, k)) for group in (results, held_out, dev) for k in KS]
        label = method_label(method) + (" **(default)**" if method == chosen else "")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    per_repo = defaultdict(list)
    for result in results:
        per_repo[str(result["repo"])].append(result)
    shown_methods = [m for m in ("bm25s", "bm25", "graph", chosen, "map", "aider") if m in methods]
    repo_lines = [
        "| project | cases | " + " | ".join(f"{m} R@5" for m in shown_methods) + " |",
        "|---|---|" + "---|" * len(shown_methods),
    ]
    for repo, group in sorted(per_repo.items()):
        cells = [shown(recall(group, m, 5)) for m in shown_methods]
        repo_lines.append(f"| {repo} | {len(group)} | " + " | ".join(cells) + " |")
    return "\n".join(lines), "\n".join(
        repo_lines
    ) + f"\n\nChosen blend: `{chosen}` (best R@5 on the history cases)."


def measured(data: object) -> dict[str, float] | None:
    """A tool's speed figures, or None when it failed or was not run."""
    if isinstance(data, dict) and "failed" not in data:
        return data
    return None


def why_not(data: object) -> str:
    if isinstance(data, dict) and "failed" in data:
        return str(data["failed"])
    return "not run (no --aider-python: Aider's venv was not found)"


def speed_table(speed: list[dict[str, object]]) -> str:
    """Build times side by side; a tool without figures for a repository shows why, and no
    ratio is made with it."""
    lines = [
        "| repository | files parsed | runs | acb cold | Aider cold | ratio | acb warm | Aider warm | ratio | acb peak RSS (main / each worker) | Aider peak RSS |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in speed:
        acb, aider = measured(row.get("acb")), measured(row.get("aider"))
        no_acb, no_aider = failed(why_not(row.get("acb"))), failed(why_not(row.get("aider")))
        both = acb is not None and aider is not None

        def ratio(
            key: str, a: dict[str, float] | None = acb, b: dict[str, float] | None = aider
        ) -> str:
            return f"{b[key] / a[key]:.1f}x" if a is not None and b is not None else "–"

        runs = (acb or aider or {}).get("runs", "–")
        cells = [
            f"{acb['cold_s']:.2f} s" if acb else no_acb,
            f"{aider['cold_s']:.2f} s" if aider else no_aider,
            ratio("cold_s") if both else "–",
            f"{acb['warm_s']:.2f} s" if acb else "failed",
            f"{aider['warm_s']:.2f} s" if aider else "failed",
            ratio("warm_s") if both else "–",
            f"{acb['peak_mb']:.0f} / {acb['worker_peak_mb']:.0f} MB" if acb else "failed",
            f"{aider['peak_mb']:.0f} MB" if aider else "failed",
        ]
        lines.append(f"| {row['repo']} | {row['files']:,} | {runs} | " + " | ".join(cells) + " |")
    if not speed:
        lines.append("| (no build speed results given: `--speed`) |" + " |" * 10)
    return "\n".join(lines)


def reading(speed: list[dict[str, object]], results: list[dict[str, object]]) -> str:
    """The honest summary: what the figures say, including where acb is not ahead, made only
    from figures that exist (a tool that failed is not in it)."""
    sentences = []
    both = [r for r in speed if measured(r.get("acb")) and measured(r.get("aider"))]
    largest = max(both, key=lambda r: int(r["files"]), default=None)  # type: ignore[call-overload]
    if largest:
        acb, aider = dict(largest["acb"]), dict(largest["aider"])  # type: ignore[call-overload]
        sentences.append(
            f"On the largest tree ({largest['repo']}, {int(largest['files']):,} files) acb builds "  # type: ignore[call-overload]
            f"its index and map {aider['cold_s'] / acb['cold_s']:.1f}x faster than Aider cold and "
            f"{aider['warm_s'] / acb['warm_s']:.1f}x warm, in {acb['peak_mb']:.0f} MB against "
            f"{aider['peak_mb']:.0f} MB; the cold figure uses both cores (worker processes), "
            "Aider parses on one."
        )
    methods = list(results[0]["ranks"])  # type: ignore[call-overload]
    fused = [m for m in methods if m.startswith("fused-")]
    held = [r for r in results if r["source"] == "swe-bench-lite"]
    chosen = chosen_blend(results, methods)
    sentences.append(
        f"The fused ranking finds {shown(recall(results, chosen, 5), '.0%')} of the gold files "
        f"in its top five, against {shown(recall(results, 'bm25', 5), '.0%')} for BM25 alone "
        f"and {shown(recall(results, 'graph', 5), '.0%')} for the graph alone: neither signal is "
        "enough by itself, and demoting tests and lifting files the task names each add a few "
        "points."
    )
    if held:
        best_held = best(fused, held, (5,))
        if best_held != chosen:
            sentences.append(
                f"On the held-out SWE-bench Lite cases a different variant "
                f"({method_label(best_held)}) scores higher ({shown(recall(held, best_held, 5))} "
                f"vs {shown(recall(held, chosen, 5))} R@5); the default stays the one chosen on "
                "the history cases, as the method says."
            )
    if "map" in methods and "bm25s" in methods:
        groups = (
            ("history", [r for r in results if r["source"] == "history"]),
            ("SWE-bench Lite", held),
        )
        figures = "; ".join(
            f"{name}: R@1 {shown(recall(group, 'map', 1))} vs {shown(recall(group, 'bm25s', 1))}, "
            f"R@5 {shown(recall(group, 'map', 5))} vs {shown(recall(group, 'bm25s', 5))}"
            for name, group in groups
            if group
        )
        sentences.append(
            "The map's own file order (what the model sees; files without definitions never "
            f"appear in it) against plain bm25s on path + content: {figures}."
        )
    if "aider" in methods:
        sentences.append(
            f"Aider's map order reaches {shown(recall(results, 'aider', 5), '.0%')} R@5: it is "
            "built to show "
            "the definitions most used across the repository (the task's words only reweight "
            "edges), not to retrieve the file a task is about, so vendored or central modules "
            "(urllib3 inside requests, sympy's core) fill its first places. It is the ordering "
            "Aider's model sees, which is what this compares."
        )
    return " ".join(sentences)


def merge(quality: list[Path]) -> tuple[list[dict[str, object]], dict[str, str], int]:
    """`merge_records` of the quality files' lines."""
    lines = [line for path in quality for line in path.read_text().splitlines() if line.strip()]
    return merge_records([json.loads(line) for line in lines])


def merge_records(
    records: list[dict[str, Any]],
) -> tuple[list[dict[str, object]], dict[str, str], int]:
    """Quality records merged by case id; the methods that failed (left out of every case,
    with why); how many cases lack some other method's result (left out)."""
    merged: dict[str, dict[str, object]] = {}
    failures: dict[str, str] = {}
    for record in records:
        if "failed_method" in record:
            failures.setdefault(record["failed_method"], record["reason"])
            continue
        into = merged.setdefault(record["id"], {**record, "ranks": {}})
        into["ranks"].update(record["ranks"])  # type: ignore[attr-defined]
        into.update({k: v for k, v in record.items() if k.endswith("_s")})
    for record in merged.values():
        for method in failures:
            record["ranks"].pop(method, None)  # type: ignore[attr-defined]
    methods = set().union(*(set(r["ranks"]) for r in merged.values()))  # type: ignore[call-overload]
    results = [r for r in merged.values() if set(r["ranks"]) == methods]  # type: ignore[call-overload]
    return results, failures, len(merged) - len(results)


def missing(
    tools: list[str],
    speed: list[dict[str, object]],
    results: list[dict[str, object]],
    failures: dict[str, str],
) -> dict[str, str]:
    """What was asked for and has no figure: a tool's build on a repository, or its ranking."""
    out = {
        f"{tool} (build speed, {row['repo']})": why_not(row.get(tool))
        for row in speed
        for tool in tools
        if measured(row.get(tool)) is None
    }
    methods = set(results[0]["ranks"]) if results else set()  # type: ignore[call-overload]
    if "aider" in tools and "aider" not in methods:
        out["aider (localisation)"] = failures.get("aider", "no Aider result in the quality files")
    if "acb" in tools and "bm25" not in methods:
        out["acb (localisation)"] = failures.get("acb", "no acb result in the quality files")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--speed", type=Path, action="append", default=[])
    parser.add_argument(
        "--quality",
        type=Path,
        action="append",
        required=True,
        help="results JSONL; several files (e.g. an acb run and an Aider run) merge by case id",
    )
    parser.add_argument("--tools", default="acb,aider", help="the tools the report must have")
    parser.add_argument("--write", action="store_true")
    add_allow_missing(parser)
    args = parser.parse_args(argv)
    speed = [row for path in args.speed for row in json.loads(path.read_text())]
    results, failures, dropped = merge(args.quality)
    if dropped:
        print(f"{dropped} cases lack some method's result: left out", file=sys.stderr)
    if not results:
        parser.error("no case has a result from every method: nothing to report")
    overall, per_repo = quality_tables(results)
    sources: defaultdict[str, int] = defaultdict(int)
    for result in results:
        sources[str(result["source"])] += 1
    cpu = subprocess.run(
        ["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    acb_rank = statistics.median(float(r["acb_rank_s"]) for r in results)  # type: ignore[arg-type]
    aider_rank = [float(r["aider_rank_s"]) for r in results if "aider_rank_s" in r]  # type: ignore[arg-type]
    versions = {
        str(d["version"]) for r in speed if (d := measured(r.get("aider"))) and "version" in d
    }
    aider_named = f"Aider {', '.join(sorted(versions))}" if versions else "Aider"
    aider_ranking = (
        f"Aider median {statistics.median(aider_rank):.2f} s (its `get_ranked_tags`, which "
        "re-reads its tag cache and runs networkx PageRank on every call)."
        if aider_rank and "aider" not in failures
        else "Aider: no figure (see the failures above)."
    )
    notes = missing(args.tools.split(","), speed, results, failures)
    failure_lines = "".join(f"- **{what}: not measured.** {why}\n" for what, why in notes.items())
    left_out = f"{dropped} cases lacked some method's result and are left out.\n" if dropped else ""
    failure_block = "\n" + failure_lines if failure_lines else ""
    section = f"""## Context engine (repo map)

Machine: {cpu}, {subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()} cores, Python {platform.python_version()}; {date.today().isoformat()}. {aider_named} in its own venv
(`aider.repomap.RepoMap`, driven by `bench/context/aider_worker.py`). Commands and inputs: bench/README.md.
{failure_block}{left_out}
### Build speed and memory

Both tools build the 1,024-token map with no focus over the same file list (the files acb can
parse, from `git ls-files`). Cold: no cache (acb's index deleted, Aider's `.aider.tags.cache.v4`
deleted); warm: again in a fresh process with nothing changed. Median of fresh processes,
timed inside the process from before the first file is read to the finished map (interpreter
start and imports excluded for both). acb parses in worker processes (2 on this machine); their
peak RSS is reported per worker.

{speed_table(speed)}

`mono` is a union of real code (flask, requests, click, pytest, sphinx and sympy at their
current HEADs plus the source files of a site-packages tree with Aider's dependencies), committed
as one repository of 14,060 files: no single fetchable repository here has 10k+ files (django
and golang/go exceed the 500 MB fetch limit).

### Localisation quality

{len(results)} cases from {len({r["repo"] for r in results})} projects: {sources.get("swe-bench-lite", 0)} SWE-bench Lite instances (problem statement → files
of the gold patch, repository at `base_commit`) and {sources.get("history", 0)} commits from the same projects' histories
(commit message → non-test `.py` files it modified, repository at the parent). Recall@k: the
share of a case's gold files among the first k files, averaged over cases. The blend weight is
chosen on the history cases only; the SWE-bench Lite columns are held out from that choice.

{overall}

Per project, R@5:

{per_repo}

Ranking time per query (index current, ranking built): acb median {acb_rank * 1000:.0f} ms per method;
{aider_ranking}

**Reading.** {reading(speed, results)}
"""
    return conclude(section, "## Context engine", args.write, notes, args.allow_missing)


if __name__ == "__main__":
    raise SystemExit(main())
