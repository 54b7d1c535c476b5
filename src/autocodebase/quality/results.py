"""Test results as a structure: which tests passed, failed, errored or were skipped, with the
failure's message, location and the traceback frames that matter.

From JUnit XML when the runner wrote it (pytest, Maven, Gradle, ...), from `go test -json`,
else from the runner's console output (pytest, unittest and Django's runner, cargo/libtest,
TAP).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal

Outcome = Literal["passed", "failed", "error", "skipped"]
MAX_DETAIL_LINES = 12


@dataclass(frozen=True)
class CaseResult:
    name: str
    outcome: Outcome
    message: str = ""
    location: str = ""
    """file:line when the runner says."""
    details: str = ""
    """The end of the traceback or failure output (at most a dozen lines)."""


@dataclass
class TestReport:
    __test__ = False  # not a pytest test class, despite the name

    runner: str
    command: str
    exit_code: int | None
    cases: list[CaseResult] = field(default_factory=list)
    source: str = "exit-status"
    """Where the case results came from: junit, go-json, output, or only the exit status."""
    output_tail: str = ""
    timed_out: bool = False
    duration_s: float = 0.0
    refused: str | None = None
    """Why the tests did not run at all (the sandbox or the user refused)."""
    selector: str | None = None
    """The tests asked for (files, node ids, `-k EXPR`); None: the whole suite."""

    @property
    def failures(self) -> list[CaseResult]:
        return [c for c in self.cases if c.outcome in ("failed", "error")]

    @property
    def passed(self) -> list[CaseResult]:
        return [c for c in self.cases if c.outcome == "passed"]

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.failures and not self.timed_out and not self.refused

    def summary(self) -> str:
        if self.timed_out:
            return f"tests timed out after {self.duration_s:.0f} s ({self.command})"
        if not self.cases:
            state = "passed" if self.exit_code == 0 else f"failed (exit {self.exit_code})"
            return f"tests {state}; no per-test results could be read ({self.command})"
        counts = {
            o: sum(1 for c in self.cases if c.outcome == o)
            for o in ("passed", "failed", "error", "skipped")
        }
        shown = ", ".join(f"{n} {o}" for o, n in counts.items() if n)
        return f"{shown} ({self.command})"


def _trim(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return "\n".join(lines[-MAX_DETAIL_LINES:])


def _location(text: str) -> str:
    """The last `file:line` of a traceback that is not inside an installed package."""
    found = ""
    for match in re.finditer(
        r'(?:File "([^"]+)", line (\d+))|(?:^([\w./-]+\.\w+):(\d+):)', text, re.M
    ):
        path, line = (
            (match.group(1), match.group(2)) if match.group(1) else (match.group(3), match.group(4))
        )
        if "site-packages" not in path and not path.startswith("/usr/"):
            found = f"{path}:{line}"
    return found


def parse_junit(
    paths: list[Path], root: Path | None = None, selector: str | None = None
) -> list[CaseResult]:
    """Cases from JUnit XML files. With `root` (the directory pytest ran in), pytest's cases
    are named by their node ids (`pytest_node_id`); `selector` is what the run was given."""
    from junitparser import Error, Failure, JUnitXml, Skipped, TestCase
    from junitparser.junitparser import JUnitXmlError

    resolver = _NodeIds(root, selector) if root is not None else None
    cases: list[CaseResult] = []
    for path in paths:
        try:
            xml = JUnitXml.fromfile(str(path))
        except (JUnitXmlError, OSError, SyntaxError, ValueError):
            continue
        suites = [xml] if xml._tag == "testsuite" else list(xml)
        for suite in suites:
            for case in suite:
                if not isinstance(case, TestCase):
                    continue  # a nested suite: rare, and its cases are reported at top level
                name = f"{case.classname}::{case.name}" if case.classname else str(case.name)
                file, line = case._elem.get("file"), case._elem.get("line")
                if resolver is not None and suite.name == "pytest":
                    name = resolver.node_id(case.classname or "", str(case.name), file) or name
                if file and line and line.isdigit():
                    # pytest writes the 0-based line of the test function.
                    number = int(line) + (1 if suite.name == "pytest" else 0)
                    location = f"{file}:{number}"
                else:
                    location = ""
                outcome: Outcome = "passed"
                message = details = ""
                for result in case.result:
                    if isinstance(result, Failure | Error):
                        outcome = "failed" if isinstance(result, Failure) else "error"
                        message = (result.message or "").strip()
                        details = _trim(result.text or "")
                        # Where it failed beats where the test starts.
                        location = _location(result.text or "") or location
                        break
                    if isinstance(result, Skipped):
                        outcome = "skipped"
                        message = (result.message or "").strip()
                cases.append(CaseResult(name, outcome, message[:500], location, details))
    return cases


class _NodeIds:
    """pytest's node ids rebuilt from its JUnit XML, as paths from the directory it ran in.

    The XML says `classname="tests.test_x.TestC" name="test_m[1]"`, which is no selector:
    pytest made the classname from the node id `tests/test_x.py::TestC::test_m[1]`, turning
    the file's slashes into dots. Which dots were slashes is found by asking which file
    exists. The path is relative to pytest's rootdir, which is not always where it ran (with
    no configuration file it is the common directory of the paths it was given), so the
    file is also looked for under the directories of the selector's paths."""

    def __init__(self, root: Path, selector: str | None):
        self.root = root
        bases = [PurePosixPath("")]
        for word in (selector or "").split():
            if word.startswith("-") or "/" not in word:
                continue
            path = PurePosixPath(word.split("::")[0])
            bases += [p for p in reversed(path.parents) if p not in bases]
        self.bases = bases
        self.found: dict[str, str | None] = {}

    def node_id(self, classname: str, name: str, file: str | None) -> str | None:
        """The node id of a case, or None when no file of the project matches its name."""
        dotted = classname.split(".") if classname else []
        members = [name] if classname else []
        if not classname:
            # A file that could not be collected is a case named like a module: `tests.t`.
            dotted = name.split(".")
        module = (file or "").removesuffix(".py").replace("/", ".")
        if file and file.endswith(".py") and (classname + ".").startswith(module + "."):
            # pytest's own location, when the test is defined in the file it was collected
            # from: exact even when a directory's name has a dot in it.
            found = self._file(file)
            if found:
                return "::".join([found, *dotted[module.count(".") + 1 :], *members])
        for end in range(len(dotted), 0, -1):
            found = self._file("/".join(dotted[:end]) + ".py")
            if found:
                return "::".join([found, *dotted[end:], *members])
        return None

    def _file(self, path: str) -> str | None:
        if path not in self.found:
            self.found[path] = next(
                (str(base / path) for base in self.bases if (self.root / base / path).is_file()),
                None,
            )
        return self.found[path]


