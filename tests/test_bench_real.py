"""A smoke test of `bench/real/`: one made-up SWE-bench-style instance, in a tiny repository
made here, goes through the whole harness — checkout with the test patch committed, the
scripted model against the real `acb exec --json`, grading, phases — so the benchmark keeps
working without its real inputs (mirrors, project venvs), in seconds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from bench.real.harness import (
    AcbRun,
    Grade,
    _junit_cases,
    _node_key,
    grade,
    instance_test_files,
    judge,
    phases,
    prepare,
    run_acb,
    script,
)
from bench.real.run import render

from tests.conftest import commit_all, git

SOURCE = '''"""Small numbers."""


def clamp(value, low, high):
    """`value` kept within [low, high]."""
    if value < low:
        return low
    return value


def double(value):
    return 2 * value
'''
OLD_TEST = """from tiny.numbers import clamp, double


def test_clamp_low():
    assert clamp(-1, 0, 5) == 0


def test_double():
    assert double(2) == 4
"""
NEW_TEST = (
    OLD_TEST
    + """

def test_clamp_high():
    assert clamp(9, 0, 5) == 5
"""
)


def _diff(repo: Path, path: str, text: str) -> str:
    """The git diff that turns `path` into `text`, leaving the tree as it was."""
    original = (repo / path).read_text()
    (repo / path).write_text(text)
    diff = git(repo, "diff", "--", path)
    (repo / path).write_text(original)
    return diff


def make_instance(tmp_path: Path) -> tuple[dict[str, str], Path]:
    repo = tmp_path / "upstream"
    (repo / "tiny").mkdir(parents=True)
    (repo / "tiny" / "__init__.py").write_text("")
    (repo / "tiny" / "numbers.py").write_text(SOURCE)
    (repo / "tests").mkdir()
    (repo / "tests" / "test_numbers.py").write_text(OLD_TEST)
    (repo / "pytest.ini").write_text("[pytest]\n")
    commit_all(repo, "tiny", init=True)
    fixed = SOURCE.replace(
        "    return value\n", "    if value > high:\n        return high\n    return value\n"
    )
    instance = {
        "instance_id": "acme__tiny-1",
        "repo": "acme/tiny",
        "version": "1.0",
        "base_commit": git(repo, "rev-parse", "HEAD").strip(),
        "patch": _diff(repo, "tiny/numbers.py", fixed),
        "test_patch": _diff(repo, "tests/test_numbers.py", NEW_TEST),
        "FAIL_TO_PASS": json.dumps(["tests/test_numbers.py::test_clamp_high"]),
        "PASS_TO_PASS": json.dumps(
            ["tests/test_numbers.py::test_clamp_low", "tests/test_numbers.py::test_double"]
        ),
    }
    return instance, repo


@pytest.mark.slow
def test_one_instance_goes_through_acb_and_is_graded(tmp_path: Path) -> None:
    instance, upstream = make_instance(tmp_path)
    workspace = tmp_path / "work"
    prepare(upstream, instance, workspace)
    env_bin = Path(sys.executable).parent
    assert instance_test_files(instance) == ["tests/test_numbers.py"]
    before = grade(instance, workspace, env_bin)
    assert not before.resolved and before.failing == [
        "tests/test_numbers.py::test_clamp_high (failed)"
    ]

    run = run_acb(workspace, script(instance, workspace), env_bin, tmp_path, timeout_s=120)
    result = judge(run, grade(instance, workspace, env_bin), "acme__tiny-1", "acme/tiny")

    assert result.resolved and result.exit_code == 0, (result.reason, run.stderr_tail)
    assert result.commit and result.message_source == "model"
    assert result.verification == "verified"  # a two-file suite runs whole
    assert result.reason == ""
    assert [c["verdict"] for c in result.gate] == ["passed"]
    clean = subprocess.run(["git", "status", "--porcelain"], cwd=workspace, capture_output=True)
    assert clean.stdout == b""
    measured = phases(run)
    for phase in ("startup", "checkpoint", "to_first_request", "gate_tests", "commit"):
        assert 0 <= measured[phase] < 60, phase
    assert "acme__tiny-1 | yes" in render([result], [])


def test_a_run_that_commits_nothing_is_not_resolved_and_says_why() -> None:
    """Judged from the events alone (no acb run: the first test pays for one): a fix left in
    the working tree is not acb's result, and the reason names what stopped it."""
    started = 1000.0
    events = [
        {"type": "run_started", "ts": started + 0.5},
        {"type": "model_response", "ts": started + 2.0, "duration_s": 0.1},
        {
            "type": "tests_checked",
            "ts": started + 9.0,
            "duration_s": 6.0,
            "verdict": "gave-up",
            "selected": [],
            "passed": 2,
            "failed": ["tests.test_numbers::test_double"],
        },
        {
            "type": "git",
            "ts": started + 9.5,
            "commit": None,
            "left_uncommitted": ["tiny/numbers.py"],
        },
        {
            "type": "run_finished",
            "ts": started + 9.6,
            "outcome": "failed",
            "steps": 5,
            "error": None,
            "verification": {"status": "unverified", "detail": "tests fail"},
        },
    ]
    run = AcbRun(events, 10.0, started, 1, "", 6)
    result = judge(run, Grade(True), "acme__tiny-1", "acme/tiny")
    assert not result.resolved
    assert "nothing committed" in result.reason
    assert "left uncommitted: tiny/numbers.py" in result.reason
    assert "verification unverified: tests fail" in result.reason
    assert result.phases["gate_tests"] == 6.0
    assert "| acme__tiny-1 | no |" in render([result], [])


