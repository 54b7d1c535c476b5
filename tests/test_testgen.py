"""`acb tests` end to end against the mock server: a scripted model proposes a fixed mix of
candidate tests, and exactly the ones that earn their place are kept; the numbers match
coverage.py's own; rejections are recorded and teach the next prompt."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import git
from tests.fakes.mock_server import MockModelServer, Reply
from tests.helpers import run_acb, write_file

OPS = '''"""Small arithmetic helpers."""


def clamp(x, lo, hi):
    if x < lo:
        return lo
    if x > hi:
        return hi
    return x


def discount(price, rate):
    if rate > 1:
        raise ValueError("rate above 1")
    return price * (1 - rate)
'''

EXISTING = """import pytest

from calc.ops import discount


def test_no_discount():
    assert discount(100, 0) == 100


def test_rate_above_one():
    with pytest.raises(ValueError):
        discount(1, 2)
"""

GOOD = """from calc.ops import clamp


def test_clamp_bounds():
    assert clamp(-1, 0, 10) == 0
    assert clamp(11, 0, 10) == 10
    assert clamp(5, 0, 10) == 5
"""
FAILING = """from calc.ops import clamp


def test_clamp_wrong():
    assert clamp(-1, 0, 10) == -1
"""
FLAKY = """from pathlib import Path


def test_depends_on_earlier_runs():
    marker = Path(__file__).parent / ".flaky-count"
    runs = int(marker.read_text()) if marker.exists() else 0
    marker.write_text(str(runs + 1))
    assert runs == 0
"""
USELESS = """from calc.ops import discount


def test_no_discount_again():
    assert discount(50, 0) == 50
"""
KILLER = """from calc.ops import discount


def test_quarter_off():
    assert discount(100, 0.25) == 75
"""
BROKEN_IMPORT = """from calc.missing import nothing


def test_nothing():
    assert nothing()
