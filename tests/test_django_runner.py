"""Django's own test runner (`tests/runtests.py`): detected on a Django checkout, handed labels
instead of files, its verbose output read test by test (from real runs of Django 3.2 and 4.2 on
Python 3.8, 3.9 and 3.11, kept in tests/data/django/), and the test gate choosing, running and
judging a Django-style suite end to end against the mock model.

The real outputs come from `tests/data/django/probe_tests.py.txt` run with
`python tests/runtests.py --verbosity 2 --parallel 1 acb_probe acb_probe.test_broken
utils_tests.test_text`: a pass, a failure with a diff, an error, a skip, an expected failure,
an unexpected success, a docstring, a failing subtest, output printed by a test, a
`setUpClass` error and a module that cannot be imported."""

from __future__ import annotations

from pathlib import Path

import pytest

from autocodebase.quality.detect import DJANGO_COMMAND, TestCommand, detect, django_labels
from autocodebase.quality.results import parse_output
from autocodebase.quality.selection import file_of, select_tests
from tests.conftest import git
from tests.fakes.mock_server import Fault, Reply
from tests.helpers import exec_with_mock, write_file
from tests.helpers import json_events as events

DATA = Path(__file__).parent / "data" / "django"
RUNTESTS = "parser.add_argument('--parallel')  # django's runner\n"


def test_a_django_checkout_is_run_by_its_own_runner(tmp_path: Path) -> None:
    write_file(tmp_path / "tests/runtests.py", "import django\n" + RUNTESTS)
    write_file(tmp_path / "tests/utils_tests/test_text.py", "from django.test import TestCase\n")
    write_file(tmp_path / "tox.ini", "[tox]\n")
    found = detect(tmp_path)
    assert found is not None and found.runner == "django" and found.command == DJANGO_COMMAND
    assert "--verbosity 2" in found.command, "one line per test is what results are read from"


def test_another_projects_runtests_is_not_taken_for_djangos(tmp_path: Path) -> None:
    write_file(tmp_path / "tests/runtests.py", "import sys\nimport unittest\n")
    write_file(tmp_path / "tests/test_m.py", "import unittest\n")
    found = detect(tmp_path)
    assert found is not None and found.runner == "unittest"


@pytest.mark.parametrize(
    ("selector", "labels"),
    [
        ("tests/utils_tests/test_text.py", "utils_tests.test_text"),
        ("tests/expressions/tests.py tests/auth_tests/", "expressions.tests auth_tests"),
        (
            "tests/utils_tests/test_text.py::TestUtilsText::test_slugify",
            "utils_tests.test_text.TestUtilsText.test_slugify",
        ),
        ("utils_tests.test_text.TestUtilsText", "utils_tests.test_text.TestUtilsText"),
        ("tests.utils_tests.test_text", "utils_tests.test_text"),
        ("tests/backends/base/__init__.py", "backends.base"),
        ("-k slugify utils_tests", "-k slugify utils_tests"),
        ("tests/", ""),
        ("tests/gis_tests/test_geoforms.py tests/humanize_tests/tests.py", "humanize_tests.tests"),
        ("tests/gis_tests/test_geoforms.py", "gis_tests.test_geoforms"),
    ],
)
def test_files_and_node_ids_become_labels(selector: str, labels: str) -> None:
    assert django_labels(selector) == labels
    command = TestCommand("django", DJANGO_COMMAND, "tests/runtests.py")
    line, report = command.invocation("/tmp/r", selector)
    # The output goes whole to a file: the sandbox keeps only a command's first and last 8 KB.
    assert report == "output-file"
    assert line == f"{DJANGO_COMMAND} {labels}".strip() + " >/tmp/r/output.txt 2>&1"
    assert command.plain() == DJANGO_COMMAND, "no selector: the whole suite"


PROBE = "acb_probe.tests.Probe"
EXPECTED = {
    f"{PROBE}.test_ok": ("passed", ""),
    f"{PROBE}.test_fail": ("failed", "AssertionError: 'a-b' != 'a_b'"),
    f"{PROBE}.test_error": ("error", "KeyError: 'boom'"),
    f"{PROBE}.test_skip": ("skipped", "skipped 'not today'"),
    f"{PROBE}.test_xfail": ("passed", "expected failure"),
    f"{PROBE}.test_xpass": ("failed", "unexpected success"),
    f"{PROBE}.test_documented": ("failed", "AssertionError: False is not true : documented failed"),
    f"{PROBE}.test_subtests": ("failed", "AssertionError: 2 == 2"),
    f"{PROBE}.test_after_subtests": ("passed", ""),
    "acb_probe.tests.DbProbe.setUpClass": ("error", "RuntimeError: no data"),
    "acb_probe.test_broken": ("error", "ModuleNotFoundError: No module named 'missing_module_xyz'"),
}


