"""What earlier test generation in a project learned, and how the next one changes course.

Every candidate `acb tests` judged is in the ledger with its verdict and the reason in a few
words. Before asking for tests of a module, the generator reads that record: the lessons that
apply to the module (its own rejections, and the project-wide ones: imports and fixtures that do
not exist) become a short section of the prompt, and the record picks the strategy. Example
tests that twice added nothing give way to property-based tests (or, without hypothesis, to
error paths and boundaries); mutants that survived the last run are aimed at; a test that was
flaky asks for determinism. The plan used is itself recorded (`test_lessons`), so the ledger
shows what each round was told, and `acb tests --forget` starts the record afresh without
deleting it (the ledger is an audit trail).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Strategy = Literal["examples", "properties", "edge-cases", "mutants"]
PROJECT_WIDE = ("import-error", "fixture-error")
"""Failures whose lesson holds for every module of the project."""
NO_GAIN_BEFORE_SWITCH = 2
MAX_LESSONS = 6
ADVICE: dict[str, str] = {
    "syntax-error": "answer with complete modules that parse",
    "import-error": "import only names the project has",
    "fixture-error": "use only fixtures that exist",
    "repr-assertion": "assert on values and attributes, never on repr() or str() of objects",
    "nondeterministic": "no clocks, sleeps, randomness or set/dict ordering in tests",
    "flaky": "each test must pass on every run, in any order, without shared state",
    "failing": "read the code before asserting what it returns",
    "no-gain": "these exercised lines already covered; aim at the marked lines",
}
NONDETERMINISM = re.compile(
    r"\b(?:time\.(?:time|sleep|monotonic|perf_counter)|datetime\.(?:now|today|utcnow)|"
    r"random\.|uuid\.uuid[14]|os\.urandom|secrets\.|threading\.)"
)


@dataclass(frozen=True)
class Outcome:
    """One judged candidate, as the ledger holds it."""

    target: str
    verdict: str
    category: str
    reason: str
    killed: int = 0
    run_id: str = ""


@dataclass(frozen=True)
class Plan:
    """How the next generation for `target` goes: its strategy, why, and the lessons shown."""

    target: str
    strategy: Strategy
    why: str
    lessons: tuple[str, ...] = ()
    survivors: tuple[str, ...] = ()

    def prompt_section(self) -> str:
        """What the prompt says of the record (empty when there is none)."""
        parts = []
        if self.lessons:
            parts.append(
                "Lessons from earlier generated tests for this project (newest first):\n"
                + "\n".join(f"- {lesson}" for lesson in self.lessons)
            )
        if self.strategy == "properties":
            parts.append(
                f"Strategy: {self.why}. Write property-based tests with hypothesis (`from "
                "hypothesis import given, strategies as st`): properties that hold for all "
                "inputs of the functions with marked lines."
            )
        elif self.strategy == "edge-cases":
            parts.append(
                f"Strategy: {self.why}. Write tests of the error paths and boundary inputs of "
                "the marked lines (empty, None, wrong types, limits, exceptions raised)."
            )
        elif self.strategy == "mutants":
            parts.append(f"Strategy: {self.why}: write assertions that fail under each.")
        if self.survivors:
            shown = "; ".join(self.survivors[:10])
            parts.append(
                f"These changes to the code went unnoticed by the tests last time: {shown}"
            )
        return "\n\n".join(parts)


def outcomes_from(rows: Iterable[Mapping[str, Any]]) -> list[Outcome]:
    """`test_candidate` payloads (newest first) as outcomes."""
    return [
        Outcome(
            target=str(row.get("target", "")),
            verdict=str(row.get("verdict", "")),
            category=str(row.get("category", "")),
            reason=_one_line(str(row.get("reason", ""))),
            killed=int(row.get("killed", 0) or 0),
            run_id=str(row.get("run_id", "")),
        )
        for row in rows
    ]


def _one_line(reason: str, limit: int = 160) -> str:
    """A reason as the prompt shows it: pytest's multi-line diffs folded into one short line."""
    flat = " ".join(reason.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def nondeterminism_in(code: str) -> list[str]:
    """The clocks, randomness and threads a test module uses, by name."""
    return sorted({m.group(0).rstrip(".") for m in NONDETERMINISM.finditer(code)})


def plan_for(
    target: str,
    outcomes: list[Outcome],
    survivors: list[str],
    hypothesis_available: Callable[[], bool],
) -> Plan:
    """The plan for `target` from the record (`outcomes` newest first; `survivors` the mutants
    the last mutation run of it left alive)."""
    own = [o for o in outcomes if o.target == target]
    lessons = _lessons(own, [o for o in outcomes if o.target != target])
    rejected = Counter(o.category for o in own if o.verdict == "rejected")
    latest_run = own[0].run_id if own else ""
    kept_last = any(o.verdict == "kept" for o in own if o.run_id == latest_run)
    alive = tuple(survivors)
    # Example tests that keep adding nothing call for another kind of test, whether or not
    # mutants survive (they are shown either way: a property can kill them too).
    if rejected["no-gain"] >= NO_GAIN_BEFORE_SWITCH and not kept_last:
        why = f"{rejected['no-gain']} example-based tests of {target} added no coverage"
        if hypothesis_available():  # asked only here: the probe runs a sandboxed command
            return Plan(target, "properties", why, lessons, alive)
        return Plan(target, "edge-cases", f"{why} (hypothesis is not installed)", lessons, alive)
    if survivors:
        why = f"{len(survivors)} mutant(s) survived the last mutation run of {target}"
        return Plan(target, "mutants", why, lessons, alive)
    why = "no record for this module yet" if not own else "the record asks for no change"
    return Plan(target, "examples", why, lessons)


def _lessons(own: list[Outcome], others: list[Outcome]) -> tuple[str, ...]:
    """One line per kind of failure: the module's own first, then the project-wide kinds seen
    in other modules; each with its count, advice and the newest reason."""
    lines: list[str] = []
    for pool, where in ((own, "this module"), (others, "other modules")):
        failures = [o for o in pool if o.verdict == "rejected"]
        if where == "other modules":
            failures = [o for o in failures if o.category in PROJECT_WIDE]
        counted = Counter(o.category for o in failures)
        for category, count in counted.most_common():
            newest = next(o for o in failures if o.category == category)
            advice = ADVICE.get(category, "avoid this")
            lines.append(f"{category} ×{count} in {where}: {advice} (e.g. {newest.reason})")
    kept = [o for o in own if o.verdict == "kept"]
    if kept:
        killed = sum(o.killed for o in kept)
        note = f", killing {killed} mutant(s)" if killed else ""
        lines.append(f"kept ×{len(kept)} in this module{note}: e.g. {kept[0].reason}")
    return tuple(lines[:MAX_LESSONS])


Record = tuple[float, str, str, Mapping[str, Any]]
"""(time, run id, event type, payload), newest first: `LedgerReader.test_memory`."""


class Memory:
    """The record of a project's earlier generations, asked for one module's plan at a time."""

    def __init__(self, records: Sequence[Record], hypothesis_available: Callable[[], bool]) -> None:
        self.records = list(records)
        self.outcomes = outcomes_from(
            {**payload, "run_id": run_id}
            for _, run_id, kind, payload in records
            if kind == "test_candidate"
        )
        self.survivors: dict[str, list[str]] = {}
        for _, _, kind, payload in records:  # newest first: the first seen is the latest
            if kind == "mutants_survived":
                self.survivors.setdefault(
                    str(payload.get("target")), [str(m) for m in payload.get("mutants", [])]
                )
        self._hypothesis = hypothesis_available
        self._hypothesis_known: bool | None = None

    def hypothesis_available(self) -> bool:
        if self._hypothesis_known is None:
            self._hypothesis_known = self._hypothesis()
        return self._hypothesis_known

    def plan(self, target: str) -> Plan:
        return plan_for(
            target, self.outcomes, self.survivors.get(target, []), self.hypothesis_available
        )


def history_lines(memory: Memory, targets: list[str] | None = None) -> list[str]:
    """`acb tests --history`: per module, each run's candidates and verdicts, the strategy it
    was given, and what the next generation would be told."""
    by_target: dict[str, dict[str, list[Record]]] = {}
    for record in memory.records:
        target = str(record[3].get("target", ""))
        if targets and target not in targets:
            continue
        by_target.setdefault(target, {}).setdefault(record[1], []).append(record)
    if not by_target:
        return ["acb tests has no record here" + (" for " + ", ".join(targets) if targets else "")]
    lines: list[str] = []
    for target, runs in sorted(by_target.items()):
        lines.append(f"{target}:")
        for run_id, records in runs.items():  # newest run first
            verdicts = [r[3] for r in records if r[2] == "test_candidate"]
            kept = sum(1 for v in verdicts if v.get("verdict") == "kept")
            counted = Counter(
                str(v.get("category")) for v in verdicts if v.get("verdict") != "kept"
            )
            given = next((r[3] for r in records if r[2] == "test_lessons"), None)
            strategy = f"strategy {given.get('strategy')}; " if given else ""
            rate = f" ({kept / len(verdicts):.0%} accepted)" if verdicts else ""
            rejected = ", ".join(f"{n} {c}" for c, n in counted.most_common()) or "none"
            lines.append(
                f"  run {run_id[:12]}: {strategy}{len(verdicts)} candidate(s), kept {kept}{rate}; "
                f"rejected: {rejected}"
            )
        plan = memory.plan(target)
        lines.append(f"  next: {plan.strategy} ({plan.why})")
        lines += [f"    - {lesson}" for lesson in plan.lessons]
    return lines