def parse_go_json(output: str) -> list[CaseResult]:
    """`go test -json` events: one result per test, its output lines kept for failures."""
    printed: dict[str, list[str]] = {}
    results: dict[str, CaseResult] = {}
    for line in output.splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(event, dict) or not event.get("Test"):
            continue
        name = f"{event.get('Package', '')}::{event['Test']}"
        action = event.get("Action")
        if action == "output":
            printed.setdefault(name, []).append(str(event.get("Output", "")))
        elif action in ("pass", "fail", "skip"):
            text = "".join(printed.get(name, []))
            outcome = _GO_OUTCOMES[action]
            message = next(
                (ln.strip() for ln in text.splitlines() if re.search(r"\.go:\d+:", ln)), ""
            )
            results[name] = CaseResult(
                name, outcome, message, _location(text), _trim(text) if action == "fail" else ""
            )
    return list(results.values())


_GO_OUTCOMES: dict[str, Outcome] = {"pass": "passed", "fail": "failed", "skip": "skipped"}
_LIBTEST_OUTCOMES: dict[str, Outcome] = {"ok": "passed", "FAILED": "failed", "ignored": "skipped"}
_UNITTEST_OUTCOMES: dict[str, Outcome] = {
    "ok": "passed",
    "FAIL": "failed",
    "ERROR": "error",
    "expected failure": "passed",  # as SWE-bench and pytest's xfail count it
    "unexpected success": "failed",  # unittest's own verdict: the run is not successful
}
_PYTEST_SUMMARY = re.compile(r"^(FAILED|ERROR) (\S+)(?: - (.*))?$", re.M)
_NOT_ELLIPSIS = r"(?:(?! \.\.\. )[^\n])"
_UNITTEST = re.compile(
    # `test_x (pkg.Class)`, a subtest's ` (i=1)` (Python 3.11+), a docstring's first line,
    # then ` ... ` and the status, after anything the test printed (`... noiseok`). A test
    # whose subtests failed gets no status before 3.11, so the next test starts on its line.
    rf"(?:^|(?<=\.\.\. ))[ \t]*([\w.]+) \(([\w.]+)\){_NOT_ELLIPSIS}*?"
    rf"(?:\n{_NOT_ELLIPSIS}*?)?? \.\.\. {_NOT_ELLIPSIS}*?"
    r"(ok|FAIL|ERROR|skipped.*|expected failure|unexpected success)$",
    re.M,
)
_UNITTEST_BLOCK = re.compile(
    # `FAIL: test_x (pkg.Class)`, maybe a subtest's `(i=1)` and a docstring line, a rule,
    # the traceback up to the next block or the closing `Ran N tests`.
    r"^(FAIL|ERROR): ([\w.]+) \(([\w.]+)\)[^\n]*\n(?:(?!-{10})[^\n]*\n)?-{10,}\n"
    r"(.*?)(?=^=+$|^-+\nRan )",
    re.M | re.S,
)
_LIBTEST = re.compile(r"^test (\S+) \.\.\. (ok|FAILED|ignored)", re.M)
_LIBTEST_BLOCK = re.compile(r"^---- (\S+) stdout ----\n(.*?)(?=^---- |^failures:|\Z)", re.M | re.S)
_TAP = re.compile(r"^(not ok|ok) \d+ (?:- )?(.*)$", re.M)


