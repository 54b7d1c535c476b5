"""Generated tests that earn their place (TestGen-LLM's filters, CoverUp's feedback).

The model is shown a module with its uncovered lines marked and asked for test modules. Each
candidate must parse, run, pass three times in a row on its own (a flaky test is worse than
none), and then add line or branch coverage over the suite kept so far — or, with mutation
testing on, kill a mutant the suite lets survive. Everything else is rejected, with the reason
recorded; the reasons of earlier rejections in the same project go into the next prompt.
"""

from __future__ import annotations

import ast
import configparser
import contextlib
import os
import re
import tomllib
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from autocodebase.events import Event, TestCandidate
from autocodebase.models.base import Message, Model, Usage
from autocodebase.models.retry import RetryPolicy, call_with_retries
from autocodebase.quality.coverage import Coverage, measure
from autocodebase.quality.detect import TestCommand
from autocodebase.quality.model_text import fences, strip_thinking
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
    module = import_path(workspace, target)
    parts = [
        f"Module `{module}` ({target}); tests import it as `import {module}` or "
        f"`from {module} import ...`. Lines marked `!` are not executed by the current tests:",
        f"```python\n{numbered}\n```",
        "Uncovered: "
        + (", ".join(f"{a}-{b}" if a != b else f"{a}" for a, b in segments) or "none"),
    ]
    example = existing_test_example(workspace, target)
    if example is not None:
        path, excerpt = example
        parts.append(
            f"An existing test file of the project ({path}), to follow its idioms (imports, "
            f"fixtures, style):\n```python\n{excerpt}\n```"
        )
    fixtures = conftest_fixtures(workspace)
    if fixtures:
        parts.append("Fixtures the project's conftest.py files define: " + ", ".join(fixtures))
    if survivors:
        shown = "; ".join(f"{m.path}:{m.line} {m.description}" for m in survivors[:10])
        parts.append(
            f"The suite does not notice these changes to the code (surviving mutants): {shown}"
        )
    if guidance:
        parts.append(guidance)
    parts.append("Write tests that execute the marked lines and check their results.")
    return "\n\n".join(parts)


