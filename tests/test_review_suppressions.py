"""A suppression comment a change adds does not exempt acb's own change from its review gate,
and in a person's review it leaves the finding visible at low severity: one `# nosec` must not
be the way past a blocking finding."""

from __future__ import annotations

from pathlib import Path

import pytest

from autocodebase.agent.review_gate import ReviewGate
from autocodebase.events import Event
from autocodebase.quality.review import semgrep as semgrep_gate
from autocodebase.quality.review.changes import ChangeSet
from autocodebase.quality.review.static import static_review
from tests.helpers import write_file

SHELL = "import subprocess\n\n\ndef run(command):\n    subprocess.call(command, shell=True){}\n"
TOKEN = 'TOKEN = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"{}\n'


def review(root: Path, name: str, text: str, honour: bool) -> list[tuple[str, str, str]]:
    write_file(root / name, text)
    lines = set(range(1, len(text.splitlines()) + 1))
    found = static_review(ChangeSet("t", root, {name: lines}), honour_suppressions=honour)
    assert found.failed == []
    return [(f.rule, f.severity, f.message) for f in found.findings]


def test_nosec_does_not_exempt_acbs_own_change(tmp_path: Path) -> None:
    found = review(tmp_path, "run.py", SHELL.format("  # nosec"), honour=False)
    assert ("B602", "high") in [(rule, severity) for rule, severity, _ in found]
    message = next(m for rule, _, m in found if rule == "B602")
    assert message.endswith("(`# nosec` does not exempt acb's own change)")


def test_a_persons_nosec_is_kept_visible_at_low_severity(tmp_path: Path) -> None:
    found = review(tmp_path, "run.py", SHELL.format("  # nosec B602 - input is ours"), True)
    shell = [(severity, m) for rule, severity, m in found if rule == "B602"]
    assert shell == [("low", shell[0][1])] and "suppressed by `# nosec B602` here" in shell[0][1]


def test_a_comment_naming_other_rules_suppresses_nothing_else(tmp_path: Path) -> None:
    found = review(tmp_path, "run.py", SHELL.format("  # nosec B607"), honour=True)
    assert [(rule, severity) for rule, severity, _ in found if rule == "B602"] == [("B602", "high")]


def test_without_a_comment_the_finding_is_unchanged(tmp_path: Path) -> None:
    found = review(tmp_path, "run.py", SHELL.format(""), honour=True)
    assert [(rule, severity) for rule, severity, _ in found if rule == "B602"] == [("B602", "high")]
    assert not any("suppressed" in message for *_, message in found)


def test_an_allowlisted_secret_is_still_a_secret_in_acbs_change(tmp_path: Path) -> None:
    found = review(tmp_path, "keys.py", TOKEN.format("  # pragma: allowlist secret"), False)
    assert ("GitHub Token", "high") in [(rule, severity) for rule, severity, _ in found]


def test_a_file_wide_ruff_noqa_counts_as_a_suppression(tmp_path: Path) -> None:
    text = "# ruff: noqa\n\ndef total(items):\n    return sum(itmes)\n"
    assert [(r, s) for r, s, _ in review(tmp_path, "t.py", text, honour=True)] == [("F821", "low")]
    assert [(r, s) for r, s, _ in review(tmp_path, "t.py", text, honour=False)] == [
        ("F821", "high")
    ]


WORKFLOW = """on: push
jobs:
  a:
    runs-on: ubuntu-latest{}
    steps:
      - run: echo hi
"""


def test_a_repositorys_zizmor_config_and_inline_ignores_do_not_silence_the_gate(
    tmp_path: Path,
) -> None:
    """A cloned repository's .github/zizmor.yml could disable any audit for every review."""
    write_file(
        tmp_path / ".github/zizmor.yml", "rules:\n  excessive-permissions:\n    disable: true\n"
    )
    name = ".github/workflows/ci.yml"
    found = review(tmp_path, name, WORKFLOW.format(""), honour=False)
    assert ("excessive-permissions", "medium") in [(r, s) for r, s, _ in found]
    inline = WORKFLOW.format("  # zizmor: ignore[excessive-permissions]")
    assert ("excessive-permissions", "medium") in [
        (r, s) for r, s, _ in review(tmp_path, name, inline, honour=False)
    ]
    assert ("excessive-permissions", "low") in [
        (r, s) for r, s, _ in review(tmp_path, name, inline, honour=True)
    ]


def test_the_commit_gate_sends_back_a_change_that_suppresses_its_own_finding(
    tmp_path: Path,
) -> None:
    write_file(tmp_path / "run.py", SHELL.format("  # nosec"))
    events: list[Event] = []
    gate = ReviewGate(tmp_path, events.append, lambda: ["run.py"], lambda: None)
    verdict = gate()
    assert verdict.feedback is not None and "B602" in verdict.feedback
    assert "does not exempt" in verdict.feedback


@pytest.mark.slow
@pytest.mark.skipif(semgrep_gate.executable() is None, reason="semgrep extra not installed")
def test_nosemgrep_does_not_exempt_acbs_own_change(tmp_path: Path) -> None:
    from bench.review.canary import CANARY

    flow = "timeout=5).content"
    marked = CANARY.replace(flow, flow + "  # nosemgrep")
    assert marked != CANARY
    strict = [(r, s) for r, s, _ in review(tmp_path, "app.py", marked, honour=False)]
    assert any(rule.startswith("acb.") and severity != "low" for rule, severity in strict)
    kind = [(r, s) for r, s, _ in review(tmp_path, "app.py", marked, honour=True)]
    assert [s for r, s in kind if r.startswith("acb.")] == ["low"]