"""


def fenced(*modules: str) -> str:
    return "Here are tests.\n\n" + "\n".join(f"```python\n{m}```\n" for m in modules)


def project(root: Path) -> Path:
    write_file(root / "calc/__init__.py", "")
    write_file(root / "calc/ops.py", OPS)
    write_file(root / "tests/test_ops.py", EXISTING)
    write_file(root / "pytest.ini", "[pytest]\n")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "calc")
    return root


def acb_tests(repo: Path, replies: list[Reply], *args: str):  # type: ignore[no-untyped-def]
    with MockModelServer(replies) as server:
        env = {"OPENAI_API_KEY": "sk-test-0123456789abcdef", "OPENAI_BASE_URL": server.url + "/v1"}
        # A mutation round runs the suite once per mutant, each in the sandbox: minutes on a
        # loaded two-core machine.
        done = run_acb("tests", *args, "-m", "openai/mock-model", cwd=repo, env=env, timeout=540)
    return done, server


def coverage_py_percent(repo: Path, tmp_path: Path) -> float:
    """The same measurement made directly with coverage.py, for comparison."""
    data = tmp_path / "check.coverage"
    omit = "tests/*,test/*,*/tests/*,test_*.py,*/test_*.py,*_test.py,conftest.py,*/conftest.py"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "coverage",
            "run",
            "--branch",
            f"--data-file={data}",
            "--source=.",
            f"--omit={omit}",
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
        ],
        cwd=repo,
        check=True,
        capture_output=True,
    )
    out = subprocess.run(
        [sys.executable, "-m", "coverage", "json", f"--data-file={data}", "-o", "-"],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    )
    return float(json.loads(out.stdout)["totals"]["percent_covered"])


@pytest.mark.slow
@pytest.mark.timeout(600)  # a whole `acb tests --mutation` round: dozens of sandboxed pytest runs
def test_exactly_the_tests_that_earn_their_place_are_kept(tmp_path: Path) -> None:
    repo = project(tmp_path / "calc-project")
    before = coverage_py_percent(repo, tmp_path)
    replies = [
        Reply(fenced(GOOD, FAILING, FLAKY, USELESS, KILLER, BROKEN_IMPORT)),
        Reply("test(calc): cover clamp and partial discounts"),
    ]
    done, server = acb_tests(repo, replies, "calc/ops.py", "--mutation", "--max-rounds", "1")
    assert done.returncode == 0, done.stderr
    (repo / "tests/.flaky-count").unlink(missing_ok=True)
    after = coverage_py_percent(repo, tmp_path)
    assert before < after
    assert f"coverage (lines+branches): {before:.1f}% -> {after:.1f}%" in done.stdout
    assert "mutation score" in done.stdout
    assert (
        "candidates: 6; kept 2; rejected: 1 failing, 1 flaky, 1 import-error, 1 no-gain"
        in done.stdout
    )
    generated = (repo / "tests/test_ops_generated.py").read_text()
    assert "def test_clamp_bounds" in generated and "def test_quarter_off" in generated
    assert "test_clamp_wrong" not in generated and "runs == 0" not in generated
    assert not (repo / "tests/test_acb_candidate.py").exists()
    prompt = server.requests[0].body["messages"][1]["content"]
    assert "   5!     if x < lo:" in prompt and "Uncovered: 5-9" in prompt, "uncovered lines marked"
    assert "surviving mutants" in prompt
    assert "test(calc)" in git(repo, "log", "-1", "--format=%s"), "kept tests are committed"

    ledger = sqlite3.connect(tmp_path / "acb-home" / "ledger.db")
    verdicts = [
        (json.loads(p)["category"], json.loads(p)["verdict"])
        for (p,) in ledger.execute(
            "SELECT payload FROM events WHERE type = 'test_candidate' ORDER BY seq"
        )
    ]
    assert verdicts == [
        ("kept", "kept"),
        ("failing", "rejected"),
        ("flaky", "rejected"),
        ("no-gain", "rejected"),
        ("kept", "kept"),
        ("import-error", "rejected"),
    ]

    with (repo / "calc/ops.py").open("a") as ops:
        ops.write("\n\ndef sign(x):\n    return 1 if x > 0 else -1\n")
    git(repo, "commit", "-qam", "sign")
    again, server = acb_tests(repo, [Reply(fenced(USELESS))], "calc/ops.py", "--max-rounds", "1")
    assert again.returncode == 0, again.stderr
    guided = server.requests[0].body["messages"][1]["content"]
    assert "Lessons from earlier generated tests for this project" in guided
    assert "import-error" in guided and "No module named 'calc.missing'" in guided


def test_without_coverage_data_it_says_why_in_one_line(tmp_path: Path) -> None:
    repo = tmp_path / "empty"
    write_file(repo / "x.py", "print('not a test suite')\n")
    bad = run_acb("tests", "nope.py", "-C", str(repo), "-m", "openai/mock-model", cwd=tmp_path)
    assert bad.returncode == 2 and "nope.py is not a Python file" in bad.stderr


@pytest.mark.slow
def test_the_demo_cassette_raises_the_example_projects_coverage(wordstats_repo: Path) -> None:
    cassette = Path(__file__).resolve().parents[1] / "examples/cassettes/wordstats-tests.jsonl"
    command = ["tests", "wordstats/stats.py", "--max-rounds", "1", "--model", f"replay:{cassette}"]
    done = run_acb(*command, cwd=wordstats_repo)
    assert done.returncode == 0, done.stderr
    assert "coverage (lines+branches): 76.9% -> 91.7% (83/108 -> 99/108)" in done.stdout
    assert "candidates: 3; kept 1; rejected: 1 failing, 1 no-gain" in done.stdout
    assert (wordstats_repo / "tests/test_stats_generated.py").is_file()
    message = git(wordstats_repo, "log", "-1", "--format=%B")
    assert "Acb-Verified: verified (whole suite:" in message and "three runs" in message
    (run,) = json.loads(run_acb("runs", "list", "--json", cwd=wordstats_repo).stdout)
    assert run["steps"] == 1, "the one model call is on record"


def test_a_failing_model_call_is_retried_and_every_call_is_counted(tmp_path: Path) -> None:
    """Test generation asks the model itself: a 429 is retried as the loop retries it, and each
    call reaches the run's record (steps, tokens) instead of '0 steps'."""
    from autocodebase.models.base import Message, ModelError, Response, Usage
    from autocodebase.models.retry import RetryPolicy
    from autocodebase.quality.coverage import Coverage
    from autocodebase.quality.testgen import TestGenerator

    class FlakyModel:
        name = "flaky/model"
        calls = 0

        def complete(self, messages: object, tools: object, on_text: object = None) -> Response:
            self.calls += 1
            if self.calls == 1:
                raise ModelError("HTTP 429: slow down", retryable=True)
            reply = "```python\ndef test_x():\n    assert True\n```"
            return Response(Message("assistant", reply), Usage(input_tokens=7, output_tokens=3))

    repo = project(tmp_path / "calc")
    seen: list[Usage] = []
    generator = TestGenerator(
        workspace=repo,
        model=FlakyModel(),  # type: ignore[arg-type]
        gate=None,  # type: ignore[arg-type]
        env={},
        emit=lambda event: None,
        retry=RetryPolicy(sleep=lambda s: None),
        on_model_call=seen.append,
    )
    empty = Coverage()
    modules = generator._ask("calc/ops.py", empty, [])
    assert modules and "def test_x" in modules[0]
    assert [u.input_tokens for u in seen] == [7]


