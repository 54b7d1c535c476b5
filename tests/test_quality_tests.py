"""Finding, running and reading a project's tests: detection on a small project of each
ecosystem, parsers on each runner's real output format, and real runs in the sandbox for the
runners this machine has (pytest, unittest, node, cargo)."""

from __future__ import annotations

from pathlib import Path

import pytest

from autocodebase.quality.detect import detect, detect_all
from autocodebase.quality.results import (
    TestReport,
    failure_digest,
    parse_go_json,
    parse_junit,
    parse_output,
)
from tests.helpers import call_run_tests as call
from tests.helpers import tool_works, write_file

PROJECTS: dict[str, tuple[dict[str, str], str, str]] = {
    "pytest-ini": (
        {"pytest.ini": "[pytest]\n", "t/test_a.py": "def test_a(): pass\n"},
        "pytest",
        "python -m pytest -q",
    ),
    "pyproject": (
        {"pyproject.toml": "[tool.pytest.ini_options]\naddopts = '-q'\n"},
        "pytest",
        "python -m pytest -q",
    ),
    "setup-cfg": (
        {"setup.cfg": "[tool:pytest]\ntestpaths = tests\n"},
        "pytest",
        "python -m pytest -q",
    ),
    "unittest": (
        {"tests/test_m.py": "import unittest\n\nclass T(unittest.TestCase):\n    pass\n"},
        "unittest",
        "python -m unittest -v",
    ),
    "tox": ({"tox.ini": "[tox]\nenvlist = py311\n"}, "tox", "tox"),
    "nox": ({"noxfile.py": "import nox\n"}, "nox", "nox"),
    "npm": ({"package.json": '{"scripts": {"test": "node --test"}}'}, "npm", "npm test"),
    "pnpm": (
        {"package.json": '{"scripts": {"test": "vitest"}}', "pnpm-lock.yaml": ""},
        "pnpm",
        "pnpm test",
    ),
    "yarn": (
        {"package.json": '{"scripts": {"test": "jest"}}', "yarn.lock": ""},
        "yarn",
        "yarn test",
    ),
    "go": ({"go.mod": "module example.com/m\n"}, "go", "go test ./..."),
    "cargo": ({"Cargo.toml": "[package]\nname = 'm'\n"}, "cargo", "cargo test"),
    "maven": ({"pom.xml": "<project/>"}, "maven", "mvn -q -B test"),
    "gradle": ({"build.gradle": "", "gradlew": "#!/bin/sh\n"}, "gradle", "./gradlew test"),
    "make": ({"Makefile": "all:\n\ttrue\ntest:\n\ttrue\n"}, "make", "make test"),
}


@pytest.mark.parametrize("name", sorted(PROJECTS))
def test_each_ecosystem_is_detected(tmp_path: Path, name: str) -> None:
    files, runner, command = PROJECTS[name]
    for path, text in files.items():
        write_file(tmp_path / path, text)
    found = detect(tmp_path)
    assert found is not None and (found.runner, found.command) == (runner, command)
    assert found.reason


def test_detection_order_config_and_absence(tmp_path: Path) -> None:
    assert detect(tmp_path) is None
    write_file(
        tmp_path / "package.json",
        '{"scripts": {"test": "echo \\"Error: no test specified\\" && exit 1"}}',
    )
    assert detect(tmp_path) is None, "npm's placeholder script is not a test suite"
    write_file(tmp_path / "Makefile", "test:\n\tpytest\n")
    write_file(tmp_path / "pytest.ini", "[pytest]\n")
    assert [c.runner for c in detect_all(tmp_path)] == ["pytest", "make"], "direct runner first"
    configured = detect(tmp_path, "make check")
    assert configured is not None and (configured.runner, configured.command) == (
        "custom",
        "make check",
    )


PYTEST_JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="1"
failures="1" skipped="1" tests="4"><testcase classname="tests.test_core" name="test_ok"
file="tests/test_core.py" line="3" time="0.001"/><testcase classname="tests.test_core"
name="test_bad" file="tests/test_core.py" line="7" time="0.002"><failure message="assert 3 == 4">def
test_bad():
&gt;       assert add(1, 2) == 4
E       assert 3 == 4

