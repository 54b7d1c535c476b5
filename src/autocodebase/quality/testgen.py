"""Generated tests that earn their place (TestGen-LLM's filters, CoverUp's feedback).

The model is shown a module with its uncovered lines marked and asked for test modules. Each
candidate must parse, run, pass three times in a row on its own (a flaky test is worse than
none), and then add line or branch coverage over the suite kept so far — or, with mutation
testing on, kill a mutant the suite lets survive. Everything else is rejected, with the reason
recorded. What earlier generations of the project learned (`testgen_memory`) goes into the
next prompt and chooses its strategy.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from autocodebase.events import Event, MutantsSurvived, TestCandidate, TestLessons
from autocodebase.models.base import Message, Model, Usage
from autocodebase.models.retry import RetryPolicy, call_with_retries
from autocodebase.quality.coverage import Coverage, measure
from autocodebase.quality.detect import TestCommand
from autocodebase.quality.model_text import fences, strip_thinking
from autocodebase.quality.mutation import Mutant, MutationResult, mutants, run_mutants, score
from autocodebase.quality.results import TestReport
from autocodebase.quality.runner import run_test_command
from autocodebase.quality.testgen_memory import Memory, Plan, nondeterminism_in
from autocodebase.quality.testgen_prompt import CANDIDATE_NAME, build_prompt
from autocodebase.sandbox.gate import CommandGate

REPEATS = 3
"""Runs a candidate must pass in a row (TestGen-LLM used five; three catch the usual flakes)."""
MAX_TARGETS = 3
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
    """syntax-error, import-error, fixture-error, failing, repr-assertion, flaky,
    nondeterministic, no-gain, or kept."""
    reason: str = ""
    gain: int = 0
    killed: int = 0


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
    memory: Memory | None = None
    """The record of earlier generations in this project: each target's lessons and strategy."""
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    """A 429 or a cut stream is retried as the agent loop retries it, not the end of the run."""
    on_model_call: Callable[[Usage], object] | None = None
    """Told each model call's usage, so the run's record counts its steps, tokens and cost."""
    _plans: dict[str, Plan | None] = field(default_factory=dict, init=False, repr=False)

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
        self._plans = {target: self._plan(target) for target in chosen}
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
            final = self._mutation_run(all_mutants, [])
            report.mutation_after = score(final)
            for target in chosen:
                alive = [r.mutant for r in final if not r.killed and r.mutant.path == target]
                shown = [f"{m.path}:{m.line} {m.description}" for m in alive]
                self.emit(MutantsSurvived(target=target, mutants=shown[:50]))
        return report

    def _plan(self, target: str) -> Plan | None:
        """The target's plan from the record, recorded as given (None without a record)."""
        if self.memory is None:
            return None
        plan = self.memory.plan(target)
        self.emit(
            TestLessons(
                target=target, strategy=plan.strategy, why=plan.why, lessons=list(plan.lessons)
            )
        )
        return plan

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
                        used = nondeterminism_in(candidate.code)
                        if used:
                            category, why = "nondeterministic", f"uses {', '.join(used)}; {why}"
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
                    candidate.killed = len(dead)
                return measured, survivors
            if survivors:
                killed = [r.mutant for r in self._mutation_run(survivors, [relative]) if r.killed]
                if killed:
                    first = killed[0]
                    candidate.killed = len(killed)
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
                killed=candidate.killed,
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
        plan = self._plans.get(target)
        guidance = plan.prompt_section() if plan is not None else ""
        prompt = build_prompt(self.workspace, target, current, survivors, guidance)
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


MAX_PROSE_PARAGRAPHS = 5
"""Paragraphs of closing prose cut from a bare answer before giving up on it."""
_PYTHON_FENCES = ("", "python", "py", "python3", "py3", "pytest")
_HAS_TEST = re.compile(r"^\s*(?:async\s+)?def test_|^\s*class Test", re.M)
_CODE_START = re.compile(
    r"^(?:import |from \S+ import |def test_|async def test_|@pytest|class Test)"
)


def extract_modules(text: str) -> list[str]:
    """The test modules in a model's answer. Any fence counts (``` or ~~~, tagged python or
    untagged) if it holds a test; a block in another language (a shell command, output) or
    one quoting the code under test is not a candidate. With no fence at all, the answer
    itself (from its first line of code) is taken when it parses and defines a test: local
    models often answer with the bare module. A `<think>` block is never read: its drafts
    are not the answer."""
    text = strip_thinking(text)
    blocks = fences(text)
    if blocks:
        return [
            block.body.strip() + "\n"
            for block in blocks
            if block.language in _PYTHON_FENCES and _HAS_TEST.search(block.body)
        ]
    bare = _bare_module(text)
    return [bare] if bare else []


def _bare_module(text: str) -> str:
    """The answer from its first line of code, with trailing prose paragraphs cut until it
    parses; '' unless what remains is Python with a test in it."""
    lines = text.splitlines()
    first = next((n for n, line in enumerate(lines) if _CODE_START.match(line)), None)
    if first is None:
        return ""
    code = "\n".join(lines[first:]).strip() + "\n"
    ends = [m.start() for m in re.finditer(r"\n\s*\n(?=\S)", code)]
    for end in [len(code), *reversed(ends[-MAX_PROSE_PARAGRAPHS:])]:
        candidate = code[:end].strip() + "\n"
        try:
            ast.parse(candidate)
        except SyntaxError:
            continue
        return candidate if _HAS_TEST.search(candidate) else ""
    return ""


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
    if re.search(r" object at 0x[0-9a-fA-F]+", text):
        return "repr-assertion", (first or "asserts on an object's repr")[:300]
    return "failing", (first or report.summary())[:300]
