"""Run the edit corpus, in each perturbation class, through acb's engine, Codex CLI's
apply_patch and Aider's SEARCH/REPLACE matcher; count applied-correctly / refused / misapplied.

Peers are called, not copied: Codex's `apply_patch` is its native binary invoked through a
symlink of that name; Aider's matcher runs in Aider's own virtualenv (see bench/README.md).

Each engine first applies one clean probe edit; one that cannot (not installed, a wrong binary,
a worker that dies) is failed with its reason, and so is one that fails mid-run (its counts are
dropped: a crash is not a refusal). The command exits 1 without writing unless
`--allow-missing` (bench/outcome.py).
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO))

from autocodebase.edits.apply import apply_edits
from autocodebase.edits.model import PatchError
from autocodebase.edits.parse import parse_edits
from bench.edits.perturb import PERTURBATIONS, Ops
from bench.outcome import add_allow_missing, conclude, one_line

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


class EngineFailed(Exception):
    """A peer engine that could not run (not a refusal: the program itself failed), with why.
    Its counts are dropped: a crash counted as a refusal would be a number for nothing."""


def run_codex(binary: Path, patch_text: str, original: str, workdir: Path) -> str | None:
    target = workdir / TARGET
    target.write_text(original)
    try:
        done = subprocess.run(
            [str(binary), patch_text], cwd=workdir, capture_output=True, check=False, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise EngineFailed(f"{binary}: {error}") from error
    if done.returncode < 0 or done.returncode > 1:  # killed, or not the applier's own refusal
        said = (done.stdout + done.stderr).decode(errors="replace")
        raise EngineFailed(f"{binary} exited {done.returncode}: {one_line(said[-300:])}")
    return target.read_text() if done.returncode == 0 else None


class AiderWorker:
    def __init__(self, python: Path):
        # Its stderr (a line per refusal) goes to a file: an unread pipe would fill and stall it.
        self.log = tempfile.TemporaryFile("w+")  # noqa: SIM115 - open while the worker runs
        self.process = subprocess.Popen(
            [str(python), str(Path(__file__).with_name("aider_worker.py"))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )

    def __call__(self, original: str, ops: Ops) -> str | None:
        search, replace = search_replace_texts(ops)
        assert self.process.stdin and self.process.stdout
        try:
            self.process.stdin.write(
                json.dumps({"original": original, "search": search, "replace": replace}) + "\n"
            )
            self.process.stdin.flush()
            answer = json.loads(self.process.stdout.readline())
        except (OSError, ValueError) as error:  # the worker died: say what it said last
            self.process.kill()
            self.process.communicate()
            self.log.seek(0)
            said = self.log.read()
            raise EngineFailed(f"aider_worker.py stopped: {one_line(said[-400:])}") from error
        content: str | None = answer["content"]
        return content


Engine = Callable[[str, Ops, str, Path], str | None]
PROBE = {
    "original": "def f():\n    return 1\n",
    "ops": [(" ", "def f():"), ("-", "    return 1"), ("+", "    return 2")],
    "expected": "def f():\n    return 2\n",
}
"""One clean edit every engine must apply before its counts mean anything: an engine that
refuses even this is broken here (a wrong binary, a missing module), not strict."""


def probe(name: str, apply: Engine, workdir: Path) -> str:
    """Why `apply` cannot be measured, or "" when it applies the probe edit."""
    try:
        result = apply(PROBE["original"], PROBE["ops"], "", workdir)  # type: ignore[arg-type]
    except EngineFailed as error:
        return str(error)
    if result != PROBE["expected"]:
        return f"{name} did not apply a one-line clean edit (got {result!r:.80})"
    return ""


def peer_engines(codex: Path, aider_python: Path) -> tuple[dict[str, Engine], dict[str, str]]:
    """The peer engines asked for, and why any of them cannot run."""
    engines: dict[str, Engine] = {}
    failures: dict[str, str] = {}
    if codex.exists():
        engines[CODEX] = lambda o, ops, a, w: run_codex(codex, codex_patch(ops, a), o, w)
    else:
        failures[CODEX] = f"{codex} not found (see bench/README.md: a symlink to Codex's binary)"
    if aider_python.exists():
        aider = AiderWorker(aider_python)
        engines[AIDER] = lambda o, ops, a, w: aider(o, ops)
    else:
        failures[AIDER] = f"{aider_python} not found (see bench/README.md: Aider's own venv)"
    return engines, failures


CODEX = "Codex CLI apply_patch"
AIDER = "Aider SEARCH/REPLACE"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", default=str(CACHE / "edits-corpus.jsonl"))
    parser.add_argument("--codex", default=str(CACHE / "bin" / "apply_patch"))
    parser.add_argument("--aider-python", default=str(CACHE / "aider-venv" / "bin" / "python"))
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    parser.add_argument("--limit", type=int, default=0)
    add_allow_missing(parser)
    args = parser.parse_args(argv)

    edits = [json.loads(line) for line in Path(args.corpus).read_text().splitlines()]
    if args.limit:
        edits = edits[: args.limit]
    engines: dict[str, Engine] = {
        "acb (Codex patch)": lambda o, ops, a, w: run_acb(codex_patch(ops, a), o, w),
        "acb (SEARCH/REPLACE)": lambda o, ops, a, w: run_acb(search_replace_patch(ops), o, w),
    }
    peers, failures = peer_engines(Path(args.codex), Path(args.aider_python))
    engines |= peers
    tally = Tally()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(scratch)
        for name, apply in engines.items():
            if problem := probe(name, apply, workdir):
                failures[name] = problem
        for edit in edits:
            ops: Ops = [tuple(x) for x in edit["ops"]]
            for name, perturb in PERTURBATIONS.items():
                variant = perturb(ops)
                if variant is None:
                    continue
                tally.cases[name] += 1
                for engine, apply in engines.items():
                    if engine in failures:
                        continue
                    try:
                        result = apply(edit["original"], variant, edit.get("anchor", ""), workdir)
                    except EngineFailed as error:
                        failures[engine] = f"{error} (at {edit['repo']}@{edit['commit']})"
                        continue
                    outcome = classify(result, edit["original"], edit["expected"])
                    tally.add(engine, name, outcome)
                    if outcome == "misapplied":
                        tally.misapplied.setdefault(engine, []).append(
                            f"{edit['repo']}@{edit['commit']}:{edit['path']} ({name})"
                        )
    elapsed = time.monotonic() - started
    columns = [*engines, *(name for name in failures if name not in engines)]
    section = render(columns, failures, tally, edits, elapsed)
    return conclude(section, HEADING, args.write, failures, args.allow_missing, "engine")


HEADING = "## Edit engine"


@dataclass
class Tally:
    """Outcomes by (engine, perturbation class), cases by class, misapplied examples."""

    counts: dict[tuple[str, str], Counter[str]] = field(default_factory=dict)
    cases: Counter[str] = field(default_factory=Counter)
    misapplied: dict[str, list[str]] = field(default_factory=dict)

    def add(self, engine: str, perturbation: str, outcome: str) -> None:
        self.counts.setdefault((engine, perturbation), Counter())[outcome] += 1


def render(
    engines: list[str],
    failures: dict[str, str],
    tally: Tally,
    edits: list[dict[str, Any]],
    elapsed: float,
) -> str:
    """The section. A failed engine keeps its column, with `failed` in every cell and its
    reason under the table, and no count: what it did before it failed is not a result."""

    def cells(engine: str, c: Counter[str]) -> str:
        if engine in failures:
            return "failed"
        return f"{c['correct']} ✓ / {c['refused']} refused / {c['misapplied']} ✗"

    repos = sorted({e["repo"] for e in edits})
    lines = [
        HEADING,
        "",
        f"Measured {time.strftime('%Y-%m-%d')}: {len(edits)} real edits (git diff hunks of .py "
        f"files from {', '.join(repos)}), each replayed alone against its parent file; "
        f"{sum(tally.cases.values())} cases across the perturbation classes. "
        "Method: `python bench/edits/corpus.py` then `python bench/edits/run.py --write` "
        "(see bench/README.md). An engine is *correct* when the file equals the file the real "
        "commit produced, *refused* when it reports failure or changes nothing, *misapplied* "
        "when it changes the file into anything else.",
        "",
        "| perturbation | cases | " + " | ".join(engines) + " |",
        "|---|---|" + "---|" * len(engines),
    ]
    for name in PERTURBATIONS:
        row = [cells(e, tally.counts.get((e, name), Counter())) for e in engines]
        lines.append(f"| {name} | {tally.cases[name]} | " + " | ".join(row) + " |")
    totals = [
        cells(e, sum((tally.counts.get((e, n), Counter()) for n in PERTURBATIONS), Counter()))
        for e in engines
    ]
    lines.append(f"| **all** | {sum(tally.cases.values())} | " + " | ".join(totals) + " |")
    lines += [
        "",
        "✓ applied correctly, ✗ misapplied (wrong place or wrong content).",
        "",
        *[f"- **{e}: not measured.** {one_line(why, 600)}" for e, why in failures.items()],
        *([""] if failures else []),
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
    for engine, examples in tally.misapplied.items():
        if engine not in failures:
            lines.append(f"- {engine}, first misapplied cases: " + "; ".join(examples[:3]))
    lines.append(f"\nWall time for the whole run: {elapsed:.0f} s.\n")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