tests/test_core.py:9: AssertionError</failure></testcase><testcase classname="tests.test_core"
name="test_skip" file="tests/test_core.py" line="11"><skipped message="not today"/></testcase>
<testcase classname="tests.test_io" name="test_setup" file="tests/test_io.py" line="1"><error
message="failed on setup with &quot;fixture 'db' not found&quot;">fixture 'db' not found</error>
</testcase></testsuite></testsuites>"""

SUREFIRE_JUNIT = """<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="com.example.AppTest" tests="2" failures="1" errors="0" skipped="0">
  <testcase name="adds" classname="com.example.AppTest" time="0.01"/>
  <testcase name="divides" classname="com.example.AppTest" time="0.01">
    <failure message="expected:&lt;2&gt; but was:&lt;3&gt;" type="java.lang.AssertionError">java.lang.AssertionError: expected:&lt;2&gt; but was:&lt;3&gt;
	at com.example.AppTest.divides(AppTest.java:14)</failure>
  </testcase>
</testsuite>"""


def test_junit_from_pytest_and_surefire(tmp_path: Path) -> None:
    write_file(tmp_path / "pytest.xml", PYTEST_JUNIT)
    write_file(tmp_path / "TEST-com.example.AppTest.xml", SUREFIRE_JUNIT)
    cases = {
        c.name: c
        for c in parse_junit([tmp_path / "pytest.xml", tmp_path / "TEST-com.example.AppTest.xml"])
    }
    assert {n: c.outcome for n, c in cases.items()} == {
        "tests.test_core::test_ok": "passed",
        "tests.test_core::test_bad": "failed",
        "tests.test_core::test_skip": "skipped",
        "tests.test_io::test_setup": "error",
        "com.example.AppTest::adds": "passed",
        "com.example.AppTest::divides": "failed",
    }
    bad = cases["tests.test_core::test_bad"]
    assert (bad.message, bad.location) == ("assert 3 == 4", "tests/test_core.py:9"), (
        "where it failed"
    )
    assert "E       assert 3 == 4" in bad.details
    assert cases["com.example.AppTest::divides"].message == "expected:<2> but was:<3>"
    assert parse_junit([tmp_path / "missing.xml"]) == []


def test_go_json_cargo_unittest_pytest_and_tap_output() -> None:
    go = "\n".join(
        [
            '{"Action":"run","Package":"m/calc","Test":"TestAdd"}',
            '{"Action":"output","Package":"m/calc","Test":"TestAdd","Output":"    calc_test.go:9: got 3, want 4\\n"}',
            '{"Action":"fail","Package":"m/calc","Test":"TestAdd","Elapsed":0}',
            '{"Action":"pass","Package":"m/calc","Test":"TestSub","Elapsed":0}',
            "not json",
        ]
    )
    assert [(c.name, c.outcome, c.message) for c in parse_go_json(go)] == [
        ("m/calc::TestAdd", "failed", "calc_test.go:9: got 3, want 4"),
        ("m/calc::TestSub", "passed", ""),
    ]
    cargo = """running 2 tests
test tests::adds ... ok
test tests::divides ... FAILED

failures:

---- tests::divides stdout ----
thread 'tests::divides' panicked at src/lib.rs:12:9:
assertion `left == right` failed
  left: 3
 right: 2

failures:
    tests::divides
"""
    parsed = parse_output(cargo)
    assert [(c.name, c.outcome) for c in parsed] == [
        ("tests::adds", "passed"),
        ("tests::divides", "failed"),
    ]
    assert "panicked at src/lib.rs:12:9" in parsed[1].message
    unittest = """test_add (test_m.T.test_add) ... ok
test_div (test_m.T.test_div) ... FAIL

