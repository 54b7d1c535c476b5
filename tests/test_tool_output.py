"""What the model reads from its tools is something it can act on (issue 26 item 6): a failing
test is named as run_tests takes it back, the command shown is the project's own (not acb's
plumbing), and output cut at the limit says how to see the rest."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from autocodebase.agent.test_gate import TestGate
from autocodebase.config import Settings
from autocodebase.models.base import ToolCall
from autocodebase.quality.results import parse_junit
from autocodebase.tools import default_toolbox
from autocodebase.tools.base import ToolContext, ToolResult
from tests.helpers import EventLog, call_run_tests, write_file

PLUMBING = ("--junitxml", "junit_family", "cacheprovider", "continue-on-collection", "acb-tests-")

PYTEST_TESTS = """import pytest


class TestC:
    class TestInner:
        def test_deep(self):
            assert 1 == 2

    @pytest.mark.parametrize("v", ["a b", "x(1)", "*"])
    def test_m(self, v):
        assert v == "x(1)"


def test_plain():
    assert 0


def test_ok():
    pass
"""


def pytest_project(root: Path) -> Path:
    write_file(root / "pytest.ini", "[pytest]\n")
    write_file(root / "tests/__init__.py", "")
    write_file(root / "tests/unit/test_x.py", PYTEST_TESTS)
    write_file(root / "tests/unit/test_broken.py", "import not_installed_anywhere\n")
    return root


def call(context: ToolContext, name: str, **arguments: object) -> ToolResult:
    result, _ = default_toolbox().call(context, ToolCall("c1", name, dict(arguments), ""))
    return result


@pytest.mark.slow  # runs pytest in the sandbox once per failing test
def test_each_failing_pytest_test_is_shown_as_a_node_id_that_runs_exactly_it(
    tmp_path: Path,
) -> None:
    repo = pytest_project(tmp_path / "p")
    result, _ = call_run_tests(repo)
    failing = result.data["failing"]
    assert sorted(failing) == sorted(
        [
            "tests/unit/test_x.py::TestC::TestInner::test_deep",
            "tests/unit/test_x.py::TestC::test_m[a b]",
            "tests/unit/test_x.py::TestC::test_m[*]",
            "tests/unit/test_x.py::test_plain",
            "tests/unit/test_broken.py",
        ]
    ), result.output
    for name in failing:
        assert f"- {name} (" in result.output or f"- {name}\n" in result.output
    for name in [n for n in failing if "[" in n or "Inner" in n]:
        again, _ = call_run_tests(repo, selector=name)
        assert again.data["failing"] == [name], (name, again.output)
        assert again.data["passed"] == 0, f"{name} ran more than itself: {again.output}"
    together, _ = call_run_tests(repo, selector=" ".join(failing))
    assert sorted(together.data["failing"]) == sorted(failing), together.output
    assert together.data["passed"] == 0, together.output
    passing, _ = call_run_tests(repo, selector="tests/unit/test_x.py::TestC::test_m[x(1)]")
    assert (passing.data["passed"], passing.data["failed"]) == (1, 0), passing.output


def test_node_ids_are_found_when_pytests_rootdir_is_not_the_workspace(tmp_path: Path) -> None:
    """With no configuration file pytest's rootdir is the common directory of its arguments,
    and its XML names tests from there (`test_x.TestC`, file `test_x.py`)."""
    write_file(tmp_path / "tests/unit/test_x.py", "class TestC:\n    def test_a(self): pass\n")
    write_file(
        tmp_path / "junit.xml",
        '<testsuites><testsuite name="pytest"><testcase classname="test_x.TestC" name="test_a" '
        'file="test_x.py" line="1"/><testcase classname="gone.test_y" name="test_b"/>'
        "</testsuite></testsuites>",
    )
    cases = parse_junit([tmp_path / "junit.xml"], tmp_path, "tests/unit/test_x.py -x")
    assert [c.name for c in cases] == [
        "tests/unit/test_x.py::TestC::test_a",
        "gone.test_y::test_b",  # no such file: pytest's own words, not a guessed path
    ]


def test_the_command_shown_is_the_projects_not_acbs_plumbing(tmp_path: Path) -> None:
    repo = pytest_project(tmp_path / "p")
    result, context = call_run_tests(repo, selector="tests/unit/test_x.py::test_ok")
    shown = "python -m pytest -q tests/unit/test_x.py::test_ok"
    assert result.output == f"tests passed: 1 passed ({shown})"
    assert result.data["command"] == shown
    failing, context = call_run_tests(repo)
    report = context.test_reports[-1]
    for seen in (failing.output, str(failing.data), report.command, report.output_tail):
        assert not [p for p in PLUMBING if p in seen], seen
    assert failing.output.startswith("2 passed, 4 failed, 1 error (python -m pytest -q)\n")


def unittest_project(root: Path, many: int = 0) -> Path:
    write_file(root / "calc.py", "def div(a, b):\n    return a * b\n")
    write_file(root / "tests/__init__.py", "")
    padding = "".join(
        f"\n    def test_a_long_name_that_fills_the_output_of_the_runner_{n}(self):\n        pass\n"
        for n in range(many)
    )
    write_file(
        root / "tests/test_calc.py",
        "import unittest\nfrom calc import div\n\n\nclass T(unittest.TestCase):\n"
        "    def test_div(self):\n        self.assertEqual(div(4, 2), 2)\n\n"
        "    def test_one(self):\n        self.assertEqual(div(1, 1), 1)\n" + padding,
    )
    return root


def test_unittest_labels_are_shown_and_run_exactly_that_test(tmp_path: Path) -> None:
    repo = unittest_project(tmp_path / "u")
    result, _ = call_run_tests(repo)
    assert result.data["failing"] == ["tests.test_calc.T.test_div"], result.output
    assert "- tests.test_calc.T.test_div" in result.output
    again, _ = call_run_tests(repo, selector="tests.test_calc.T.test_div")
    assert (again.data["passed"], again.data["failing"]) == (0, ["tests.test_calc.T.test_div"])
    assert again.data["command"] == "python -m unittest -v tests.test_calc.T.test_div"


def test_unittest_results_are_all_read_when_the_output_is_longer_than_the_cap(
    tmp_path: Path,
) -> None:
    """unittest's per-test lines are its only results: a cut from the middle of its output
    would lose them."""
    repo = unittest_project(tmp_path / "u", many=300)
    context = ToolContext(workspace=repo, emit=EventLog(), shell_timeout_s=120, output_limit=2000)
    result = call(context, "run_tests")
    assert (result.data["passed"], result.data["failed"]) == (301, 1), result.output
    assert not [p for p in PLUMBING if p in result.data["command"]]


def test_the_gate_names_failures_as_selectors_and_says_how_to_rerun_them(tmp_path: Path) -> None:
    repo = pytest_project(tmp_path / "p")
    (repo / "tests/unit/test_broken.py").unlink()
    context = ToolContext(workspace=repo, emit=EventLog(), shell_timeout_s=120)
    gate = TestGate(context, EventLog(), changed=lambda: True, baseline_tree=lambda: None)
    feedback = gate().feedback
    assert feedback is not None
    assert "- tests/unit/test_x.py::TestC::TestInner::test_deep (" in feedback
    assert not [p for p in PLUMBING if p in feedback], feedback
    selector = feedback.split('(selector "')[1].split('")')[0]
    rerun, _ = call_run_tests(repo, selector=selector)
    assert (rerun.data["passed"], rerun.data["failed"]) == (0, 4), rerun.output


# -- output caps ------------------------------------------------------------------------------


def test_the_default_cap_is_near_what_other_agents_show() -> None:
    assert Settings().output_limit == 10_000


@pytest.fixture
def context(tmp_path: Path) -> ToolContext:
    return ToolContext(
        workspace=tmp_path,
        emit=EventLog(),
        shell_timeout_s=10,
        output_limit=Settings().output_limit,
    )


def test_cut_shell_output_says_how_to_see_the_rest(context: ToolContext) -> None:
    result = call(context, "shell", command="echo FIRST; seq 1 100000; echo LAST")
    assert result.output.startswith("FIRST") and "LAST" in result.output
    assert 10_000 <= len(result.output) < 10_500
    status = result.output.splitlines()[-1]
    assert re.fullmatch(r"\[exit 0(, \d+\.\ds)?; 588906 bytes of output, only its.*\]", status)
    assert "narrow it (grep, head, tail, a test selector)" in status
    assert "write it to a file and read parts of it" in status
    short = call(context, "shell", command="seq 1 10")
    assert re.search(r"\n10\n\[exit 0(, \d+\.\ds)?\]$", short.output)
    assert "bytes of output" not in short.output


def test_shell_says_how_long_a_command_took_only_when_it_took_a_second(
    context: ToolContext,
) -> None:
    slow = call(context, "shell", command="sleep 1; echo done")
    assert re.fullmatch(r"done\n\[exit 0, \d+\.\ds\]", slow.output)
    assert float(slow.output.rsplit(", ", 1)[1].rstrip("s]")) >= 1.0
    failed = call(context, "shell", command="echo no; exit 4")
    assert failed.is_error and re.fullmatch(r"no\n\[exit 4(, \d+\.\ds)?\]$", failed.output)


def test_read_file_cut_at_the_limit_says_to_use_a_range(context: ToolContext) -> None:
    write_file(context.workspace / "big.txt", "".join(f"{'x' * 99}\n" for _ in range(300)))
    result = call(context, "read_file", path="big.txt")
    assert len(result.output) < 10_200
    footer = result.output.splitlines()[-1]
    assert footer.startswith("[lines 1-")
    assert "of 300, cut at the output limit; use start_line/end_line to see more" in footer
    write_file(context.workspace / "wide.txt", "short\n" + "y" * 5000 + "\n")
    wide = call(context, "read_file", path="wide.txt")
    assert "5000 characters; see the rest with shell: sed -n 2p wide.txt | cut -c2001-4000" in (
        wide.output
    )


def test_a_search_cut_at_the_limit_says_to_narrow_it(context: ToolContext) -> None:
    write_file(
        context.workspace / "a.txt", "".join(f"needle {'z' * 200} {n}\n" for n in range(150))
    )
    result = call(context, "search", pattern="needle", path="a.txt")
    assert len(result.output) < 10_200
    assert "bytes omitted; narrow the pattern, or the path or glob, to see them" in result.output


def test_run_tests_with_too_many_failures_says_to_pass_a_selector(tmp_path: Path) -> None:
    write_file(tmp_path / "pytest.ini", "[pytest]\n")
    write_file(
        tmp_path / "tests/test_many.py",
        "import pytest\n\n\n@pytest.mark.parametrize('n', range(200))\n"
        "def test_n(n):\n    assert n < 0, 'long message ' * 20\n",
    )
    result, _ = call_run_tests(tmp_path)
    assert len(result.output) <= 10_000
    assert "200 failing tests in all; the rest left out: pass run_tests a selector" in (
        result.output
    )
    example = result.output.split('e.g. selector "')[1].split('"]')[0]
    assert example.startswith("tests/test_many.py::test_n[")
    one, _ = call_run_tests(tmp_path, selector=example)
    assert one.data["failing"] == [example]
