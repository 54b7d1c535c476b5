"""What a run's tests proved, in real runs (`acb exec` against the mock server): the tests
chosen for the change run first on a suite too large to run whole; a timeout is never a pass
nor an old failure; every run says verified / partly verified / unverified, in the events,
the summary and the ledger."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import commit_all, git
from tests.fakes.mock_server import Reply
from tests.helpers import exec_with_mock, run_acb, write_file
from tests.helpers import json_events as events

pytestmark = pytest.mark.slow  # end-to-end: `make test-slow`, not `make test`

MODULES = 40
"""More test files than the gate runs whole straight away (SMALL_SUITE_FILES)."""


def big_project(root: Path, timeout_s: int) -> Path:
    """A package of MODULES modules, each with a test file that imports it."""
    write_file(root / "pytest.ini", "[pytest]\n")
    write_file(root / "pkg/__init__.py", "")
    for n in range(MODULES):
        write_file(root / f"pkg/m{n}.py", f"def value():\n    return {n}\n")
        write_file(
            root / f"tests/test_m{n}.py",
            f"from pkg.m{n} import value\n\n\ndef test_value():\n    assert value() == {n}\n",
        )
    write_file(
        root / "tests/test_uses_three.py",
        "from pkg import m3\n\n\ndef test_it():\n    assert m3.value() == 3\n",
    )
    write_file(root / ".acb/config.toml", f"[test]\ntimeout_s = {timeout_s}\n")
    commit_all(root, "a big suite", init=True)
    return root


EDIT_M3 = """*** Begin Patch
*** Update File: pkg/m3.py
@@
 def value():
-    return 3
+    return 1 + 2
*** End Patch"""


def compute_m3(repo: Path) -> list[dict[str, Any]]:
    """A run whose change is pkg/m3.py (EDIT_M3), committed; its --json events."""
    script = [
        Reply("", [("apply_patch", {"patch": EDIT_M3})]),
        Reply("Done: m3 computes its value."),
        Reply("refactor(m3): compute the value"),
    ]
    done, _ = exec_with_mock(repo, script, "compute m3", "--json")
    assert done.returncode == 0, done.stderr
    return events(done.stdout)


def ledger_verification(home: Path) -> tuple[str, str]:
    connection = sqlite3.connect(home / "ledger.db")
    row = connection.execute(
        "SELECT verification, verification_detail FROM runs ORDER BY started_at DESC LIMIT 1"
    ).fetchone()
    return row[0], row[1]


def test_the_tests_of_the_change_run_first_and_a_partial_check_says_so(
    tmp_path: Path, isolated_home: Path
) -> None:
    repo = big_project(tmp_path / "big", timeout_s=20)
    stream = compute_m3(repo)
    checked = [e for e in stream if e["type"] == "tests_checked"]
    # The test named after the change first, then the one that only imports it.
    assert [c["verdict"] for c in checked] == ["passed", "passed"], checked
    assert [c["selected"] for c in checked] == [["tests/test_m3.py"], ["tests/test_uses_three.py"]]
    assert [c["passed"] for c in checked] == [1, 1]
    finished = stream[-1]
    verification = finished["verification"]
    # 41 test files, ~0.3 s or more each by the selection's own pace: more than the 20 s budget.
    assert verification["status"] == "partly-verified", verification
    assert "2 passed" in verification["detail"] and "whole suite" in verification["detail"]
    assert sorted(verification["tests"]) == ["tests/test_m3.py", "tests/test_uses_three.py"]
    assert ledger_verification(isolated_home) == ("partly-verified", verification["detail"])
    message = git(repo, "log", "-1", "--format=%B")
    assert "Acb-Verified: partly-verified (2 passed" in message


def test_slow_importers_cannot_take_the_time_the_nearest_tests_need(
    tmp_path: Path, isolated_home: Path
) -> None:
    repo = big_project(tmp_path / "big", timeout_s=8)
    write_file(
        repo / "tests/test_slow_user.py",
        "import time\n\nfrom pkg import m3\n\n\ndef test_slowly():\n    time.sleep(60)\n",
    )
    commit_all(repo, "a slow test that imports m3")
    stream = compute_m3(repo)
    checked = [e for e in stream if e["type"] == "tests_checked"]
    assert [c["verdict"] for c in checked] == ["passed", "timed-out"], checked
    assert checked[0]["selected"] == ["tests/test_m3.py"]
    verification = stream[-1]["verification"]
    assert verification["status"] == "partly-verified", verification
    assert verification["tests"] == ["tests/test_m3.py"]
    assert "import the change did not finish" in verification["detail"]


def touch_core(repo: Path) -> subprocess.CompletedProcess[str]:
    """A run whose change is one docstring line of wordstats/core.py."""
    patch = (
        "*** Begin Patch\n*** Update File: wordstats/core.py\n@@\n"
        '-"""Counting words in plain text."""\n+"""Counting the words in plain text."""\n'
        "*** End Patch"
    )
    script = [
        Reply("", [("apply_patch", {"patch": patch})]),
        Reply("Done."),
        Reply("docs(core): say what is counted"),
    ]
    done, _ = exec_with_mock(repo, script, "touch core", "--json")
    return done


SLOW_TEST = """import time


