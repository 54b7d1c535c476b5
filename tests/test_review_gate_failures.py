"""A review gate whose tool crashes is reported, never read as "no findings": semgrep once
could not start (setuptools 84 dropped the pkg_resources its telemetry imports) and every
review passed without its rules for as long as nobody looked."""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

import pytest

from autocodebase.agent.review_gate import ReviewGate
from autocodebase.cli.main import main
from autocodebase.event_text import describe_review_checked
from autocodebase.events import Error, Event, ReviewChecked
from autocodebase.forge.pr_body import pull_request_body, report_from_events
from autocodebase.quality.review import semgrep as semgrep_gate
from autocodebase.quality.review.changes import ChangeSet
from autocodebase.quality.review.static import static_review
from autocodebase.quality.review.tool_report import GateFailed, json_report
from tests.conftest import commit_all
from tests.helpers import write_file

CRASH = "ModuleNotFoundError: No module named 'pkg_resources'"
TRACEBACK = f"Traceback (most recent call last):\n{CRASH}\n"
CRASHES = f"sys.stderr.write({TRACEBACK!r}); sys.exit(2)"
"""A script body that dies the way semgrep did: a traceback on stderr, exit 2, no report."""


def fake_tool(tmp_path: Path, name: str, body: str) -> str:
    """An executable Python script standing in for a scanner."""
    path = tmp_path / "bin" / name
    write_file(path, f"#!{sys.executable}\nimport sys\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def crashing_semgrep(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    program = fake_tool(tmp_path, "semgrep", CRASHES)
    monkeypatch.setattr(semgrep_gate, "executable", lambda: program)


def test_json_report_reads_a_report_and_names_what_went_wrong_otherwise(tmp_path: Path) -> None:
    ok = fake_tool(tmp_path, "ok", "print('{\"results\": []}')")
    assert json_report("ok", [ok], tmp_path) == {"results": []}

    crash = fake_tool(tmp_path, "crash", CRASHES)
    with pytest.raises(GateFailed, match=r"crash failed \(exit 2, no report: " + CRASH):
        json_report("crash", [crash], tmp_path)

    noise = fake_tool(tmp_path, "noise", "print('Usage: noise [OPTIONS]'); sys.exit(1)")
    with pytest.raises(GateFailed, match="output that is not its JSON report"):
        json_report("noise", [noise], tmp_path)

    slow = fake_tool(tmp_path, "slow", "import time; time.sleep(30)")
    with pytest.raises(GateFailed, match="no answer within 1 s"):
        json_report("slow", [slow], tmp_path, timeout=1)

    with pytest.raises(GateFailed, match="cannot start"):
        json_report("gone", [str(tmp_path / "missing")], tmp_path)

    killed = fake_tool(tmp_path, "killed", "import os, signal; os.kill(os.getpid(), 9)")
    with pytest.raises(GateFailed, match="killed by signal 9"):
        json_report("killed", [killed], tmp_path)


def change_with_undefined_name(root: Path) -> ChangeSet:
    write_file(root / "app.py", "def total(items):\n    return sum(itmes)\n")
    return ChangeSet("test", root, {"app.py": {1, 2}})


def test_a_crashing_scanner_is_in_failed_and_the_other_gates_still_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    crashing_semgrep(tmp_path, monkeypatch)
    review = static_review(change_with_undefined_name(tmp_path / "repo"))
    assert review.failed == [
        f"semgrep failed (exit 2, no report: {CRASH}), so its checks were not applied"
    ]
    assert [(f.tool, f.rule) for f in review.findings] == [("ruff", "F821")]


def test_semgrep_errors_without_results_are_a_failure_not_a_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = {
        "results": [],
        "errors": [{"level": "error", "type": "InvalidRuleSchemaError", "message": "bad\n rule"}],
    }
    program = fake_tool(tmp_path, "semgrep", f"print({json.dumps(json.dumps(report))})")
    monkeypatch.setattr(semgrep_gate, "executable", lambda: program)
    review = static_review(change_with_undefined_name(tmp_path / "repo"))
    assert review.failed == ["semgrep failed (bad rule), so its checks were not applied"]


def test_acb_review_names_the_failed_gate_and_exits_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "repo"
    write_file(root / "app.py", "X = 1\n")
    commit_all(root, "start", init=True)
    write_file(root / "app.py", "X = 1\nY = X + 1\n")
    commit_all(root, "more")
    crashing_semgrep(tmp_path, monkeypatch)
    monkeypatch.chdir(root)
    monkeypatch.setenv("ACB_HOME", str(tmp_path / "home"))
    with pytest.raises(SystemExit) as exit_info:
        main(["review", "HEAD", "--no-model"])
    out, err = capsys.readouterr()
    assert exit_info.value.code == 3, out + err
    assert f"acb review: semgrep failed (exit 2, no report: {CRASH})" in err
    assert "no findings on the changed lines" in out  # what the other gates said still shows


def test_the_commit_gate_reports_a_failed_gate_in_its_events_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    crashing_semgrep(tmp_path, monkeypatch)
    root = tmp_path / "repo"
    write_file(root / "app.py", "X = 1\n")
    events: list[Event] = []
    gate = ReviewGate(root, events.append, lambda: ["app.py"], lambda: None)
    assert gate().failure is None  # a crash does not block: it is said, as a missing tool is
    errors = [e for e in events if isinstance(e, Error)]
    assert len(errors) == 1 and "semgrep failed" in errors[0].message and not errors[0].fatal
    checked = [e for e in events if isinstance(e, ReviewChecked)]
    assert checked[0].failed_gates == gate.failed and "semgrep failed" in gate.failed[0]
    gate()  # the same failure again is in the record, not repeated as an error
    assert len([e for e in events if isinstance(e, Error)]) == 1

    payload = {**vars(checked[0]), "type": "review_checked"}
    line, good = describe_review_checked(payload)
    assert line == "◆ review: no findings on the change; semgrep failed and did not check it"
    assert not good
    report = report_from_events("r1", [payload])
    assert "⚠️ semgrep failed (exit 2" in pull_request_body(report, "", None)


def test_a_file_semgrep_gave_up_on_is_a_finding_even_when_others_have_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A per-file error (a time limit a crafted file can be made to hit) leaves that file
    unchecked while the rest are: the file gets a blocking finding, the others keep theirs."""
    root = tmp_path / "repo"
    write_file(root / "slow.py", "X = 1\nY = 2\n")
    write_file(root / "app.py", "X = 1\n")
    report = {
        "results": [
            {
                "check_id": "rules.acb.python.x",
                "path": "./app.py",
                "start": {"line": 1},
                "end": {"line": 1},
                "extra": {"severity": "WARNING", "message": "m"},
            }
        ],
        "errors": [{"level": "warn", "type": "Timeout", "path": "./slow.py", "message": "t"}],
    }
    program = fake_tool(tmp_path, "semgrep", f"print({json.dumps(json.dumps(report))})")
    monkeypatch.setattr(semgrep_gate, "executable", lambda: program)
    found = semgrep_gate.semgrep(root, ["slow.py", "app.py"])
    assert sorted((f.file, f.rule, f.severity) for f in found) == [
        ("app.py", "rules.acb.python.x", "medium"),
        ("slow.py", "file-not-scanned", "high"),
    ]
    assert found[0].lines() == range(1, 3) or found[1].lines() == range(1, 3)
