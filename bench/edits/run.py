"""Run the edit corpus, in each perturbation class, through acb's engine, Codex CLI's
apply_patch and Aider's SEARCH/REPLACE matcher; count applied-correctly / refused / misapplied.

Peers are called, not copied: Codex's `apply_patch` is its native binary invoked through a
symlink of that name; Aider's matcher runs in Aider's own virtualenv (see bench/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO))

from autocodebase.edits.apply import apply_edits
from autocodebase.edits.model import PatchError
from autocodebase.edits.parse import parse_edits
from bench.edits.perturb import PERTURBATIONS, Ops
from bench.report import write_section

TARGET = "target.py"
CACHE = Path(os.environ.get("ACB_BENCH_CACHE", Path.home() / ".cache" / "acb-bench"))


def codex_patch(ops: Ops, anchor: str = "") -> str:
    """A Codex patch; `anchor` is the enclosing def/class git named, as Codex asks models to give."""
    body = "\n".join(op + text for op, text in ops)
    header = f"@@ {anchor}" if anchor else "@@"
    return f"*** Begin Patch\n*** Update File: {TARGET}\n{header}\n{body}\n*** End Patch\n"


def search_replace_texts(ops: Ops) -> tuple[str, str]:
    search = "".join(t + "\n" for op, t in ops if op != "+")
    replace = "".join(t + "\n" for op, t in ops if op != "-")
    return search, replace


def search_replace_patch(ops: Ops) -> str:
    search, replace = search_replace_texts(ops)
    return f"{TARGET}\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n"


def classify(result: str | None, original: str, expected: str) -> str:
    if result is None or result == original:
        return "refused"
    return "correct" if result == expected else "misapplied"


def run_acb(patch_text: str, original: str, workdir: Path) -> str | None:
    target = workdir / TARGET
    target.write_text(original)
    try:
        apply_edits(workdir, parse_edits(patch_text))
    except PatchError:
        return None
    return target.read_text()


def run_codex(binary: Path, patch_text: str, original: str, workdir: Path) -> str | None:
    target = workdir / TARGET
    target.write_text(original)
    done = subprocess.run([str(binary), patch_text], cwd=workdir, capture_output=True, check=False)
    return target.read_text() if done.returncode == 0 else None


class AiderWorker:
    def __init__(self, python: Path):
        self.process = subprocess.Popen(
            [str(python), str(Path(__file__).with_name("aider_worker.py"))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )

    def __call__(self, original: str, ops: Ops) -> str | None:
        search, replace = search_replace_texts(ops)
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(
            json.dumps({"original": original, "search": search, "replace": replace}) + "\n"
        )
        self.process.stdin.flush()
        content: str | None = json.loads(self.process.stdout.readline())["content"]
        return content


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", default=str(CACHE / "edits-corpus.jsonl"))
    parser.add_argument("--codex", default=str(CACHE / "bin" / "apply_patch"))
    parser.add_argument("--aider-python", default=str(CACHE / "aider-venv" / "bin" / "python"))
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    parser.add_argument("--limit", type=int, default=0)
    args = parser.parse_args()

    edits = [json.loads(line) for line in Path(args.corpus).read_text().splitlines()]
    if args.limit:
        edits = edits[: args.limit]
    Engine = Callable[[str, Ops, str, Path], str | None]
    engines: dict[str, Engine] = {
        "acb (Codex patch)": lambda o, ops, a, w: run_acb(codex_patch(ops, a), o, w),
        "acb (SEARCH/REPLACE)": lambda o, ops, a, w: run_acb(search_replace_patch(ops), o, w),
    }
    if Path(args.codex).exists():
        codex = Path(args.codex)
        engines["Codex CLI apply_patch"] = lambda o, ops, a, w: run_codex(
            codex, codex_patch(ops, a), o, w
        )
    if Path(args.aider_python).exists():
        aider = AiderWorker(Path(args.aider_python))
        engines["Aider SEARCH/REPLACE"] = lambda o, ops, a, w: aider(o, ops)

    counts: dict[tuple[str, str], Counter[str]] = {}
    cases: Counter[str] = Counter()
    misapplied_examples: dict[str, list[str]] = {}
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(scratch)
        for edit in edits:
            ops: Ops = [tuple(x) for x in edit["ops"]]  # type: ignore[misc]
            for name, perturb in PERTURBATIONS.items():
                variant = perturb(ops)
                if variant is None:
                    continue
                cases[name] += 1
                for engine, apply in engines.items():
                    result = apply(edit["original"], variant, edit.get("anchor", ""), workdir)
                    outcome = classify(result, edit["original"], edit["expected"])
                    counts.setdefault((engine, name), Counter())[outcome] += 1
                    if outcome == "misapplied":
                        misapplied_examples.setdefault(engine, []).append(
                            f"{edit['repo']}@{edit['commit']}:{edit['path']} ({name})"
                        )
    elapsed = time.monotonic() - started

    repos = sorted({e["repo"] for e in edits})
    lines = [
        "## Edit engine",
        "",
        f"Measured {time.strftime('%Y-%m-%d')}: {len(edits)} real edits (git diff hunks of .py "
        f"files from {', '.join(repos)}), each replayed alone against its parent file; "
        f"{sum(cases.values())} cases across the perturbation classes. "
        "Method: `python bench/edits/corpus.py` then `python bench/edits/run.py --write` "
        "(see bench/README.md). An engine is *correct* when the file equals the file the real "
        "commit produced, *refused* when it reports failure or changes nothing, *misapplied* "
        "when it changes the file into anything else.",
        "",
        "| perturbation | cases | " + " | ".join(engines) + " |",
        "|---|---|" + "---|" * len(engines),
    ]
    for name in PERTURBATIONS:
        cells = []
        for engine in engines:
            c = counts.get((engine, name), Counter())
            cells.append(f"{c['correct']} ✓ / {c['refused']} refused / {c['misapplied']} ✗")
        lines.append(f"| {name} | {cases[name]} | " + " | ".join(cells) + " |")
    totals = []
    for engine in engines:
        c = sum((counts.get((engine, n), Counter()) for n in PERTURBATIONS), Counter())
        totals.append(f"{c['correct']} ✓ / {c['refused']} refused / {c['misapplied']} ✗")
    lines.append(f"| **all** | {sum(cases.values())} | " + " | ".join(totals) + " |")
    lines += [
        "",
        "✓ applied correctly, ✗ misapplied (wrong place or wrong content).",
        "",
        "Classes (bench/edits/perturb.py): *clean* is the hunk as git wrote it; "
        "*trailing-whitespace* adds spaces after every quoted line; *indentation* quotes the "
        "snippet flush-left (or four spaces deeper when dedenting would lose information), added "
        "lines included; *unicode-punctuation* curls the quotes of quoted lines (only hunks with "
        "quotes); *elided-context* replaces the middle of three or more leading context lines "
        "with `...` (aider's elision marker, which acb also reads); *stale-context* renames an "
        "identifier in one context line, as if the file changed after the model read it. "
        "Codex patches carry git's enclosing def/class as their `@@` anchor, as Codex's own "
        "prompt asks models to; SEARCH/REPLACE blocks cannot carry one, which is why acb refuses "
        "a few more of them: those are hunks whose text occurs more than once in the file, where "
        "Aider takes the first occurrence (and is wrong about half the time).",
        "",
    ]
    for engine, examples in misapplied_examples.items():
        lines.append(f"- {engine}, first misapplied cases: " + "; ".join(examples[:3]))
    lines.append(f"\nWall time for the whole run: {elapsed:.0f} s.\n")
    section = "\n".join(lines)
    print(section)
    if args.write:
        write_section("## Edit engine", section)


if __name__ == "__main__":
    main()