def import_path(workspace: Path, target: str) -> str:
    """The dotted name tests import `target` by. In a src layout (`src/pkg/mod.py`) that is
    `pkg.mod`, not `src.pkg.mod`: a test importing the latter gets a second copy of the
    package, or none. The roots come from the project's configuration (setuptools, hatch,
    poetry, pdm, maturin, pytest's `pythonpath`), else a `src/` directory that is not itself a
    package; anything else is imported from the project's root, as `python -m pytest` does."""
    path = PurePosixPath(target).with_suffix("")
    for directory, package in _source_roots(workspace):
        try:
            rest = path.relative_to(directory) if directory not in ("", ".") else path
        except ValueError:
            continue
        parts = [*filter(None, package.split(".")), *rest.parts]
        if parts and parts[-1] == "__init__":
            parts.pop()
        if parts:
            return ".".join(parts)
    parts = list(path.parts)
    if parts and parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _source_roots(workspace: Path) -> list[tuple[str, str]]:
    """(directory, package it holds: '' for a root of top-level packages) pairs, most
    specific first."""
    found: list[tuple[str, str]] = []
    try:
        config = tomllib.loads((workspace / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        config = {}
    tool = config.get("tool", {}) if isinstance(config.get("tool"), dict) else {}

    def section(*keys: str) -> Any:
        value: Any = tool
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        return value

    def strings(value: Any) -> list[str]:
        if isinstance(value, str):
            return [value]
        return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []

    package_dir = section("setuptools", "package-dir")
    if isinstance(package_dir, dict):
        found += [(str(d), str(p)) for p, d in package_dir.items() if isinstance(d, str)]
    found += [(d, "") for d in strings(section("setuptools", "packages", "find", "where"))]
    for package in strings(section("hatch", "build", "targets", "wheel", "packages")):
        parent = PurePosixPath(package).parent.as_posix()
        found.append((parent, ""))
    sources = section("hatch", "build", "targets", "wheel", "sources")
    found += [(d, "") for d in strings(sources)]
    if isinstance(sources, dict):
        found += [(str(d), str(p).replace("/", ".")) for d, p in sources.items()]
    poetry = section("poetry", "packages")
    if isinstance(poetry, list):
        found += [(p["from"], "") for p in poetry if isinstance(p, dict) and "from" in p]
    found += [(d, "") for d in strings(section("pdm", "build", "package-dir"))]
    found += [(d, "") for d in strings(section("maturin", "python-source"))]
    found += [(d, "") for d in strings(section("pytest", "ini_options", "pythonpath"))]
    setup_cfg = configparser.ConfigParser()
    with contextlib.suppress(configparser.Error, UnicodeDecodeError):
        setup_cfg.read(workspace / "setup.cfg", encoding="utf-8")
    for line in setup_cfg.get("options", "package_dir", fallback="").splitlines():
        package, _, directory = line.partition("=")
        if directory.strip():
            found.append((directory.strip(), package.strip()))
    where = setup_cfg.get("options.packages.find", "where", fallback="").strip()
    if where:
        found.append((where, ""))
    if (workspace / "src").is_dir() and not (workspace / "src/__init__.py").exists():
        found.append(("src", ""))
    cleaned = {
        (PurePosixPath(d.strip()).as_posix().strip("/") or ".", p.strip())
        for d, p in found
        if d.strip() and not PurePosixPath(d.strip()).is_absolute()
    }
    return sorted(cleaned, key=lambda root: (-len(PurePosixPath(root[0]).parts), root))


EXAMPLE_LINES = 40
EXAMPLE_CHARS = 1_600
"""A short excerpt of one existing test file: enough to show imports, a fixture and a test."""
_SKIPPED_DIRS = {"node_modules", "site-packages", "venv", "build", "dist", "__pycache__"}


def existing_test_files(workspace: Path) -> list[str]:
    """The project's test files, not acb's own generated or candidate ones; hidden and
    virtualenv directories are not searched."""
    found: list[str] = []
    for directory, subdirectories, names in os.walk(workspace):
        subdirectories[:] = sorted(
            d for d in subdirectories if not d.startswith(".") and d not in _SKIPPED_DIRS
        )
        for name in sorted(names):
            if not (
                (name.startswith("test_") or name.endswith("_test.py")) and name.endswith(".py")
            ):
                continue
            if name == CANDIDATE_NAME or name.endswith("_generated.py"):
                continue
            found.append((Path(directory) / name).relative_to(workspace).as_posix())
    return found


def existing_test_example(workspace: Path, target: str) -> tuple[str, str] | None:
    """(path, excerpt) of the existing test file most like the ones wanted: one that imports
    the target, else one named after it, else the first; None when the project has none."""
    files = existing_test_files(workspace)
    if not files:
        return None
    module = import_path(workspace, target)
    stem = PurePosixPath(target).stem

    def rank(path: str) -> tuple[int, int, str]:
        text = _read(workspace / path, HEAD_CHARS)
        imports = re.search(rf"^\s*(?:from|import)\s+{re.escape(module)}\b", text, re.M)
        named = stem in PurePosixPath(path).stem
        return (0 if imports else 1, 0 if named else 1, path)

    chosen = min(files, key=rank)
    lines = _read(workspace / chosen).splitlines()
    excerpt: list[str] = []
    size = 0
    for line in lines[:EXAMPLE_LINES]:
        size += len(line) + 1
        if size > EXAMPLE_CHARS:
            break
        excerpt.append(line)
    if len(excerpt) < len(lines):
        while excerpt and excerpt[-1].strip():  # end at a blank line, not mid-function
            excerpt.pop()
        while excerpt and not excerpt[-1].strip():
            excerpt.pop()
        excerpt += ["", "# ..."]
    text = "\n".join(excerpt).strip()
    return (chosen, text) if text and text != "# ..." else None


def conftest_fixtures(workspace: Path) -> list[str]:
    """Names of the fixtures the project's conftest.py files define, so the model may use
    them (and only them, with pytest's own)."""
    names: list[str] = []
    for directory, subdirectories, files in os.walk(workspace):
        subdirectories[:] = sorted(
            d for d in subdirectories if not d.startswith(".") and d not in _SKIPPED_DIRS
        )
        if "conftest.py" not in files:
            continue
        try:
            tree = ast.parse(_read(Path(directory) / "conftest.py"))
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and any(
                "fixture" in ast.unparse(d) for d in node.decorator_list
            ):
                names.append(node.name)
    return sorted(set(names))[:30]


HEAD_CHARS = 5_000
"""Where a test file's imports are: enough to rank hundreds of test files without reading
them whole."""


def _read(path: Path, limit: int = 100_000) -> str:
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            return handle.read(limit)
    except OSError:
        return ""


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