def test_a_miss_the_upstream_fix_shares_is_the_environments() -> None:
    """The control (the upstream fix alone, outside acb) fails the same tests: the miss is
    reported as this machine's, and the headline says so; a miss the control does not share
    stays acb's."""
    started = 1000.0
    events = [
        {"type": "run_started", "ts": started + 0.5},
        {"type": "git", "ts": started + 5.0, "commit": "abc123", "left_uncommitted": []},
        {
            "type": "run_finished",
            "ts": started + 5.1,
            "outcome": "completed",
            "steps": 4,
            "verification": {"status": "verified", "detail": "whole suite"},
        },
        {
            "type": "tests_checked",
            "ts": started + 4.0,
            "duration_s": 1.0,
            "verdict": "passed",
            "selected": [],
            "passed": 3,
            "failed": [],
        },
    ]
    run = AcbRun(events, 6.0, started, 0, "", 4)
    offline = Grade(False, ["tests/t.py::test_net (failed)"])
    shared = judge(run, offline, "acme__tiny-2", "acme/tiny", Grade(False, offline.failing))
    assert not shared.resolved and shared.environment_limited
    assert "the upstream fix alone fails tests/t.py::test_net" in shared.reason
    own = judge(run, offline, "acme__tiny-3", "acme/tiny", Grade(True))
    assert not own.environment_limited
    assert "the upstream fix alone passes them" in own.reason
    rendered = render([shared, own], [])
    assert "**0 of 2 resolved; 0 of 2 meet the bar.** 1 of the misses (acme__tiny-2)" in rendered


def test_truncated_and_bracketed_node_ids_are_graded(tmp_path: Path) -> None:
    """SWE-bench cuts ids at spaces, and a parameter may hold "::"; both still find cases."""
    cases = tmp_path / "cases.xml"
    cases.write_text(
        '<testsuite><testcase classname="t.test_x" name="test_a[assert (x)]"/>'
        '<testcase classname="t.test_x.C" name="test_b[http://fe80::1-x]"/>'
        '<testcase classname="t.test_x" name="test_c"><failure/></testcase></testsuite>'
    )
    found = _junit_cases(cases)
    assert found[_node_key("t/test_x.py::C::test_b[http://fe80::1-x]")] == "passed"
    assert _node_key("t/test_x.py::test_a[assert (") == ("t.test_x", "test_a[assert (")
    assert found[("t.test_x", "test_c")] == "failed"
