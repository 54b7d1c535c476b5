"""The peers benchmark's failed-run paths, fed data (no peer is launched): a tool whose runs all
failed is shown as failed with its reason, has no ratio and no place in the reading, and the
command exits 1 for it unless `--allow-missing` (issue 25: Codex 0.171 refused to start, and
the report said it led on time to the first request at 0.000 s)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from bench import outcome
from bench.peers import run as peers
from bench.peers import tools

CODEX_REASON = (
    'Error finding codex home: CODEX_HOME points to "/x/codex-home", but that path does not exist'
)


def measured(**overrides: object) -> dict[str, object]:
    figures: dict[str, object] = {
        "version": "0.1.0",
        "help_s": 0.05,
        "first_request_s": 0.936,
        "wall_s": 2.0,
        "overhead_ms": 49.0,
        "steps": 10,
        "first_tokens": 1634,
        "total_tokens": 20451,
        "tokens_per_step": [1634] * 10,
        "first_bytes": 9000,
        "peak_rss_mb": 80.0,
        "ok_runs": 3,
        "runs": 3,
    }
    return {**figures, **overrides}


def codex_failed() -> dict[str, object]:
    samples = [peers.failed_run(0.1, 0, f"no request reached the mock (exit 1): {CODEX_REASON}")]
    return {"version": "0.171.0", **peers.figures(samples * 3)}


def results_with_failed_codex() -> dict[str, dict[str, object]]:
    return {
        "acb": measured(),
        "codex": codex_failed(),
        "mini-swe-agent": measured(
            version="2.4.6", first_request_s=3.1, overhead_ms=36.2, first_tokens=846
        ),
    }


def reading_line(section: str) -> str:
    return next(line for line in section.splitlines() if line.startswith("Reading: "))


def test_a_failed_run_has_no_figures() -> None:
    entry = codex_failed()
    assert entry["failed"].startswith("3 of 3 runs failed: no request reached the mock")  # type: ignore[attr-defined]
    assert CODEX_REASON in str(entry["failed"])
    for key in ("first_request_s", "first_tokens", "total_tokens", "peak_rss_mb", "help_s"):
        assert key not in entry, f"a failed run must not yield {key}"


def test_figures_come_from_the_successful_runs_only() -> None:
    good = peers.Sample(2.0, 0.9, 10, 40.0, [100] * 10, 500, 80.0)
    bad = peers.failed_run(0.2, 0, "no request reached the mock (exit 1): boom")
    entry = peers.figures([bad, good, bad])
    assert entry["first_request_s"] == 0.9 and entry["ok_runs"] == 1 and entry["runs"] == 3
    assert entry["failures"] == [bad.note, bad.note]
    assert "failed" not in entry


def test_the_reading_never_names_a_failed_tool() -> None:
    section = peers.render(results_with_failed_codex(), 3)
    reading = reading_line(section)
    assert "codex" not in reading, reading
    assert "0.000 s" not in section
    assert "mini-swe-agent leads on first-request tokens (846 vs acb's 1,634)" in reading


def test_a_failed_tool_is_shown_failed_with_its_reason_and_no_ratio() -> None:
    section = peers.render(results_with_failed_codex(), 3)
    assert "| tool | acb 0.1.0 | codex 0.171.0 | mini-swe-agent 2.4.6 |" in section
    assert "| median | 0.936 (1.0x) | failed | 3.100 (3.3x) |" in section
    assert "**codex 0.171.0: not measured.** 3 of 3 runs failed" in section
    assert "CODEX_HOME points to" in section
    assert "- codex:" not in section, "no tokens per step for a tool that sent none"


def test_partly_failed_runs_say_so_beside_the_figures() -> None:
    results = {"acb": measured(failures=["exit 1 after 4 of 10 requests: killed"], ok_runs=2)}
    section = peers.render(results, 3)
    assert "acb 0.1.0: 2 of 3 runs succeeded" in section
    assert "exit 1 after 4 of 10 requests" in section


def test_without_acb_there_is_no_ratio_and_no_comparison() -> None:
    results: dict[str, dict[str, object]] = {
        "acb": {"version": "0.1.0", "failed": "3 of 3 runs failed: exit 2: usage"},
        "codex": measured(version="0.171.0", first_request_s=0.3),
        "aider": measured(version="0.86.2", first_request_s=2.7, steps=1, overhead_ms=None),
    }
    section = peers.render(results, 3)
    assert not re.search(r"\d\.\dx\)", section), "a ratio to a tool that was not measured"
    reading = reading_line(section)
    assert "acb itself was not measured" in reading
    assert "vs acb's" not in reading and "acb's own goals" not in reading
    assert "codex leads on time to the first request (0.300 s); acb has no figure." in reading


def test_one_measured_tool_leads_nothing() -> None:
    results = {"acb": measured(), "codex": codex_failed()}
    reading = reading_line(peers.render(results, 3))
    assert "leads" not in reading
    assert "acb's own goals: cold start 0.050 s" in reading


def test_a_one_step_trajectory_gets_no_trajectory_ratio() -> None:
    results = {"acb": measured(), "aider": measured(version="0.86.2", steps=1, total_tokens=905)}
    section = peers.render(results, 3)
    assert "905 (1 step(s): no ratio)" in section
    assert "aider leads on trajectory tokens" not in section


def test_a_failed_help_is_failed_not_zero() -> None:
    results = {
        "acb": measured(),
        "codex": measured(version="0.171.0", help_s=None, errors={"help_s": "--help exited 1: x"}),
    }
    section = peers.render(results, 3)
    assert "| median | 0.050 (1.0x) | failed |" in section
    assert "codex 0.171.0, cold start: failed. --help exited 1: x" in section
    assert "codex leads on cold start" not in section


@pytest.mark.parametrize(
    ("returncode", "steps", "wrote", "expected"),
    [
        (0, 0, False, "no request reached the mock (exit 0)"),
        (1, 3, False, "exit 1 after 3 of 10 requests"),
        (0, 11, True, "sent 11 requests for a trajectory of 10"),
        (0, 10, False, "exit 0 but greet.py was not written"),
        (None, 4, False, f"killed after {peers.RUN_TIMEOUT_S} s (4 of 10 requests sent)"),
        (0, 10, True, ""),
    ],
)
def test_a_run_is_judged_failed_with_its_reason(
    returncode: int | None, steps: int, wrote: bool, expected: str
) -> None:
    problem = peers.judge(returncode, steps, 10, wrote, "some output")
    assert problem.startswith(expected) if expected else problem == ""


def saved(tmp_path: Path, results: dict[str, dict[str, object]]) -> Path:
    lines = tmp_path / "saved.jsonl"
    lines.write_text("".join(json.dumps({n: d}) + "\n" for n, d in results.items()))
    return lines


def test_exit_1_when_a_tool_asked_for_was_not_measured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    written: list[str] = []
    monkeypatch.setattr(outcome, "write_section", lambda heading, text: written.append(text))
    path = saved(tmp_path, results_with_failed_codex())
    assert peers.main(["--results", str(path), "--write"]) == 1
    err = capsys.readouterr().err
    assert "could not measure tool codex: 3 of 3 runs failed" in err
    assert "--allow-missing" in err
    assert written == [], "a run with a tool missing is not published"


def test_allow_missing_publishes_with_the_tool_shown_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    written: list[str] = []
    monkeypatch.setattr(outcome, "write_section", lambda heading, text: written.append(text))
    path = saved(tmp_path, results_with_failed_codex())
    assert peers.main(["--results", str(path), "--write", "--allow-missing"]) == 0
    assert "could not measure tool codex" in capsys.readouterr().err
    assert len(written) == 1 and "codex 0.171.0: not measured" in written[0]


def test_exit_0_when_every_tool_was_measured(tmp_path: Path) -> None:
    path = saved(tmp_path, {"acb": measured(), "codex": measured(version="0.171.0")})
    assert peers.main(["--results", str(path)]) == 0


def test_pins_reach_the_install_and_a_wrong_version_fails(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked: list[tuple[str, str | None]] = []

    def fake_install(name: str, pin: str | None = None) -> str:
        asked.append((name, pin))
        return f"/cache/{name}"

    monkeypatch.setattr(peers, "install", fake_install)
    monkeypatch.setattr(peers, "installed_version", lambda name, binary: "0.170.0")
    monkeypatch.setattr(peers, "version", lambda name, binary: "codex-cli 0.170.0")
    code = peers.main(["--tools", "codex", "--runs", "1", "--codex-version", "0.169.0"])
    assert asked == [("codex", "0.169.0")]
    assert code == 1
    out = capsys.readouterr()
    assert "pinned 0.169.0, but /cache/codex is 0.170.0" in out.err
    assert "codex 0.170.0: not measured" in out.out


def test_an_install_that_fails_is_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(name: str, pin: str | None = None) -> str:
        raise tools.NotInstalled("npm ERR! 404 No matching version found for @openai/codex@9.9.9")

    monkeypatch.setattr(peers, "install", broken)
    code = peers.main(["--tools", "codex", "--runs", "1", "--codex-version", "9.9.9"])
    assert code == 1
    assert "not installed (@openai/codex 9.9.9): npm ERR! 404" in capsys.readouterr().err


def test_pinned_versions_get_their_own_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACB_BENCH_CACHE", str(tmp_path))
    assert tools.place("codex") == tmp_path / "codex"
    assert tools.place("codex", "0.169.0") == tmp_path / "codex-0.169.0"
    assert tools.place("aider", "0.86.2") == tmp_path / "aider-venv-0.86.2"
    assert tools.place("mini-swe-agent", "2.4.6") == tmp_path / "mswea-venv-2.4.6"


def test_the_harness_creates_codex_home(tmp_path: Path) -> None:
    binary = tmp_path / "codex-0.171.0" / "node_modules" / ".bin" / "codex"
    _, env = tools.command("codex", str(binary), "http://127.0.0.1:1", "task", tmp_path)
    home = Path(env["CODEX_HOME"])
    assert home == tmp_path / "codex-0.171.0" / "home" and home.is_dir()


def test_the_installed_version_is_read_from_the_package(tmp_path: Path) -> None:
    prefix = tmp_path / "codex"
    (prefix / "node_modules" / ".bin").mkdir(parents=True)
    (prefix / "node_modules" / "@openai" / "codex").mkdir(parents=True)
    (prefix / "node_modules" / "@openai" / "codex" / "package.json").write_text(
        '{"name": "@openai/codex", "version": "0.171.0"}'
    )
    binary = str(prefix / "node_modules" / ".bin" / "codex")
    assert tools.installed_version("codex", binary) == "0.171.0"


def test_acb_is_measured_from_this_checkout() -> None:
    """An editable install may point at another checkout; the acb measured is this tree's."""
    path = tools.base_env("acb")["PYTHONPATH"].split(":")
    assert path[0] == str(tools.REPO / "src")


def test_results_saved_before_failures_were_marked_are_read_as_failed(tmp_path: Path) -> None:
    """The issue's own report: Codex's runs all failed and were saved as zeros."""
    old_codex = {
        "version": "codex-cli 0.171.0",
        "help_s": 0.08,
        "first_request_s": 0,
        "first_tokens": 0,
        "total_tokens": 0,
        "steps": 0,
        "tokens_per_step": [],
        "ok_runs": 0,
        "runs": 3,
        "note": CODEX_REASON,
    }
    path = saved(tmp_path, {"acb": measured(), "codex": old_codex})
    assert peers.main(["--results", str(path)]) == 1
    assert peers.from_saved(old_codex)["failed"] == f"0 of 3 runs succeeded: {CODEX_REASON}"
    section = peers.render({"acb": measured(), "codex": peers.from_saved(old_codex)}, 3)
    assert "codex" not in reading_line(section) and "0.000 s" not in section
