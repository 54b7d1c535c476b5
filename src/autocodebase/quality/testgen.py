"""Generated tests that earn their place (TestGen-LLM's filters, CoverUp's feedback).

The model is shown a module with its uncovered lines marked and asked for test modules. Each
candidate must parse, run, pass three times in a row on its own (a flaky test is worse than
none), and then add line or branch coverage over the suite kept so far — or, with mutation
testing on, kill a mutant the suite lets survive. Everything else is rejected, with the reason
recorded; the reasons of earlier rejections in the same project go into the next prompt.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from autocodebase.events import Event, TestCandidate
from autocodebase.models.base import Message, Model, Usage
from autocodebase.models.retry import RetryPolicy, call_with_retries
from autocodebase.quality.coverage import Coverage, measure
from autocodebase.quality.detect import TestCommand
from autocodebase.quality.mutation import Mutant, MutationResult, mutants, run_mutants, score
from autocodebase.quality.results import TestReport
from autocodebase.quality.runner import run_test_command
from autocodebase.sandbox.gate import CommandGate

REPEATS = 3
"""Runs a candidate must pass in a row (TestGen-LLM used five; three catch the usual flakes)."""
MAX_TARGETS = 3
CANDIDATE_NAME = "test_acb_candidate.py"
SYSTEM = """\
You write pytest tests for an existing Python project. Answer with one or more complete test \
modules, each in its own ```python fenced block. Each module must import what it tests from \
the project, use plain pytest (fixtures only if the project defines them or pytest provides \
them), be deterministic (no time, randomness or network), and assert on behaviour, so that a \
wrong implementation fails."""


@dataclass
class Candidate:
    target: str
    code: str
    verdict: str = "rejected"
    category: str = ""
    """syntax-error, import-error, fixture-error, failing, flaky, no-gain, or kept."""
    reason: str = ""
    gain: int = 0


@dataclass
class GenerationReport:
    before: Coverage
    after: Coverage
    candidates: list[Candidate] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    mutation_before: float | None = None
    mutation_after: float | None = None
    mutants: int = 0


@dataclass
class TestGenerator:
    __test__ = False  # not a pytest test class, despite the name

    workspace: Path
    model: Model
    gate: CommandGate
    env: Mapping[str, str]
    emit: Callable[[Event], None]
    timeout_s: int = 600
    guidance: str = ""
    """What earlier rejections in this project teach (see `guidance_from`)."""
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    """A 429 or a cut stream is retried as the agent loop retries it, not the end of the run."""
    on_model_call: Callable[[Usage], object] | None = None
    """Told each model call's usage, so the run's record counts its steps, tokens and cost."""

    def run(
        self,
        targets: list[str] | None = None,
        target_coverage: float = 100.0,
        rounds: int = 2,
        mutation: bool = False,
    ) -> GenerationReport:
        current = self._measure([])
        report = GenerationReport(before=current, after=current)
        chosen = targets or least_covered(current)
        survivors: list[Mutant] = []
        all_mutants: list[Mutant] = []
        if mutation:
            all_mutants = [m for t in chosen for m in mutants(t, (self.workspace / t).read_text())]
            baseline = self._mutation_run(all_mutants, [])
            report.mutation_before = score(baseline)
            survivors = [r.mutant for r in baseline if not r.killed]
            report.mutants = len(all_mutants)
        kept: list[Candidate] = []
        for _ in range(rounds):
            if current.percent >= target_coverage and not survivors:
                break
            for target in chosen:
                for code in self._ask(target, current, survivors):
                    candidate = Candidate(target, code)
                    current, survivors = self._judge(candidate, current, kept, survivors)
                    report.candidates.append(candidate)
                    if candidate.verdict == "kept":
                        kept.append(candidate)
        report.written = self._write(kept)
        report.after = self._measure([])
        if mutation:
            report.mutation_after = score(self._mutation_run(all_mutants, []))
        return report

    # -- judging ---------------------------------------------------------------------------

    def _judge(
        self,
        candidate: Candidate,
        current: Coverage,
        kept: list[Candidate],
        survivors: list[Mutant],
    ) -> tuple[Coverage, list[Mutant]]:
        try:
            ast.parse(candidate.code)
        except SyntaxError as exc:
            self._reject(
                candidate, "syntax-error", f"does not parse: {exc.msg} (line {exc.lineno})"
            )
            return current, survivors
        path = self._candidate_path()
        path.write_text(merge_modules([*(k.code for k in kept), candidate.code]))
        try:
            relative = path.relative_to(self.workspace).as_posix()
            for attempt in range(REPEATS):
                run = self._pytest([relative])
                if not run.ok:
                    category, why = classify_failure(run)
                    if attempt > 0:
                        category, why = "flaky", f"passed {attempt} time(s), then: {why}"
                    self._reject(candidate, category, why)
                    return current, survivors
            measured = self._measure([relative])
            gain = measured.covered - current.covered
            if gain > 0:
                candidate.gain = gain
                self._keep(candidate, f"+{gain} lines/branches covered")
                if survivors:  # what it kills no longer needs killing
                    dead = {r.mutant for r in self._mutation_run(survivors, [relative]) if r.killed}
                    survivors = [m for m in survivors if m not in dead]
                return measured, survivors
            if survivors:
                killed = [r.mutant for r in self._mutation_run(survivors, [relative]) if r.killed]
                if killed:
                    first = killed[0]
                    self._keep(
                        candidate,
                        f"kills {len(killed)} surviving mutant(s), e.g. {first.description} at "
                        f"{first.path}:{first.line}",
                    )
                    return current, [m for m in survivors if m not in killed]
            self._reject(candidate, "no-gain", "passes but covers nothing new and kills no mutant")
            return current, survivors
        finally:
            path.unlink(missing_ok=True)

    def _keep(self, candidate: Candidate, reason: str) -> None:
        candidate.verdict, candidate.category, candidate.reason = "kept", "kept", reason
        self._record(candidate)

    def _reject(self, candidate: Candidate, category: str, reason: str) -> None:
        candidate.verdict, candidate.category, candidate.reason = "rejected", category, reason
        self._record(candidate)

    def _record(self, candidate: Candidate) -> None:
        self.emit(
            TestCandidate(
                target=candidate.target,
                verdict=candidate.verdict,
                category=candidate.category,
                reason=candidate.reason[:500],
                gain=candidate.gain,
                code=candidate.code,
            )
        )

    # -- running ---------------------------------------------------------------------------

    def _tests_dir(self) -> Path:
        for name in ("tests", "test"):
            if (self.workspace / name).is_dir():
                return self.workspace / name
        return self.workspace

    def _candidate_path(self) -> Path:
        return self._tests_dir() / CANDIDATE_NAME

    def _pytest(self, selection: list[str]) -> TestReport:
        command = TestCommand("pytest", "python -m pytest -q", "acb tests")
        return run_test_command(
            command,
            self.workspace,
            gate=self.gate,
            env=self.env,
            timeout_s=self.timeout_s,
            selector=" ".join(selection),
        )

    def _measure(self, extra: list[str]) -> Coverage:
        """Coverage of the project's suite plus `extra` test files (all of it when empty)."""
        if not extra:
            return measure(self.workspace, self.gate, self.env, self.timeout_s)
        existing = [
            p.relative_to(self.workspace).as_posix()
            for p in sorted(self.workspace.rglob("test_*.py"))
            if not any(part.startswith(".") for part in p.relative_to(self.workspace).parts)
        ]
        selection = sorted(set(existing) | set(extra))
        return measure(self.workspace, self.gate, self.env, self.timeout_s, selection)

    def _mutation_run(self, found: list[Mutant], only: list[str]) -> list[MutationResult]:
        command = "python -m pytest -x -q -p no:cacheprovider " + " ".join(only)
        return run_mutants(
            self.workspace, found, command.rstrip(), self.gate, self.env, self.timeout_s
        )

    # -- asking ----------------------------------------------------------------------------

    def _ask(self, target: str, current: Coverage, survivors: list[Mutant]) -> list[str]:
        prompt = build_prompt(self.workspace, target, current, survivors, self.guidance)
        messages = [Message("system", SYSTEM), Message("user", prompt)]
        response = call_with_retries(lambda: self.model.complete(messages, []), self.retry)
        if self.on_model_call is not None:
            self.on_model_call(response.usage)
        return extract_modules(response.message.content)

    def _write(self, kept: list[Candidate]) -> list[str]:
        written: list[str] = []
        by_target: dict[str, list[str]] = {}
        for candidate in kept:
            by_target.setdefault(candidate.target, []).append(candidate.code)
        for target, codes in by_target.items():
            stem = Path(target).stem
            path = self._tests_dir() / f"test_{stem}_generated.py"
            previous = [path.read_text()] if path.exists() else []
            header = (
                f'"""Tests for {target} written by `acb tests`: each was kept because it passed '
                'three runs in a row and raised coverage or killed a mutant."""\n\n'
            )
            body = merge_modules([*previous, *codes])
            path.write_text(body if previous else header + body)
            written.append(path.relative_to(self.workspace).as_posix())
        return written


def least_covered(coverage: Coverage, limit: int = MAX_TARGETS) -> list[str]:
    """Source files with something left to cover, least covered first."""
    ranked = sorted(
        (f for f in coverage.files.values() if f.total and f.covered < f.total),
        key=lambda f: (f.covered / f.total, -f.total),
    )
    return [f.path for f in ranked[:limit]]


def build_prompt(
    workspace: Path, target: str, coverage: Coverage, survivors: list[Mutant], guidance: str
) -> str:
    """The module with its uncovered lines marked (CoverUp's feedback), plus what to avoid."""
    lines = (workspace / target).read_text().splitlines()
    segments = coverage.uncovered_segments(target)
    missing = {n for a, b in segments for n in range(a, b + 1)}
    numbered = "\n".join(
        f"{n:>4}{'!' if n in missing else ' '} {text}" for n, text in enumerate(lines, start=1)
    )
    module = target.removesuffix(".py").replace("/", ".")
    parts = [
        f"Module `{module}` ({target}). Lines marked `!` are not executed by the current tests:",
        f"```python\n{numbered}\n```",
        "Uncovered: "
        + (", ".join(f"{a}-{b}" if a != b else f"{a}" for a, b in segments) or "none"),
    ]
    if survivors:
        shown = "; ".join(f"{m.path}:{m.line} {m.description}" for m in survivors[:10])
        parts.append(
            f"The suite does not notice these changes to the code (surviving mutants): {shown}"
        )
    if guidance:
        parts.append(guidance)
    parts.append("Write tests that execute the marked lines and check their results.")
    return "\n\n".join(parts)


_FENCE = re.compile(r"```(?:python|py)?\n(.*?)```", re.S)


def extract_modules(text: str) -> list[str]:
    return [block.strip() + "\n" for block in _FENCE.findall(text) if block.strip()]


def merge_modules(modules: list[str]) -> str:
    """One module from several: imports once, every test kept (renamed when names clash)."""
    imports: list[str] = []
    body: list[str] = []
    names: Counter[str] = Counter()
    for source in modules:
        tree = ast.parse(source)
        for node in tree.body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                text = ast.unparse(node)
                if text not in imports:
                    imports.append(text)
                continue
            if (
                isinstance(node, ast.Expr)
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)
            ):
                continue  # module docstrings of the parts
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names[node.name] += 1
                if names[node.name] > 1:
                    node.name = f"{node.name}_{names[node.name]}"
            body.append(ast.unparse(node))
    return "\n".join(imports) + "\n\n\n" + "\n\n\n".join(body) + "\n"


def classify_failure(report: TestReport) -> tuple[str, str]:
    """Why a candidate did not pass, as a category the next prompt can learn from."""
    text = " ".join([*(f"{c.message} {c.details}" for c in report.failures), report.output_tail])
    first = next((c.message or c.details for c in report.failures if c.message or c.details), "")
    if re.search(r"ModuleNotFoundError|ImportError|cannot import name", text):
        found = re.search(r"(?:ModuleNotFoundError|ImportError): [^\n]*", text) or re.search(
            r"(?:ModuleNotFoundError|ImportError)[^\n]*", text
        )
        return "import-error", found.group(0) if found else "import failed"
    if re.search(r"fixture '[^']+' not found", text):
        found = re.search(r"fixture '[^']+' not found", text)
        return "fixture-error", found.group(0) if found else "unknown fixture"
    if report.timed_out:
        return "failing", "timed out"
    return "failing", (first or report.summary())[:300]


def guidance_from(rejections: list[dict[str, object]]) -> str:
    """A paragraph for the prompt from earlier rejected candidates of this project."""
    counted = Counter(str(r.get("category")) for r in rejections if r.get("verdict") == "rejected")
    if not counted:
        return ""
    examples: dict[str, str] = {}
    for rejection in rejections:
        examples.setdefault(str(rejection.get("category")), str(rejection.get("reason", ""))[:160])
    lines = [
        f"- {category} ×{count}: {examples.get(category, '')}"
        for category, count in counted.most_common(5)
    ]
    return (
        "Earlier generated tests for this project were rejected; avoid repeating these:\n"
        + "\n".join(lines)
    )