@pytest.mark.parametrize("python", ["py38", "py39", "py311"])
def test_real_django_output_is_read_test_by_test(python: str) -> None:
    cases = {c.name: c for c in parse_output((DATA / f"runtests-{python}.txt").read_text())}
    probe = {name: (c.outcome, c.message) for name, c in cases.items() if name in EXPECTED}
    assert probe == EXPECTED
    text = [c for name, c in cases.items() if name.startswith("utils_tests.test_text.")]
    # Django 4.0 dropped the deprecated unescape_entities and its test.
    assert len(text) == (16 if python == "py38" else 15)
    assert {c.outcome for c in text} == {"passed"}
    failed = cases[f"{PROBE}.test_fail"]
    assert failed.location == "/w/django/tests/acb_probe/tests.py:11"
    assert "self.assertEqual" in failed.details
    assert cases[f"{PROBE}.test_subtests"].location.endswith("tests.py:37")
    assert cases["acb_probe.tests.DbProbe.setUpClass"].location.endswith("tests.py:46")
    assert "test_never" not in str(cases), "a class that could not be set up ran no test"


def test_the_gate_leaves_out_what_djangos_runner_would_abort_on() -> None:
    from autocodebase.agent.test_gate import _runnable_by_django
    from autocodebase.quality.selection import Selection

    files = ("tests/utils_tests/test_html.py", "tests/gis_tests/test_geoforms.py")
    chosen = _runnable_by_django(Selection(files, dict.fromkeys(files, "imports x")))
    assert chosen.files == ("tests/utils_tests/test_html.py",)
    alone = Selection(files[1:], {})
    assert _runnable_by_django(alone) == alone, "asked alone, the abort tells why"


def test_labels_and_result_names_lead_back_to_their_files() -> None:
    known = {"tests/utils_tests/test_text.py", "tests/expressions/tests.py", "tests/test_core.py"}
    assert file_of("utils_tests.test_text", known) == "tests/utils_tests/test_text.py"
    assert (
        file_of("utils_tests.test_text.TestUtilsText.test_slugify", known)
        == "tests/utils_tests/test_text.py"
    )
    assert file_of("expressions.tests.BasicExpressionsTests", known) == "tests/expressions/tests.py"
    assert file_of("tests/expressions/tests.py::T::test_x", known) == "tests/expressions/tests.py"
    assert file_of("tests.test_core::test_x[1]", known) == "tests/test_core.py"
    assert file_of("tests.test_core.T.test_x", known) == "tests/test_core.py"
    assert file_of("missing.module", known) is None


def test_selection_on_a_django_tree_finds_run_named_and_importing_tests() -> None:
    texts = {
        "tests/utils_tests/test_text.py": "from django.utils.text import slugify\n",
        "tests/template_tests/filter_tests/test_truncate.py": "from django.utils import text\n",
        "tests/expressions/tests.py": "from django.db.models import F\n",
        "tests/auth_tests/test_validators.py": "from django.contrib.auth import validators\n",
        "tests/db_functions/text/test_lower.py": "from django.db.models import F\n",
    }
    files = ["django/utils/text.py", "tests/runtests.py", *texts]
    chosen = select_tests(
        files,
        ["django/utils/text.py"],
        lambda path: texts.get(path, ""),
        asked=["expressions.tests.BasicExpressionsTests.test_x"],
        failed_before=["auth_tests.test_validators.UsernameValidatorsTests.test_ascii"],
    )
    assert chosen.files == (
        "tests/expressions/tests.py",
        "tests/auth_tests/test_validators.py",
        "tests/utils_tests/test_text.py",
        "tests/template_tests/filter_tests/test_truncate.py",
    )
    assert chosen.reasons["tests/expressions/tests.py"] == "run by the model"
    assert chosen.reasons["tests/auth_tests/test_validators.py"] == "failed earlier"
    assert chosen.reasons["tests/utils_tests/test_text.py"] == "named after django/utils/text.py"
    assert chosen.reasons["tests/template_tests/filter_tests/test_truncate.py"].startswith(
        "imports"
    )
    assert "tests/db_functions/text/test_lower.py" not in chosen.files, "another `text`"
    cache = select_tests(
        ["django/core/cache/__init__.py", "tests/cache/tests.py", "tests/sitemaps_tests/tests.py"],
        ["django/core/cache/__init__.py", "django/contrib/sitemaps/__init__.py"],
        lambda path: "",
    )
    assert cache.files == ("tests/cache/tests.py", "tests/sitemaps_tests/tests.py")