def test_slow():
    time.sleep(60)
"""


def test_a_timeout_is_neither_a_pass_nor_an_old_failure(
    wordstats_repo: Path, isolated_home: Path
) -> None:
    write_file(wordstats_repo / "tests/test_slow.py", SLOW_TEST)
    write_file(wordstats_repo / ".acb/config.toml", "[test]\ntimeout_s = 4\n")
    commit_all(wordstats_repo, "a slow test")
    done = touch_core(wordstats_repo)
    stream = events(done.stdout)
    checked = [e for e in stream if e["type"] == "tests_checked"]
    assert [c["verdict"] for c in checked] == ["timed-out"], checked
    assert checked[0]["preexisting"] == []
    verification = stream[-1]["verification"]
    assert verification["status"] == "unverified"
    assert "timed out" in verification["detail"]
    assert ledger_verification(isolated_home)[0] == "unverified"
    assert "Acb-Verified: unverified (the tests" in git(wordstats_repo, "log", "-1", "--format=%B")
    human, _ = exec_with_mock(wordstats_repo, [Reply("Nothing more to do.")], "look", "--no-commit")
    assert "verified" not in human.stderr  # a run that changed nothing claims nothing


def test_a_verified_run_says_so_in_the_summary(wordstats_repo: Path, isolated_home: Path) -> None:
    patch = (
        "*** Begin Patch\n*** Add File: wordstats/extra.py\n"
        "+def extra() -> int:\n+    return 1\n*** End Patch"
    )
    script = [
        Reply("", [("apply_patch", {"patch": patch})]),
        Reply("Done."),
        Reply("feat: extra"),
    ]
    done, _ = exec_with_mock(wordstats_repo, script, "add extra")
    assert done.returncode == 0, done.stderr
    assert "◆ verified: whole suite:" in done.stderr
    assert ledger_verification(isolated_home)[0] == "verified"
    message = git(wordstats_repo, "log", "-1", "--format=%B")
    assert "Acb-Verified: verified (whole suite:" in message
    shown = run_acb("runs", "show", "last", cwd=wordstats_repo)
    assert shown.returncode == 0, shown.stderr
    assert "tests     verified (whole suite:" in shown.stdout
    assert "[tests] tests pass" in shown.stdout and "[review]" in shown.stdout


def test_a_suite_that_cannot_run_before_or_after_proves_nothing(
    wordstats_repo: Path, isolated_home: Path
) -> None:
    # A collection error (here: a module the tests need is missing) fails the suite as a
    # whole, the same before and after the change: not the run's fault, and no proof either.
    write_file(wordstats_repo / "tests/conftest.py", "import a_module_this_machine_lacks\n")
    commit_all(wordstats_repo, "tests that cannot run here")
    done = touch_core(wordstats_repo)
    verification = events(done.stdout)[-1]["verification"]
    assert verification["status"] == "unverified", verification
    assert "no test passed" in verification["detail"]
    message = git(wordstats_repo, "log", "-1", "--format=%B")
    assert "Acb-Verified: unverified (no test passed" in message


def test_selection_takes_projects_own_test_names_and_the_models_choice() -> None:
    from autocodebase.quality.selection import select_tests

    files = [
        "pylint/reporters/text.py",
        "tests/reporters/unittest_reporting.py",
        "tests/test_self.py",
        "app/views.py",
        "app/tests.py",
    ]
    texts = {
        "tests/reporters/unittest_reporting.py": "from pylint.reporters import text\n",
        "tests/test_self.py": "import os\n",
        "app/tests.py": "from app import views\n",
    }
    chosen = select_tests(files, ["pylint/reporters/text.py"], lambda p: texts.get(p, ""))
    assert chosen.files == ("tests/reporters/unittest_reporting.py",)
    asked = select_tests(
        files, ["app/views.py"], lambda p: texts.get(p, ""), asked=["app/tests.py"]
    )
    assert asked.files[0] == "app/tests.py" and asked.reasons["app/tests.py"] == "run by the model"