======================================================================
FAIL: test_div (test_m.T.test_div)
----------------------------------------------------------------------
Traceback (most recent call last):
  File "/w/test_m.py", line 8, in test_div
    self.assertEqual(div(4, 2), 3)
AssertionError: 2 != 3

----------------------------------------------------------------------
Ran 2 tests in 0.001s
"""
    cases = parse_output(unittest)
    assert [(c.name, c.outcome) for c in cases] == [
        ("test_m.T.test_add", "passed"),
        ("test_m.T.test_div", "failed"),
    ]
    assert cases[1].message == "AssertionError: 2 != 3" and cases[1].location == "/w/test_m.py:8"
    pytest_summary = (
        "FAILED tests/test_a.py::test_x - assert 1 == 2\nERROR tests/test_b.py::test_y\n"
    )
    assert [(c.name, c.outcome, c.message) for c in parse_output(pytest_summary)] == [
        ("tests/test_a.py::test_x", "failed", "assert 1 == 2"),
        ("tests/test_b.py::test_y", "error", ""),
    ]
    tap = "TAP version 13\nok 1 - adds\nnot ok 2 - fails\n"
    assert [(c.name, c.outcome) for c in parse_output(tap)] == [
        ("adds", "passed"),
        ("fails", "failed"),
    ]


def test_the_digest_is_short_and_names_what_failed() -> None:
    noisy = "\n".join(f"frame {i}" for i in range(500))
    report = TestReport("pytest", "python -m pytest", 1, parse_output("FAILED t.py::a - boom\n"))
    report.cases[0] = type(report.cases[0])("t.py::a", "failed", "boom", "t.py:3", noisy)
    digest = failure_digest(report)
    assert digest.startswith("1 failed (python -m pytest)")
    assert "- t.py::a (t.py:3)" in digest and "frame 499" in digest and "frame 100" not in digest
    assert len(digest) < 600


def python_project(root: Path) -> Path:
    write_file(root / "pytest.ini", "[pytest]\n")
    write_file(
        root / "calc.py", "def add(a, b):\n    return a + b\n\n\ndef div(a, b):\n    return a * b\n"
    )
    write_file(
        root / "tests/test_calc.py",
        "from calc import add, div\n\n\ndef test_add():\n    assert add(1, 2) == 3\n\n\n"
        "def test_div():\n    assert div(4, 2) == 2\n",
    )
    write_file(root / "conftest.py", "")
    return root


def test_run_tests_tool_runs_pytest_in_the_sandbox_and_leaves_no_files(tmp_path: Path) -> None:
    repo = python_project(tmp_path / "p")
    result, context = call(repo)
    assert result.is_error is False
    assert result.data["source"] == "junit"
    assert (result.data["passed"], result.data["failed"]) == (1, 1)
    assert result.output.startswith("1 passed, 1 failed")
    assert "- tests/test_calc.py::test_div (tests/test_calc.py:9)" in result.output
    assert "assert 8 == 2" in result.output
    assert not list(repo.rglob("*.xml")), "the JUnit report went outside the workspace"
    assert len(context.test_reports) == 1

    narrowed, _ = call(repo, selector="tests/test_calc.py::test_add")
    assert narrowed.output.startswith("tests passed: 1 passed")


def test_a_test_file_that_cannot_be_imported_does_not_stop_the_others(tmp_path: Path) -> None:
    # requests at SWE-bench's commits: one test file needs a plugin the environment lacks, and
    # pytest stops the whole session at collection; the suite's other 180 tests never ran.
    repo = python_project(tmp_path / "p")
    write_file(repo / "tests/test_broken.py", "import not_installed_anywhere\n")
    result, _ = call(repo)
    assert (result.data["passed"], result.data["failed"]) == (1, 2), result.output
    assert "tests/test_broken.py" in result.output or "test_broken" in result.output


def test_run_tests_tool_without_a_test_suite_says_what_to_do(tmp_path: Path) -> None:
    result, _ = call(tmp_path)
    assert result.is_error and "[test] command" in result.output


def test_unittest_and_node_projects_run_for_real(tmp_path: Path) -> None:
    unit = tmp_path / "u"
    write_file(unit / "calc.py", "def div(a, b):\n    return a * b\n")
    write_file(
        unit / "test_calc.py",
        "import unittest\nfrom calc import div\n\n\nclass T(unittest.TestCase):\n"
        "    def test_div(self):\n        self.assertEqual(div(4, 2), 2)\n\n"
        "    def test_one(self):\n        self.assertEqual(div(1, 1), 1)\n",
    )
    result, _ = call(unit)
    assert (result.data["source"], result.data["passed"], result.data["failed"]) == ("output", 1, 1)
    assert "test_calc.T.test_div" in result.output and "AssertionError: 8 != 2" in result.output
    if not tool_works("node", "--version"):
        pytest.skip("node is not installed or does not run")
    node = tmp_path / "n"
    write_file(node / "package.json", '{"scripts": {"test": "node --test --test-reporter=tap"}}')
    write_file(
        node / "calc.test.js",
        "const test = require('node:test'); const assert = require('node:assert');\n"
        "test('adds', () => assert.strictEqual(1 + 1, 2));\n"
        "test('breaks', () => assert.strictEqual(1 + 1, 3));\n",
    )
    result, _ = call(node)
    assert (result.data["passed"], result.data["failed"]) == (1, 1)
    assert "breaks" in result.data["failing"]


@pytest.mark.skipif(
    not tool_works("cargo", "--version") or not tool_works("rustc", "--version"),
    reason="cargo/rustc are not installed, or have no default toolchain",
)
def test_a_cargo_project_runs_for_real(tmp_path: Path) -> None:
    crate = tmp_path / "c"
    write_file(
        crate / "Cargo.toml", '[package]\nname = "calc"\nversion = "0.1.0"\nedition = "2021"\n'
    )
    write_file(
        crate / "src/lib.rs",
        "pub fn div(a: i32, b: i32) -> i32 { a * b }\n\n#[cfg(test)]\nmod tests {\n"
        "    use super::*;\n    #[test]\n    fn one() { assert_eq!(div(1, 1), 1); }\n"
        "    #[test]\n    fn halves() { assert_eq!(div(4, 2), 2); }\n}\n",
    )
    result, _ = call(crate, timeout_s=300)
    assert (result.data["passed"], result.data["failed"]) == (1, 1), result.output
    assert "tests::halves" in result.output and "src/lib.rs" in result.output


@pytest.mark.parametrize(
    ("command", "pytest_last"),
    [
        ("pytest -x tests/unit", True),
        ("python -m pytest -q", True),
        ("cd sub && PYTHONPATH=. python3 -m pytest", True),
        ("/opt/venv/bin/pytest", True),
        ("pytest | tee log", False),
        ("pytest > out.txt", False),
        ("pytest; echo done", False),
        ("make check", False),
        ("tox -e py311", False),
        ("bin/test sympy/core", False),
    ],
)
def test_a_users_own_pytest_command_reports_test_by_test(
    tmp_path: Path, command: str, pytest_last: bool
) -> None:
    configured = detect(tmp_path, command)
    assert configured is not None and configured.command == command
    assert configured.runner == ("pytest" if pytest_last else "custom")
    line, report = configured.invocation("/scratch")
    assert (report == "junit") == pytest_last
    assert line.startswith(command)


def test_a_digest_of_many_failures_stays_small_and_says_how_to_see_one() -> None:
    from autocodebase.quality.results import CaseResult, TestReport, failure_digest

    cases = [
        CaseResult(f"tests.test_big::test_{n}", "failed", message="assert 1 == 2\n" * 40)
        for n in range(3000)
    ]
    digest = failure_digest(TestReport("pytest", "pytest", 1, cases, source="junit"))
    assert len(digest) <= 4000
    assert "3000 failing tests in all; the rest left out: pass run_tests a selector" in digest
    assert digest.endswith('e.g. selector "tests.test_big::test_17"]'), "the first left out"