# -- the gate, end to end, on a Django-shaped project -----------------------------------------

FAKE_RUNTESTS = '''"""A stand-in for django's tests/runtests.py: labels relative to tests/, --verbosity,
--parallel, and unittest's verbose output, which is what Django's runner prints."""
import argparse
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]
parser = argparse.ArgumentParser()
parser.add_argument("labels", nargs="*")
parser.add_argument("--verbosity", type=int, default=1)
parser.add_argument("--parallel", type=int, default=0)
args = parser.parse_args()
if any(label.startswith("abort_") for label in args.labels):
    sys.exit("Aborting: this app needs a database backend it does not have.")
loader = unittest.TestLoader()
if args.labels:
    suite = loader.loadTestsFromNames(args.labels)
else:
    suite = loader.discover(HERE, pattern="test*.py", top_level_dir=HERE)
result = unittest.TextTestRunner(verbosity=args.verbosity).run(suite)
sys.exit(not result.wasSuccessful())
'''

TEXT = '''def slugify(value):
    """Lower case, words joined by hyphens."""
    return "-".join(value.lower().split())
'''

TEXT_TESTS = '''from django.test import SimpleTestCase
from django.utils.text import slugify


class TestUtilsText(SimpleTestCase):
    def test_slugify(self):
        """Words are joined by hyphens."""
        self.assertEqual(slugify("Hello World"), "hello-world")

    def test_slugify_one_word(self):
        self.assertEqual(slugify("Hello"), "hello")
'''

BREAK = """*** Begin Patch
*** Update File: django/utils/text.py
@@ def slugify(value):
     \"\"\"Lower case, words joined by hyphens.\"\"\"
-    return "-".join(value.lower().split())
+    return "_".join(value.lower().split())
*** End Patch"""

REPAIR = """*** Begin Patch
*** Update File: django/utils/text.py
@@ def slugify(value):
     \"\"\"Lower case, words joined by hyphens.\"\"\"
-    return "_".join(value.lower().split())
+    return "-".join(value.lower().split())
*** End Patch"""


def django_shaped(repo: Path) -> Path:
    """A `django` package with one module, its tests in `tests/utils_tests/test_text.py`, and
    35 other test apps: more than the gate runs whole without choosing."""
    write_file(repo / "tests/runtests.py", FAKE_RUNTESTS)
    write_file(repo / "django/__init__.py", "")
    write_file(repo / "django/utils/__init__.py", "")
    write_file(repo / "django/utils/text.py", TEXT)
    write_file(repo / "django/test.py", "from unittest import TestCase as SimpleTestCase\n")
    write_file(repo / "tests/utils_tests/__init__.py", "")
    write_file(repo / "tests/utils_tests/test_text.py", TEXT_TESTS)
    # An app that imports the change but makes the runner abort whenever it is named (as
    # `gis_tests` does without a GIS database).
    write_file(repo / "tests/abort_app/__init__.py", "")
    write_file(repo / "tests/abort_app/tests.py", "from django.utils import text\n")
    for n in range(35):
        write_file(repo / f"tests/app_{n}/__init__.py", "")
        write_file(
            repo / f"tests/app_{n}/tests.py",
            "from django.test import SimpleTestCase\n\n\nclass T(SimpleTestCase):\n"
            "    def test_nothing(self):\n        pass\n",
        )
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "initial")
    return repo


