"""Test generation that learns from its outcomes (issue 24 item 2): the record of earlier
candidates becomes lessons and a strategy for the next generation of the same module; a second
`acb tests` run's request carries the first run's rejection reasons; --history shows the record
and --forget sets it aside without deleting it."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from autocodebase.ledger.store import LedgerReader, connect, forget_test_memory
from autocodebase.quality.mutation import mutants, run_mutants
from autocodebase.quality.results import CaseResult, TestReport
from autocodebase.quality.testgen import classify_failure
from autocodebase.quality.testgen_memory import (
    Memory,
    Outcome,
    history_lines,
    nondeterminism_in,
    outcomes_from,
    plan_for,
)
from autocodebase.sandbox.approvals import ApprovalStore
from autocodebase.sandbox.bwrap import bwrap_problem
from autocodebase.sandbox.environment import command_environment
from autocodebase.sandbox.gate import CommandGate
from autocodebase.sandbox.policy import SandboxPolicy
from tests.conftest import git
from tests.fakes.mock_server import Reply
from tests.test_testgen import BROKEN_IMPORT, GOOD, USELESS, acb_tests, fenced, project


def outcome(target: str, category: str, reason: str = "", run: str = "r1") -> Outcome:
    verdict = "kept" if category == "kept" else "rejected"
    return Outcome(target, verdict, category, reason or category, run_id=run)


def test_the_modules_own_failures_come_first_and_only_project_wide_ones_from_others() -> None:
    outcomes = [
        outcome("calc/ops.py", "failing", "assert clamp(-1, 0, 10) == -1"),
        outcome("calc/ops.py", "failing", "older"),
        outcome("calc/io.py", "import-error", "No module named 'calc.missing'"),
        outcome("calc/io.py", "failing", "a wrong assertion about another module"),
    ]
    plan = plan_for("calc/ops.py", outcomes, [], hypothesis_available=lambda: True)
    assert plan.strategy == "examples"
    assert plan.lessons == (
        "failing ×2 in this module: read the code before asserting what it returns "
        "(e.g. assert clamp(-1, 0, 10) == -1)",
        "import-error ×1 in other modules: import only names the project has "
        "(e.g. No module named 'calc.missing')",
    )
    section = plan.prompt_section()
    assert section.startswith("Lessons from earlier generated tests")
    assert "another module" not in section


def test_example_tests_that_added_nothing_twice_give_way_to_properties() -> None:
    twice = [outcome("m.py", "no-gain", run="r2"), outcome("m.py", "no-gain", run="r1")]
    plan = plan_for("m.py", twice, [], hypothesis_available=lambda: True)
    assert plan.strategy == "properties"
    assert "2 example-based tests of m.py added no coverage" in plan.why
    assert "from hypothesis import given" in plan.prompt_section()
    without = plan_for("m.py", twice, [], hypothesis_available=lambda: False)
    assert without.strategy == "edge-cases" and "hypothesis is not installed" in without.why
    assert "error paths and boundary inputs" in without.prompt_section()
    # Once: not yet. A kept test in the latest run: examples are working.
    assert plan_for("m.py", twice[:1], [], lambda: True).strategy == "examples"
    working = [outcome("m.py", "kept", "+3 lines", run="r3"), *twice]
    assert plan_for("m.py", working, [], lambda: True).strategy == "examples"


def test_surviving_mutants_are_aimed_at() -> None:
    survivors = ["m.py:4 `<` -> `<=`", "m.py:9 `+` -> `-`"]
    plan = plan_for("m.py", [], survivors, hypothesis_available=lambda: True)
    assert plan.strategy == "mutants"
    assert "m.py:4 `<` -> `<=`; m.py:9 `+` -> `-`" in plan.prompt_section()


def test_failure_kinds_told_apart() -> None:
    repr_failure = TestReport(
        runner="pytest",
        command="python -m pytest",
        exit_code=1,
        cases=[
            CaseResult(
                "t::test_box",
                "failed",
                "AssertionError: assert '<calc.Box object at 0x7f3a2c1d>' == 'Box(1)'",
            )
        ],
    )
    assert classify_failure(repr_failure)[0] == "repr-assertion"
    code = "import time, random\n\ndef test_x():\n    time.sleep(0.1)\n    random.choice([1])\n"
    assert nondeterminism_in(code) == ["random", "time.sleep"]
    assert nondeterminism_in("def test_x():\n    assert sorted([2, 1]) == [1, 2]\n") == []


def test_the_record_is_set_aside_per_module_or_whole(tmp_path: Path) -> None:
    connection = connect(tmp_path / "ledger.db")
    workspace = tmp_path / "repo"
    connection.execute(
        "INSERT INTO runs (id, started_at, task, model, workspace, settings, sandbox, "
        "acb_version) VALUES ('run1', 1, 'acb tests', 'm', ?, '{}', 'x', '0')",
        (str(workspace),),
    )
    for seq, target in enumerate(["a.py", "b.py"]):
        payload = {"target": target, "verdict": "rejected", "category": "no-gain", "reason": ""}
        connection.execute(
            "INSERT INTO events (run_id, seq, ts, type, payload) VALUES ('run1', ?, 10, "
            "'test_candidate', ?)",
            (seq, json.dumps(payload)),
        )
    connection.commit()
    reader = LedgerReader(connection)
    assert [r[3]["target"] for r in reader.test_memory(workspace)] == ["b.py", "a.py"]
    forget_test_memory(connection, workspace, ["a.py"])
    assert [r[3]["target"] for r in reader.test_memory(workspace)] == ["b.py"]
    assert reader.test_memory(tmp_path / "elsewhere") == []
    forget_test_memory(connection, workspace, None)
    assert reader.test_memory(workspace) == []
    count = connection.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    assert count == 2, "forgetting deletes nothing"


def test_history_without_a_record_says_so() -> None:
    assert history_lines(Memory([], lambda: True)) == ["acb tests has no record here"]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_second_run_is_taught_by_the_first_and_forget_starts_afresh(tmp_path: Path) -> None:
    repo = project(tmp_path / "calc-project")
    first, _ = acb_tests(
        repo,
        [Reply(fenced(USELESS, BROKEN_IMPORT)), Reply(fenced(USELESS))],
        "calc/ops.py",
        "--max-rounds",
        "2",
        "--no-commit",
    )
    assert first.returncode == 0, first.stderr
    assert "rejected: 1 import-error, 2 no-gain" in first.stdout

    second, server = acb_tests(
        repo, [Reply(fenced(GOOD)), Reply("test(calc): clamp")], "calc/ops.py", "--max-rounds", "1"
    )
    assert second.returncode == 0, second.stderr
    prompt = server.requests[0].body["messages"][1]["content"]
    assert "no-gain ×2 in this module" in prompt
    assert "import-error ×1 in this module" in prompt
    assert "No module named 'calc.missing'" in prompt
    # hypothesis is importable by the project's Python here (acb's dev extra).
    assert "Strategy: 2 example-based tests of calc/ops.py added no coverage" in prompt
    assert "property-based tests with hypothesis" in prompt

    ledger = sqlite3.connect(tmp_path / "acb-home" / "ledger.db")
    given = [
        json.loads(p)
        for (p,) in ledger.execute("SELECT payload FROM events WHERE type = 'test_lessons'")
    ]
    assert [g["strategy"] for g in given] == ["examples", "properties"]
    assert given[0]["lessons"] == [] and any("no-gain ×2" in line for line in given[1]["lessons"])

    history, _ = acb_tests(repo, [], "calc/ops.py", "--history")
    assert history.returncode == 0, history.stderr
    lines = history.stdout.splitlines()
    assert lines[0] == "calc/ops.py:"
    assert "strategy properties; 1 candidate(s), kept 1 (100% accepted)" in lines[1]
    assert "strategy examples; 3 candidate(s), kept 0 (0% accepted)" in lines[2]

    forgot, _ = acb_tests(repo, [], "--forget")
    assert forgot.returncode == 0 and "no longer teaches" in forgot.stdout
    with (repo / "calc/ops.py").open("a") as ops:  # something left to cover
        ops.write("\n\ndef sign(x):\n    return 1 if x > 0 else -1\n")
    git(repo, "commit", "-qam", "sign")
    third, server = acb_tests(repo, [Reply(fenced(USELESS))], "calc/ops.py", "--max-rounds", "1")
    assert third.returncode == 0, third.stderr
    assert "Lessons from earlier" not in server.requests[0].body["messages"][1]["content"]


def test_properties_come_before_mutants_and_the_survivors_are_shown_either_way() -> None:
    twice = [outcome("m.py", "no-gain", run="r2"), outcome("m.py", "no-gain", run="r1")]
    plan = plan_for("m.py", twice, ["m.py:4 `<` -> `<=`"], hypothesis_available=lambda: True)
    assert plan.strategy == "properties"
    assert "unnoticed by the tests last time: m.py:4 `<` -> `<=`" in plan.prompt_section()


def test_a_multi_line_reason_is_one_short_line() -> None:
    diff = "AssertionError: assert b'v.2Ju' == b'v.AAAA'\n  \n  At index 2 diff: b'2' != b'A'\n"
    (made,) = outcomes_from([{"target": "m.py", "verdict": "rejected", "reason": diff * 5}])
    assert "\n" not in made.reason and len(made.reason) <= 160
    assert made.reason.startswith("AssertionError: assert b'v.2Ju' == b'v.AAAA' At index 2")


@pytest.fixture
def outside_tmp() -> Iterator[Path]:
    """A folder the sandbox shows (its /tmp is its own, so a pytest tmp_path is not there)."""
    folder = Path(tempfile.mkdtemp(prefix="acb-mutation-", dir="/var/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.skipif(bwrap_problem() is not None, reason="bubblewrap unusable here")
def test_mutants_of_a_project_installed_in_development_mode_are_seen(
    outside_tmp: Path,
) -> None:
    """An editable install imports the workspace's own src/ from anywhere: the mutation run
    must put its scratch copy first, or every mutant survives unseen (found on itsdangerous)."""
    workspace = outside_tmp / "proj"
    (workspace / "src" / "pkg").mkdir(parents=True)
    (workspace / "tests").mkdir()
    source = "def double(x):\n    return x * 2\n"
    (workspace / "src" / "pkg" / "__init__.py").write_text(source)
    (workspace / "tests" / "test_pkg.py").write_text(
        "from pkg import double\n\n\ndef test_double():\n    assert double(2) == 4\n"
    )
    # What `pip install -e .` amounts to: the workspace's src/ on the path, wherever one runs.
    env = {**command_environment(), "PYTHONPATH": str(workspace / "src")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"  # acb's pytest
    found = mutants("src/pkg/__init__.py", source)
    assert found, "the mutator found nothing to change"
    gate = CommandGate(SandboxPolicy(), "never", ApprovalStore(workspace))
    results = run_mutants(
        workspace, found, "python -m pytest -q -p no:cacheprovider", gate, env, 120
    )
    assert all(r.killed for r in results), [r.mutant.description for r in results]


@pytest.mark.skipif(bwrap_problem() is not None, reason="bubblewrap unusable here")
def test_a_mutant_is_run_as_written_not_from_a_stale_bytecode_cache(outside_tmp: Path) -> None:
    """Python trusts a .pyc while the source's size and whole-second mtime match: mutants of one
    size run within a second would each run the first one's code. Only `first` is tested, so
    every mutant of the others must survive (found as scores that moved between two runs of
    the same suite on markupsafe)."""
    workspace = outside_tmp / "proj"
    workspace.mkdir()
    functions = "".join(f"def f{n}():\n    return {n}\n\n\n" for n in range(1, 8))
    (workspace / "calc.py").write_text(functions)
    found = mutants("calc.py", functions)
    sizes = {len(m.source) for m in found}
    assert len(found) >= 10 and len(sizes) <= 2  # `return N` -> `N+1` keeps the size
    env = {**command_environment(), "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as most users run: bytecode written
    gate = CommandGate(SandboxPolicy(), "never", ApprovalStore(workspace))
    check = "python -c 'import calc; assert calc.f1() == 1'"
    results = run_mutants(workspace, found, check, gate, env, 60)
    killed = sorted({r.mutant.line for r in results if r.killed})
    assert killed == [2], [(r.mutant.line, r.mutant.description, r.killed) for r in results]