def parse_output(output: str) -> list[CaseResult]:
    """Per-test results from console output, for runners that wrote nothing structured."""
    if _UNITTEST.search(output) or _UNITTEST_BLOCK.search(output):
        return _parse_unittest(output)
    if _LIBTEST.search(output):
        blocks = {m.group(1): m.group(2) for m in _LIBTEST_BLOCK.finditer(output)}
        results = []
        for match in _LIBTEST.finditer(output):
            status = _LIBTEST_OUTCOMES[match.group(2)]
            block = blocks.get(match.group(1), "")
            message = next(
                (ln.strip() for ln in block.splitlines() if "panicked" in ln or "assert" in ln), ""
            )
            results.append(
                CaseResult(match.group(1), status, message, _location(block), _trim(block))
            )
        return results
    failing = [
        CaseResult(
            m.group(2), "failed" if m.group(1) == "FAILED" else "error", (m.group(3) or "").strip()
        )
        for m in _PYTEST_SUMMARY.finditer(output)
    ]
    if failing:
        return failing
    return [
        CaseResult(m.group(2).strip(), "passed" if m.group(1) == "ok" else "failed")
        for m in _TAP.finditer(output)
    ]


def _parse_unittest(output: str) -> list[CaseResult]:
    """unittest's verbose lines (and Django's runner, which prints the same), one case per
    test: a test's subtests count as the test (its worst outcome wins), and a failure block
    with no status line of its own (`setUpClass`, an import error) is a case too, so that a
    class that could not even be set up is not read as "nothing failed"."""
    blocks: dict[str, tuple[Outcome, str]] = {}
    for match in _UNITTEST_BLOCK.finditer(output):
        name = _unittest_name(match.group(2), match.group(3))
        kind: Outcome = "failed" if match.group(1) == "FAIL" else "error"
        blocks.setdefault(name, (kind, match.group(4)))
    outcomes: dict[str, Outcome] = {}
    said: dict[str, str] = {}
    for match in _UNITTEST.finditer(output):
        name, status = _unittest_name(match.group(1), match.group(2)), match.group(3)
        outcome = _UNITTEST_OUTCOMES.get(status, "skipped")
        if name not in outcomes or _RANK[outcome] >= _RANK[outcomes[name]]:
            outcomes[name] = outcome
            said[name] = "" if status in ("ok", "FAIL", "ERROR") else status
    for name, (kind, _) in blocks.items():
        if outcomes.get(name) not in ("failed", "error"):
            outcomes[name] = kind
    cases = []
    for name, outcome in outcomes.items():
        block = blocks.get(name, ("", ""))[1] if outcome in ("failed", "error") else ""
        message = _exception_line(block) or said.get(name, "")
        cases.append(CaseResult(name, outcome, message, _location(block), _trim(block)))
    return cases


_RANK: dict[Outcome, int] = {"skipped": 0, "passed": 1, "failed": 2, "error": 3}


def _exception_line(block: str) -> str:
    """The exception a traceback ended in (`AssertionError: 'a-b' != 'a_b'`), not the diff
    lines unittest prints after it."""
    lines = block.strip().splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("Traceback")]
    after = lines[starts[-1] + 1 :] if starts else lines
    found = next((ln for ln in after if ln.strip() and not ln[:1].isspace()), "")
    return (found or (lines[-1] if lines else "")).strip()[:500]


def _unittest_name(method: str, where: str) -> str:
    """`test_x (pkg.Class)` before Python 3.11, `test_x (pkg.Class.test_x)` since; a module
    that could not be imported is named by its label (`unittest.loader._FailedTest`)."""
    if where == _FAILED_IMPORT or where.startswith(_FAILED_IMPORT + "."):
        return method
    return where if where.endswith(f".{method}") else f"{where}.{method}"


_FAILED_IMPORT = "unittest.loader._FailedTest"


def failure_digest(report: TestReport, limit: int = 4000) -> str:
    """What the model needs to fix the failures, and no more: each failing test with its
    location, assertion and the last traceback lines; then the output tail if nothing could be
    read per test."""
    if report.timed_out:
        return report.summary() + "\n" + _trim(report.output_tail)
    parts = [report.summary()]
    note = ""
    for index, case in enumerate(report.failures):
        head = f"- {case.name}" + (f" ({case.location})" if case.location else "")
        body = _trim(case.details or case.message)
        parts.append(head + ("\n" + _indent(body) if body else ""))
        if sum(len(p) for p in parts) > limit:
            later = report.failures[index + 1 :]
            example = f', e.g. selector "{later[0].name}"' if later else ""
            note = (
                f"\n[{len(report.failures)} failing tests in all; the rest left out: pass "
                f"run_tests a selector (a test as named above, or a file) to see one{example}]"
            )
            break
    if not report.cases and report.exit_code:
        parts.append(_trim(report.output_tail))
    return "\n".join(parts)[: limit - len(note)] + note


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())