@pytest.mark.slow  # a whole acb run / a real sandboxed run: `make test-slow`
def test_the_gate_runs_djangos_runner_on_labels_and_sends_failures_back(tmp_path: Path) -> None:
    repo = django_shaped(tmp_path / "dj")
    script: list[Reply | Fault] = [
        Reply("", [("apply_patch", {"patch": BREAK})]),
        Reply("", [("run_tests", {"selector": "utils_tests.test_text"})]),
        Reply("Done."),
        Reply("", [("apply_patch", {"patch": REPAIR})]),
        Reply("Done: hyphens again."),
        Reply("fix(text): join slugs with hyphens"),
    ]
    done, server = exec_with_mock(repo, script, "tweak slugify", "--json")
    assert done.returncode == 0, done.stderr
    stream = events(done.stdout)
    checked = [e for e in stream if e["type"] == "tests_checked"]
    assert checked[0]["verdict"] == "sent-back"
    assert checked[0]["selected"] == ["tests/utils_tests/test_text.py"]
    assert checked[0]["command"] == f"{DJANGO_COMMAND} utils_tests.test_text", "no redirection"
    slug = "utils_tests.test_text.TestUtilsText.test_slugify"
    assert checked[0]["failed"] == [slug] and checked[0]["passed"] == 1
    ran = server.requests[2].body["messages"][-1]["content"]
    assert "1 passed, 1 failed" in ran, "the model's own run_tests label was run and read"
    feedback = server.requests[3].body["messages"][-1]["content"]
    assert slug in feedback and "AssertionError: 'hello_world' != 'hello-world'" in feedback
    assert checked[-2]["verdict"] == "passed" and checked[-2]["passed"] == 2
    finished = stream[-1]
    assert finished["outcome"] == "completed"
    assert checked[-1]["selected"] == ["tests/abort_app/tests.py"]
    assert checked[-1]["verdict"] == "preexisting" and checked[-1]["passed"] == 0
    verification = finished["verification"]
    assert verification["status"] == "partly-verified", "the nearest tests' pass still stands"
    assert (
        "2 passed, 0 failed in 1 test files (tests/utils_tests/test_text.py)"
        in (verification["detail"])
    )
    assert "could not run here" in verification["detail"]


def test_the_benchmark_grades_django_by_swe_bench_names() -> None:
    """bench/real grades a Django instance by the names SWE-bench's FAIL_TO_PASS uses: the
    test and its class, or its docstring's first line."""
    from bench.real.harness import django_statuses

    for python, suffix in (("py38", ""), ("py311", ".{}")):
        found = django_statuses((DATA / f"runtests-{python}.txt").read_text())

        def name(test: str, python: str = python, suffix: str = suffix) -> str:
            return f"{test} ({PROBE}{suffix.format(test)})"

        assert found[name("test_ok")] == found[name("test_xfail")] == "passed", python
        assert found[name("test_after_subtests")] == "passed", "printed output before `ok`"
        assert found["A docstring names this test in the output."] != "passed"
        for test in ("test_fail", "test_error", "test_subtests", "test_documented"):
            assert found[name(test)] == "failed", (python, test)
        assert found[name("test_xpass")] == "unexpected success"


@pytest.mark.slow  # a whole acb run / a real sandboxed run: `make test-slow`
def test_a_large_selection_is_read_whole_not_from_the_cut_output(tmp_path: Path) -> None:
    """The sandbox keeps a command's first and last 8 KB; 600 tests print ~40 KB of lines."""
    from tests.helpers import call_run_tests as call

    repo = tmp_path / "dj"
    many = "".join(f"    def test_{n}(self):\n        pass\n\n" for n in range(600))
    write_file(repo / "tests/runtests.py", FAKE_RUNTESTS)
    write_file(repo / "django/__init__.py", "")
    write_file(repo / "django/test.py", "from unittest import TestCase as SimpleTestCase\n")
    write_file(repo / "tests/big/__init__.py", "")
    write_file(
        repo / "tests/big/tests.py",
        "from django.test import SimpleTestCase\n\n\nclass Big(SimpleTestCase):\n"
        + many
        + "    def test_zz_broken(self):\n        self.assertEqual(1, 2)\n",
    )
    result, _ = call(repo, selector="tests/big/tests.py")
    assert (result.data["passed"], result.data["failed"]) == (600, 1)
    assert "big.tests.Big.test_zz_broken" in result.output and "1 != 2" in result.output
    assert not (repo / "output.txt").exists(), "the output file went outside the workspace"


def test_a_run_that_fails_with_only_passing_lines_is_not_a_pass() -> None:
    """runtests.py that stops after some tests (an abort, a crash) exits 1 with only `ok`
    lines: the run failed as a whole, and the gate must not read it as green."""
    from autocodebase.agent.test_gate import WHOLE_SUITE, _names
    from autocodebase.quality.results import CaseResult, TestReport

    died = TestReport("django", DJANGO_COMMAND, 1, [CaseResult("a.tests.T.test_x", "passed")])
    assert _names(died) == [WHOLE_SUITE]
    assert _names(TestReport("django", DJANGO_COMMAND, 0, list(died.cases))) == []