# -- what the model is told and what is taken from its answer (issue 26 item 7) ---------------


def src_project(root: Path, pyproject: str) -> Path:
    write_file(root / "pyproject.toml", pyproject)
    write_file(root / "src/calc/__init__.py", "")
    write_file(root / "src/calc/ops.py", OPS)
    write_file(
        root / "tests/conftest.py",
        "import pytest\n\n\n@pytest.fixture\ndef prices():\n    return [100, 50]\n\n\n"
        "def helper():\n    return 1\n",
    )
    write_file(
        root / "tests/test_ops.py",
        "from calc.ops import discount\n\n\ndef test_no_discount(prices):\n"
        "    assert [discount(p, 0) for p in prices] == prices\n",
    )
    write_file(root / "tests/test_other.py", "def test_truth():\n    assert True\n")
    return root


@pytest.mark.parametrize(
    ("pyproject", "target", "module"),
    [
        ('[tool.setuptools.packages.find]\nwhere = ["src"]\n', "src/calc/ops.py", "calc.ops"),
        ('[tool.setuptools]\npackage-dir = {"" = "src"}\n', "src/calc/ops.py", "calc.ops"),
        (
            '[tool.hatch.build.targets.wheel]\npackages = ["src/calc"]\n',
            "src/calc/ops.py",
            "calc.ops",
        ),
        (
            '[tool.poetry]\npackages = [{include = "calc", from = "src"}]\n',
            "src/calc/__init__.py",
            "calc",
        ),
        ("[project]\nname = 'calc'\n", "src/calc/ops.py", "calc.ops"),  # src/ by convention
    ],
    ids=["setuptools-find", "setuptools-package-dir", "hatch", "poetry", "plain-src"],
)
def test_a_src_layout_module_is_imported_by_its_package_name(
    tmp_path: Path, pyproject: str, target: str, module: str
) -> None:
    from autocodebase.quality.testgen_prompt import import_path

    assert import_path(src_project(tmp_path, pyproject), target) == module


def test_other_layouts_keep_their_import_paths(tmp_path: Path) -> None:
    from autocodebase.quality.testgen_prompt import import_path

    flat = project(tmp_path / "flat")
    assert import_path(flat, "calc/ops.py") == "calc.ops"
    write_file(tmp_path / "lib/setup.cfg", "[options]\npackage_dir =\n    =python\n")
    write_file(tmp_path / "lib/python/calc/ops.py", OPS)
    assert import_path(tmp_path / "lib", "python/calc/ops.py") == "calc.ops"
    write_file(tmp_path / "pkgsrc/src/__init__.py", "")  # `src` is itself the package here
    assert import_path(tmp_path / "pkgsrc", "src/ops.py") == "src.ops"


def test_the_prompt_names_the_import_path_and_shows_the_projects_test_idioms(
    tmp_path: Path,
) -> None:
    from autocodebase.quality.coverage import Coverage
    from autocodebase.quality.testgen_prompt import build_prompt

    root = src_project(tmp_path, '[tool.setuptools.packages.find]\nwhere = ["src"]\n')
    write_file(root / "tests/test_ops_generated.py", "from calc.ops import clamp\n")
    prompt = build_prompt(root, "src/calc/ops.py", Coverage(), [], "")
    assert "`from calc.ops import ...`" in prompt and "src.calc" not in prompt
    assert (
        "An existing test file of the project (tests/test_ops.py)" in prompt
        and "def test_no_discount(prices):" in prompt
    ), "the test that imports the module is the example, not acb's generated one"
    assert "Fixtures the project's conftest.py files define: prices\n" in prompt


def test_a_long_example_is_cut_between_tests(tmp_path: Path) -> None:
    from autocodebase.quality.testgen_prompt import existing_test_example

    tests = "\n\n".join(f"def test_{n}():\n    assert {n} == {n}\n" for n in range(60))
    write_file(tmp_path / "tests/test_many.py", tests)
    path, excerpt = existing_test_example(tmp_path, "x.py") or ("", "")
    assert path == "tests/test_many.py"
    assert excerpt.endswith("\n# ...") and len(excerpt) < 1_700
    assert excerpt.splitlines()[-3].startswith("    assert")
