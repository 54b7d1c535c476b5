"""Every benchmark's failed-run path, fed data (nothing real is launched): what failed is shown
as failed with its reason and never as a number, has no ratio and no place in the reading, and
the command exits 1 for it, writing nothing, unless `--allow-missing` (issue 25). The peers
benchmark has its own file, tests/test_bench_peers_report.py."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from bench import outcome, sandbox, serve, startup
from bench.context import report as context
from bench.edits import run as edits
from bench.eval import run as eval_run
from bench.real import harness as real_harness
from bench.real import run as real_run
from bench.review import canary as review_canary
from bench.review import report as review_report
from bench.review import run as review_run

NUMBER_MS = re.compile(r"\d+(\.\d+)? ms")


@pytest.fixture
def written(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What a benchmark wrote into docs/benchmarks.md (nothing is really written)."""
    sections: list[str] = []
    monkeypatch.setattr(outcome, "write_section", lambda heading, text: sections.append(text))
    return sections


def row_of(section: str, label: str) -> str:
    return next(line for line in section.splitlines() if line.startswith(f"| {label}"))


# -- bench/outcome.py --------------------------------------------------------------------------


def test_conclude_exits_1_and_writes_nothing_when_something_is_missing(
    written: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code = outcome.conclude("## X\n", "## X", True, {"codex": "exit 1: boom"}, False)
    assert code == 1 and written == []
    err = capsys.readouterr().err
    assert "could not measure tool codex: exit 1: boom" in err
    assert "docs/benchmarks.md left as it was" in err and "--allow-missing" in err


def test_conclude_with_allow_missing_writes_and_still_names_it(
    written: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert outcome.conclude("## X\n", "## X", True, {"codex": "boom"}, True) == 0
    assert written == ["## X\n"]
    assert "could not measure tool codex: boom" in capsys.readouterr().err


def test_a_failure_cell_is_one_line_without_pipes() -> None:
    cell = outcome.failed("Traceback:\n  a | b\nValueError: x")
    assert cell == "failed: Traceback: a / b ValueError: x"


# -- bench/startup.py --------------------------------------------------------------------------


def startup_rows() -> list[startup.Row]:
    return [
        startup.Row("`acb --help` (process start to exit)", [0.05, 0.06, 0.07]),
        startup.Row(
            "`acb exec`, OpenAI Chat provider, to first request",
            [0.7, 0.8],
            ["exec exited 1: acb: internal error"],
        ),
        startup.Row(
            "`acb exec`, Anthropic provider, to first request",
            [],
            ["no request reached the mock (exit 2): no such provider"] * 3,
        ),
    ]


def test_startup_shows_a_measurement_without_a_working_run_as_failed() -> None:
    section = startup.render(startup_rows(), 3)
    failed = row_of(section, "`acb exec`, Anthropic")
    assert "failed: no request reached the mock (exit 2): no such provider" in failed
    assert not NUMBER_MS.search(failed), failed
    assert "| 60 ms | 50 ms | 70 ms |" in row_of(section, "`acb --help`")


def test_startup_keeps_failed_runs_out_of_the_figures_and_names_them() -> None:
    section = startup.render(startup_rows(), 3)
    assert "| 750 ms | 700 ms | 800 ms |" in row_of(section, "`acb exec`, OpenAI")
    assert "1 of 3 runs failed and are not in its figures: exec exited 1" in section


def test_startup_exit_status(
    monkeypatch: pytest.MonkeyPatch, written: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    rows = iter(startup_rows() * 2)
    monkeypatch.setattr(startup, "time_help", lambda runs: next(rows))
    monkeypatch.setattr(startup, "time_first_request", lambda *args: next(rows))
    monkeypatch.setattr(
        startup, "profile_first_request", lambda *args: startup.Breakdown(400.0, {"x": 1.0})
    )
    assert startup.main(["--write"]) == 1
    assert written == []
    assert "could not measure figure `acb exec`, Anthropic" in capsys.readouterr().err
    assert startup.main(["--write", "--allow-missing"]) == 0
    assert len(written) == 1 and "failed: no request reached the mock" in written[0]


# -- bench/sandbox.py --------------------------------------------------------------------------


def test_sandbox_a_failing_column_is_failed_and_run_no_more() -> None:
    calls: list[str] = []

    def broken() -> None:
        calls.append("boxed")
        raise RuntimeError("bwrap: setting up uid map: Permission denied")

    ms = sandbox.interleaved_medians({"bare": lambda: None, "boxed": broken}, 5)
    assert isinstance(ms["bare"], float)
    assert ms["boxed"] == "RuntimeError: bwrap: setting up uid map: Permission denied"
    assert calls == ["boxed"], "a failed column is not timed again"


def test_sandbox_row_shows_the_reason_and_no_difference() -> None:
    ms: dict[str, sandbox.Figure] = {
        "bare": 3.0,
        "boxed": 80.0,
        "full": "run_command ran it as none (fallback), exit 0: ",
        "lean": 70.0,
    }
    line = sandbox.row("`true`", ms)
    assert "| 3.0 ms | 80.0 ms (+77.0) | failed: run_command ran it as none (fallback)" in line
    assert "| 70.0 ms (+67.0) |" in line
    no_bare = sandbox.row("`true`", {**ms, "bare": "CalledProcessError: exit 127"})
    assert "(+" not in no_bare, "no cost over a bare time that does not exist"


def test_sandbox_run_command_that_falls_back_is_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    from autocodebase.sandbox.policy import SandboxPolicy
    from autocodebase.sandbox.run import CommandOutcome

    fallback = CommandOutcome(exit_code=0, output="", sandbox="none (fallback)")
    monkeypatch.setattr(sandbox, "run_command", lambda *args: fallback)
    with pytest.raises(RuntimeError, match="ran it as none \\(fallback\\)"):
        sandbox.sandboxed(SandboxPolicy(), "true", Path("/"), {})


def test_sandbox_exit_status_without_bubblewrap(
    monkeypatch: pytest.MonkeyPatch, written: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sandbox, "bwrap_problem", lambda: "bwrap is not installed")
    assert sandbox.main(["-n", "1", "--write"]) == 1
    out, err = capsys.readouterr()
    assert written == []
    assert "could not measure figure `true`: boxed: bubblewrap is unavailable" in err
    assert (
        "| `true` | " in out and "failed: bubblewrap is unavailable: bwrap is not installed" in out
    )
    assert sandbox.main(["-n", "1", "--write", "--allow-missing"]) == 0
    assert len(written) == 1


# -- bench/serve.py ----------------------------------------------------------------------------


def test_serve_a_page_that_cannot_be_fetched_is_failed() -> None:
    timing = serve.timed("http://127.0.0.1:1/", 3)
    assert isinstance(timing, str) and "URLError" in timing
    line = serve.row("a run's page (15 events)", "HTTPError: HTTP Error 404: Not Found")
    assert (
        line
        == "| a run's page (15 events) | failed: HTTPError: HTTP Error 404: Not Found | – | – |"
    )
    section = serve.render({"runs": (20.0, 25.0, 4096), "a run": timing}, 10, 150, 1.0, 0.5, 3)
    assert "| runs | 20.0 ms | 25.0 ms | 4 KB |" in section
    assert not NUMBER_MS.search(row_of(section, "a run"))


def test_serve_exit_status(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    written: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(serve, "fill", lambda ledger, runs: ledger.write_bytes(b"x") and 0)
    monkeypatch.setattr(serve, "serve", lambda ledger: ("http://127.0.0.1:1", None))

    def timed(url: str, repeat: int) -> serve.Timing:
        return (
            "HTTPError: HTTP Error 500: Internal Server Error" if "/api/" in url else (9.0, 9.5, 10)
        )

    monkeypatch.setattr(serve, "timed", timed)
    assert serve.main(["--runs", "10", "--write"]) == 1
    assert written == []
    assert "could not measure page API: /api/runs (50): HTTPError" in capsys.readouterr().err
    assert serve.main(["--runs", "10", "--write", "--allow-missing"]) == 0
    assert "| API: /api/runs (50) | failed: HTTPError: HTTP Error 500" in written[0]


# -- bench/edits/run.py ------------------------------------------------------------------------


def script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return path


def test_edits_a_crashing_applier_is_a_failure_not_a_refusal(tmp_path: Path) -> None:
    refuses = script(tmp_path / "refuses", "echo 'Invalid patch' >&2; exit 1")
    assert edits.run_codex(refuses, "*** Begin Patch", "x = 1\n", tmp_path) is None
    crashes = script(tmp_path / "crashes", "echo 'exec format error' >&2; exit 126")
    with pytest.raises(edits.EngineFailed, match="exited 126: exec format error"):
        edits.run_codex(crashes, "*** Begin Patch", "x = 1\n", tmp_path)
    with pytest.raises(edits.EngineFailed, match="No such file"):
        edits.run_codex(tmp_path / "absent", "*** Begin Patch", "x = 1\n", tmp_path)


def test_edits_a_dead_aider_worker_is_a_failure_with_its_last_words(tmp_path: Path) -> None:
    python = script(
        tmp_path / "python", "echo \"ModuleNotFoundError: No module named 'aider'\" >&2"
    )
    worker = edits.AiderWorker(python)
    with pytest.raises(edits.EngineFailed, match="No module named 'aider'"):
        worker("x = 1\n", [("-", "x = 1"), ("+", "x = 2")])
    worker.log.close()


def test_edits_an_engine_that_cannot_apply_the_probe_is_failed(tmp_path: Path) -> None:
    assert (
        edits.probe(
            "acb", lambda o, ops, a, w: edits.run_acb(edits.codex_patch(ops), o, w), tmp_path
        )
        == ""
    )
    why = edits.probe("broken", lambda o, ops, a, w: None, tmp_path)
    assert why.startswith("broken did not apply a one-line clean edit")


def test_edits_render_shows_a_failed_engine_without_counts() -> None:
    tally = edits.Tally()
    tally.cases["clean"] = 2
    tally.add("acb (Codex patch)", "clean", "correct")
    tally.add("acb (Codex patch)", "clean", "correct")
    tally.add(edits.AIDER, "clean", "refused")  # counted before it died: not a result
    section = edits.render(
        ["acb (Codex patch)", edits.AIDER],
        {edits.AIDER: "aider_worker.py stopped: MemoryError"},
        tally,
        [{"repo": "flask"}],
        1.0,
    )
    assert "| clean | 2 | 2 ✓ / 0 refused / 0 ✗ | failed |" in section
    assert "| **all** | 2 | 2 ✓ / 0 refused / 0 ✗ | failed |" in section
    assert f"**{edits.AIDER}: not measured.** aider_worker.py stopped: MemoryError" in section


def test_edits_exit_status_when_peers_are_missing(
    tmp_path: Path, written: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = tmp_path / "corpus.jsonl"
    edit = {
        "repo": "demo",
        "commit": "abc",
        "path": "m.py",
        "original": "def f():\n    return 1\n",
        "expected": "def f():\n    return 2\n",
        "ops": [[" ", "def f():"], ["-", "    return 1"], ["+", "    return 2"]],
    }
    corpus.write_text(json.dumps(edit) + "\n")
    argv = ["--corpus", str(corpus), "--codex", str(tmp_path / "no-codex")]
    argv += ["--aider-python", str(tmp_path / "no-python"), "--write"]
    assert edits.main(argv) == 1
    assert written == []
    err = capsys.readouterr().err
    assert f"could not measure engine {edits.CODEX}:" in err and "no-codex not found" in err
    assert edits.main([*argv, "--allow-missing"]) == 0
    assert (
        "| clean | 1 | 1 ✓ / 0 refused / 0 ✗ | 1 ✓ / 0 refused / 0 ✗ | failed | failed |"
        in written[0]
    )
    assert f"**{edits.CODEX}: not measured.**" in written[0]


# -- bench/context/report.py -------------------------------------------------------------------


def speed_rows() -> list[dict[str, object]]:
    acb = {"cold_s": 2.0, "warm_s": 0.2, "peak_mb": 300.0, "worker_peak_mb": 200.0, "runs": 3}
    aider = {"cold_s": 10.0, "warm_s": 3.0, "peak_mb": 900.0, "runs": 3, "version": "0.86.2"}
    return [
        {"repo": "flask", "files": 80, "acb": acb, "aider": aider},
        {
            "repo": "mono",
            "files": 11121,
            "acb": acb,
            "aider": {"failed": "aider_worker.py exited 1: MemoryError"},
        },
        {"repo": "sympy", "files": 1500, "acb": acb},
    ]


def quality_lines(aider_dies: bool) -> list[dict[str, object]]:
    lines: list[dict[str, object]] = []
    for number, source in enumerate(["history", "history", "swe-bench-lite"]):
        ranks: dict[str, list[int | None]] = {"bm25": [1], "graph": [7], "fused-0.5": [1]}
        if not (aider_dies and number == 2):
            ranks["aider"] = [20]
        lines.append(
            {
                "id": f"c{number}",
                "source": source,
                "repo": "flask",
                "gold": ["a.py"],
                "ranks": ranks,
                "acb_rank_s": 0.1,
                "aider_rank_s": 2.0,
            }
        )
    if aider_dies:
        lines.append(
            {"failed_method": "aider", "reason": "aider_worker.py rank stopped (exit -9): Killed"}
        )
    return lines


def test_context_speed_shows_a_failed_tool_without_ratio() -> None:
    table = context.speed_table(speed_rows())
    mono, sympy = row_of(table, "mono"), row_of(table, "sympy")
    assert "failed: aider_worker.py exited 1: MemoryError" in mono
    assert "x |" not in mono and "x |" not in sympy, "no ratio against a missing figure"
    assert "failed: not run (no --aider-python" in sympy
    assert "| 5.0x |" in row_of(table, "flask")


def test_context_reading_uses_only_rows_where_both_were_measured() -> None:
    results, _, _ = context.merge_records(quality_lines(aider_dies=False))
    reading = context.reading(speed_rows(), results)
    assert "On the largest tree (flask, 80 files)" in reading, (
        "mono's Aider failed: not the largest"
    )


def test_context_a_dead_aider_is_failed_not_a_low_recall() -> None:
    results, failures, dropped = context.merge_records(quality_lines(aider_dies=True))
    assert failures == {"aider": "aider_worker.py rank stopped (exit -9): Killed"}
    assert dropped == 0 and len(results) == 3, "acb keeps every case"
    assert all("aider" not in r["ranks"] for r in results)  # type: ignore[operator]
    overall, per_repo = context.quality_tables(results)
    assert "Aider" not in overall and "aider R@5" not in per_repo
    assert "Aider's map order" not in context.reading([], results)


def test_context_a_group_without_cases_has_no_recall() -> None:
    history_only = [r for r in quality_lines(aider_dies=False) if r["source"] == "history"]
    results, _, _ = context.merge_records(history_only)
    assert context.recall([], "bm25", 5) is None
    overall, _ = context.quality_tables(results)
    assert "| BM25 alone (acb's lexical index) | 1.000 | 1.000 | 1.000 | – | – | – |" in overall


def test_context_exit_status(
    tmp_path: Path, written: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    speed, quality = tmp_path / "speed.json", tmp_path / "quality.jsonl"
    speed.write_text(json.dumps(speed_rows()))
    quality.write_text("".join(json.dumps(line) + "\n" for line in quality_lines(aider_dies=True)))
    argv = ["--speed", str(speed), "--quality", str(quality), "--write"]
    assert context.main(argv) == 1
    assert written == []
    err = capsys.readouterr().err
    assert "could not measure tool aider (build speed, mono): aider_worker.py exited 1" in err
    assert "could not measure tool aider (localisation): aider_worker.py rank stopped" in err
    assert context.main([*argv, "--allow-missing"]) == 0
    assert "**aider (localisation): not measured.** aider_worker.py rank stopped" in written[0]
    assert "Aider: no figure" in written[0]
    assert context.main([*argv, "--tools", "acb"]) == 0, "Aider not asked for"


def test_context_a_failed_build_is_named_not_timed() -> None:
    from bench.context import speed

    with pytest.raises(speed.Failed, match="exited 3: boom"):
        speed.measure([sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"])
    with pytest.raises(speed.Failed, match="printed no timing"):
        speed.measure([sys.executable, "-c", "print('not json')"])


def test_context_a_dead_aider_worker_raises_with_its_last_words(tmp_path: Path) -> None:
    from bench.context import quality

    python = script(tmp_path / "python", "echo 'ImportError: networkx' >&2; exit 1")
    aider = quality.Aider(python)
    with pytest.raises(quality.AiderFailed, match="ImportError: networkx"):
        aider.ask(tmp_path, ["a.py"], "query")
        aider.answer()
    aider.log.close()


# -- bench/review ------------------------------------------------------------------------------


def review_with(gate_failures: dict[str, str]) -> review_report.Review:
    review = review_report.Review(gate_failures=gate_failures)
    review.per_category["sql-injection"] += [(True, True), (True, False)]
    review.per_category["bug"] += [(True, False)]
    review.injected_failures["ssrf"].append("src/flask/app.py: CalledProcessError: git show")
    review.clean_total, review.clean_any, review.clean_high = 10, 2, 1
    review.clean_failures.append("flask@abc1234567: CalledProcessError: bad revision")
    return review


def render_review(review: review_report.Review) -> str:
    templates = {"sql-injection": ["t"], "ssrf": ["t"], "bug": ["t"]}
    return review_report.render(review, templates, 4, "flask", ["flask"], 10, "1.0")


def test_review_a_gate_that_did_not_run_is_named_and_the_reading_claims_nothing() -> None:
    section = render_review(review_with({"semgrep": "semgrep is not installed"}))
    assert "- **gate semgrep: did not run.** semgrep is not installed" in section
    reading = next(line for line in section.splitlines() if line.startswith("Reading: "))
    assert "every injected flaw is seen" not in section
    assert "3 of 3 injected flaws are seen without semgrep, which did not run" in reading


def test_review_unreviewable_cases_are_not_counted() -> None:
    section = render_review(review_with({}))
    assert "| ssrf | 0 | failed: src/flask/app.py: CalledProcessError: git show | – |" in section
    assert "Found (any severity): **3/3 (100%)**" in section, "the failed case is not a miss"
    assert "1 injected diffs could not be reviewed and are not counted" in section
    assert "1 clean commits could not be reviewed and are not counted" in section
    assert "With any finding: **2/10 (20%)**" in section


def test_review_nothing_reviewed_is_no_percentage() -> None:
    review = review_report.Review()
    review.clean_failures.append("flask@abc: CalledProcessError: bad revision")
    section = render_review(review)
    assert "(0%)" not in section and "none reviewed" in section
    assert review.missing(["bug"]) == {
        "category bug": "no case was made",
        "clean commits": "flask@abc: CalledProcessError: bad revision",
    }


def test_review_a_gate_silent_on_the_canary_is_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from autocodebase.quality.review import semgrep as semgrep_gate
    from autocodebase.quality.review.findings import Finding
    from autocodebase.quality.review.static import StaticReview

    def without_semgrep(changes: object) -> StaticReview:
        tools = ("ruff", "bandit", "detect-secrets", "licence")
        return StaticReview(
            [
                Finding(tool=t, rule="x", severity="high", file="canary.py", line=1, message="m")
                for t in tools
            ]
        )

    monkeypatch.setattr(review_canary, "static_review", without_semgrep)
    monkeypatch.setattr(semgrep_gate, "unavailable", lambda: "semgrep is not installed")
    assert review_canary.gates_not_running(tmp_path) == {"semgrep": "semgrep is not installed"}
    assert not (tmp_path / "canary.py").exists()


def test_review_exit_status(
    monkeypatch: pytest.MonkeyPatch, written: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(
        review_run,
        "review_all",
        lambda repos, clean, seed: review_with({"bandit": "No module named bandit"}),
    )
    monkeypatch.setattr(review_run, "semgrep_version", lambda: "1.0")
    assert review_run.main(["--repo", "/nowhere/flask", "--write"]) == 1
    assert written == []
    err = capsys.readouterr().err
    assert "could not measure part gate bandit: No module named bandit" in err
    assert "could not measure part category ssrf" in err
    assert review_run.main(["--repo", "/nowhere/flask", "--write", "--allow-missing"]) == 0
    assert "**gate bandit: did not run.**" in written[0]


# -- bench/real --------------------------------------------------------------------------------


def real_result(instance: str, outcome: str, wall: float, reason: str = "") -> real_harness.Result:
    return real_harness.Result(
        instance=instance,
        repo="acme/tiny",
        resolved=outcome == "completed",
        outcome=outcome,
        exit_code=0 if outcome == "completed" else 1,
        wall_s=wall,
        verification="verified" if outcome == "completed" else "none",
        verification_detail="",
        phases={"startup": 0.5, "model": 1.0} if outcome != "none" else {},
        gate=[],
        commit="abc" if outcome == "completed" else None,
        message_source="model",
        failing=[],
        grade_s=1.0,
        steps=4,
        reason=reason,
    )


def real_results() -> list[real_harness.Result]:
    crashed = "exit 1: acb: internal error: AttributeError('BackgroundMap') ; nothing committed"
    return [
        real_result("acme__tiny-1", "completed", 30.0),
        real_result("acme__tiny-2", "completed", 50.0),
        real_result("acme__tiny-3", "none", 1.2, crashed),
    ]


def test_real_a_run_acb_did_not_finish_is_a_failed_row_out_of_the_times() -> None:
    section = real_run.render(real_results(), [], {"acme__tiny-4": "CalledProcessError: pip"})
    crashed = row_of(section, "acme__tiny-3")
    assert "| no | failed: exit 1: acb: internal error" in crashed
    assert "1.2" not in crashed, "a crashed run's wall time is no figure"
    assert "**2 of 3 resolved" in section, "still not resolved"
    assert "Wall time (the 2 runs acb finished): median 40.0 s, max 50.0 s" in section
    assert "- acme__tiny-4: CalledProcessError: pip" in section


def test_real_exit_status(
    tmp_path: Path, written: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "results.json"
    saved.write_text(json.dumps([r.record() for r in real_results()]))
    data = tmp_path / "lite.json"
    data.write_text("[]")
    argv = ["--repos", str(tmp_path), "--data", str(data), "--results", str(saved), "--write"]
    argv += [
        "--instance",
        "acme__tiny-1",
        "--instance",
        "acme__tiny-2",
        "--instance",
        "acme__tiny-3",
    ]
    assert real_run.main(argv) == 1
    assert written == []
    assert "could not measure instance acme__tiny-3: acb did not finish" in capsys.readouterr().err
    assert real_run.main([*argv, "--instance", "acme__nope-9", "--allow-missing"]) == 0
    err = capsys.readouterr().err
    assert f"could not measure instance acme__nope-9: not in {data}" in err
    assert "Not run: acme__nope-9" in written[0]


# -- bench/eval --------------------------------------------------------------------------------


def eval_report() -> dict[str, object]:
    return {
        "total": 2,
        "resolved": ["a__b-1"],
        "unresolved": [],
        "environment_error": ["a__b-2"],
        "error": ["a__b-2"],
        "instances": {
            "a__b-1": {"status": "resolved"},
            "a__b-2": {"status": "error", "error": "pip could not install numpy==1.2"},
        },
    }


def test_eval_a_configuration_without_a_report_is_a_failed_row() -> None:
    results: list[dict[str, object]] = [
        {
            "config": "ray:2",
            "failed": "acb eval exited 2 and wrote no report: No module named 'ray'",
        },
        {"config": "local:1", "wall_s": 80.0, "exit": 1, "report": eval_report()},
    ]
    section = eval_run.section(results, "0.50")
    assert (
        "| ray:2 | failed: acb eval exited 2 and wrote no report: No module named 'ray' | – |"
        in section
    )
    assert "| local:1 | 1 | 0 | 1 | 0 | 80.0 s |" in section
    assert "- a__b-2: error; pip could not install numpy==1.2" in section
    none = eval_run.section(results[:1], "0.50")
    assert "No configuration produced a report." in none


def test_eval_run_without_a_report_fails_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_python = script(tmp_path / "python", "echo \"No module named 'ray'\" >&2; exit 2")
    monkeypatch.setattr(sys, "executable", str(fake_python))
    result = eval_run.run("ray:2", ["a__b-1"], tmp_path, tmp_path, tmp_path / "out", tmp_path)
    assert result["config"] == "ray:2" and "wall_s" not in result
    assert "acb eval exited 2 and wrote no report" in str(result["failed"])
    assert "No module named 'ray'" in str(result["failed"])


def test_eval_exit_status(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    written: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    def run(config: str, *args: object) -> dict[str, object]:
        if config.startswith("ray"):
            return {"config": config, "failed": "no module named ray"}
        return {"config": config, "wall_s": 10.0, "exit": 0, "report": eval_report()}

    monkeypatch.setattr(eval_run, "run", run)
    ids = tmp_path / "ids.txt"
    ids.write_text("a__b-1\na__b-2\n")
    argv = ["--repos", str(tmp_path), "--ids", str(ids), "--write"]
    assert eval_run.main(argv) == 1
    assert written == []
    assert "could not measure configuration ray:2: no module named ray" in capsys.readouterr().err
    assert eval_run.main([*argv, "--allow-missing"]) == 0
    assert "| ray:2 | failed: no module named ray |" in written[0]


def test_the_startup_breakdown_names_where_the_time_went() -> None:
    found = startup.Breakdown(
        400.0, {"acb's own modules": 150.0, "the standard library": 60.0, "third-party": 30.0}
    )
    (line,) = startup.breakdown_lines("OpenAI Chat", found)
    assert "400 ms to the first request" in line and "imports 240 ms" in line
    assert "the other 160 ms" in line
    assert startup._origin("autocodebase.agent.loop") == "acb's own modules"
    assert startup._origin("json.decoder") == "the standard library"
    assert startup._origin("click.core") == "third-party"
    shown = startup.render(startup_rows(), 3, [line])
    assert "Where the time goes" in shown and line in shown
