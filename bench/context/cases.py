"""Build the file-localisation cases: a query (an issue or a commit message), the repository at
the commit before the fix, and the gold set (the non-test source files the fix changed).

Two sources, both real history:
- SWE-bench Lite instances (`../shared/data/swe-bench-lite-test.json`) for the repositories we
  have: the problem statement is the query, the files the gold `patch` touches are the gold set,
  the repository is at `base_commit`;
- commits from each repository's history: the commit message (subject and body, trailers
  dropped) is the query, the non-test `.py` files it modified are the gold set, the repository
  is at its parent. Commits are sampled with a fixed seed from the most recent eligible ones.

Usage: python bench/context/cases.py --repos DIR --swe-bench FILE --out cases.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
from pathlib import Path

SWE_BENCH_REPOS = {
    "sympy/sympy": "sympy",
    "pytest-dev/pytest": "pytest",
    "sphinx-doc/sphinx": "sphinx",
    "psf/requests": "requests",
    "pallets/flask": "flask",
}
HISTORY_REPOS = ("flask", "requests", "click", "pytest", "sphinx", "sympy")
TRAILER = re.compile(r"^[A-Za-z-]+-by:|^Co-authored-by:|^Signed-off-by:|^Change-Id:", re.I)
SKIP_SUBJECT = re.compile(r"^(merge|bump|release|revert|version|prepare|update changelog)", re.I)


def is_test(path: str) -> bool:
    parts = path.split("/")
    name = parts[-1]
    return (
        name.startswith("test_")
        or name.endswith("_test.py")
        or name == "conftest.py"
        or any(p in {"test", "tests", "testing"} for p in parts[:-1])
    )


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout


def exists_at(repo: Path, commit: str, paths: list[str]) -> list[str]:
    listed = set(git(repo, "ls-tree", "-r", "--name-only", commit).splitlines())
    return [p for p in paths if p in listed]


def swe_bench_cases(data: Path, repos: Path) -> list[dict[str, object]]:
    cases = []
    for item in json.loads(data.read_text()):
        name = SWE_BENCH_REPOS.get(item["repo"])
        if name is None or not (repos / name).is_dir():
            continue
        touched = re.findall(r"^diff --git a/(\S+) b/", item["patch"], re.M)
        gold = exists_at(repos / name, item["base_commit"], sorted(set(touched)))
        if not gold:
            continue
        cases.append(
            {
                "id": item["instance_id"],
                "source": "swe-bench-lite",
                "repo": name,
                "commit": item["base_commit"],
                "query": item["problem_statement"],
                "gold": gold,
            }
        )
    return cases


def history_cases(
    repo: Path, name: str, count: int, window: int, seed: int
) -> list[dict[str, object]]:
    log = git(
        repo,
        "log",
        "--no-merges",
        "-n",
        str(window * 4),
        "--format=%x1e%H %P%x1f%B%x1f",
        "--name-status",
        "--diff-filter=AMDR",
    )
    eligible = []
    for record in log.split("\x1e")[1:]:
        head, message, changes = record.split("\x1f")
        ids = head.split()
        if len(ids) != 2:
            continue
        lines = [ln for ln in message.strip().splitlines() if not TRAILER.match(ln.strip())]
        query = "\n".join(lines).strip()
        if len(query) < 40 or SKIP_SUBJECT.match(query):
            continue
        status = [ln.split("\t") for ln in changes.strip().splitlines() if "\t" in ln]
        if not status or len(status) > 8:
            continue
        gold = [
            parts[-1]
            for parts in status
            if parts[0] == "M" and parts[-1].endswith(".py") and not is_test(parts[-1])
        ]
        if not 1 <= len(gold) <= 3:
            continue
        eligible.append(
            {
                "id": f"{name}@{ids[0][:10]}",
                "source": "history",
                "repo": name,
                "commit": ids[1],
                "query": query,
                "gold": sorted(gold),
            }
        )
        if len(eligible) >= window:
            break
    random.Random(f"{seed}:{name}").shuffle(eligible)
    return eligible[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repos", type=Path, required=True, help="directory of clones")
    parser.add_argument("--swe-bench", type=Path, help="swe-bench-lite-test.json")
    parser.add_argument("--per-repo", type=int, default=40, help="history cases per repository")
    parser.add_argument("--window", type=int, default=600, help="recent eligible commits to sample")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    cases: list[dict[str, object]] = []
    if args.swe_bench and args.swe_bench.is_file():
        cases += swe_bench_cases(args.swe_bench, args.repos)
    for name in HISTORY_REPOS:
        if (args.repos / name).is_dir():
            cases += history_cases(args.repos / name, name, args.per_repo, args.window, args.seed)
    with args.out.open("w") as out:
        for case in cases:
            out.write(json.dumps(case) + "\n")
    by_source: dict[str, int] = {}
    for case in cases:
        key = f"{case['source']}:{case['repo']}"
        by_source[key] = by_source.get(key, 0) + 1
    print(f"{len(cases)} cases -> {args.out}: {by_source}")


if __name__ == "__main__":
    main()
