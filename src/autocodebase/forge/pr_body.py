"""What a pull request opened by `acb resolve` says: the run's record, for a reviewer.

Built from the run's events as the ledger holds them (already redacted) and the branch's
diffstat: what changed, what the tests proved, what the review gate found, what the run cost
and which run it was (`acb runs show RUN` tells the rest).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_FINDINGS = 20


@dataclass(frozen=True)
class RunReport:
    """The parts of a run's record a pull request shows."""

    run_id: str
    outcome: str
    model: str
    steps: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    verification: dict[str, Any] | None = None
    findings: list[dict[str, Any]] = field(default_factory=list)
    commit: str | None = None
    final_message: str = ""
    failed_gates: list[str] = field(default_factory=list)


def report_from_events(run_id: str, events: Sequence[dict[str, Any]]) -> RunReport:
    """The report of the run whose ledger events are `events`."""
    empty: dict[str, Any] = {}
    started = next((e for e in events if e.get("type") == "run_started"), empty)
    finished = next((e for e in reversed(events) if e.get("type") == "run_finished"), empty)
    reviews = [e for e in events if e.get("type") == "review_checked"]
    commits = [e for e in events if e.get("type") == "git" and e.get("commit")]
    usage = finished.get("usage") or {}
    return RunReport(
        run_id=run_id,
        outcome=str(finished.get("outcome", "unknown")),
        model=str(started.get("model", "?")),
        steps=int(finished.get("steps") or 0),
        input_tokens=int(usage.get("input_tokens") or 0),
        output_tokens=int(usage.get("output_tokens") or 0),
        cost_usd=finished.get("cost_usd"),
        verification=finished.get("verification"),
        findings=list(reviews[-1].get("findings") or []) if reviews else [],
        failed_gates=list(reviews[-1].get("failed_gates") or []) if reviews else [],
        commit=str(commits[-1]["commit"]) if commits else None,
        final_message=str(finished.get("final_message") or ""),
    )


def _verification(report: RunReport) -> str:
    found = report.verification
    if not found:
        return "not verified: the run recorded no test result"
    status, detail = found.get("status", "unverified"), found.get("detail", "")
    mark = "✅" if status == "verified" else "⚠️"
    return f"{mark} {status}: {detail}".rstrip(": ")


def _findings(report: RunReport) -> str:
    failed = "".join(f"⚠️ {why}.\n\n" for why in report.failed_gates)
    return failed + _finding_table(report)


def _finding_table(report: RunReport) -> str:
    if not report.findings:
        return "No findings on the changed lines."
    rows = [
        f"| {f.get('severity', '?')} | `{f.get('file', '?')}:{f.get('line', '?')}` | "
        f"{f.get('tool', '?')} `{f.get('rule', '?')}` | "
        + str(f.get("message", "")).replace("|", "/").replace("\n", " ")
        + " |"
        for f in report.findings[:MAX_FINDINGS]
    ]
    more = len(report.findings) - MAX_FINDINGS
    tail = f"\n\n…and {more} more (`acb runs show {report.run_id}`)." if more > 0 else ""
    head = "| severity | where | rule | finding |\n|---|---|---|---|\n"
    return head + "\n".join(rows) + tail


def _cost(report: RunReport) -> str:
    cost = f"${report.cost_usd:.4f}" if report.cost_usd is not None else "cost unknown"
    return (
        f"{cost}; {report.input_tokens:,} tokens in, {report.output_tokens:,} out; "
        f"{report.steps} step(s) with `{report.model}`"
    )


def pull_request_body(
    report: RunReport, diffstat: str, closes: str | None, opened_by: str = "acb resolve"
) -> str:
    """Markdown for the pull/merge request; `closes` is the issue reference (`#12`), if any;
    `opened_by` the command that opened it."""
    summary = report.final_message.strip() or "(the run left no final message)"
    parts = [
        f"Closes {closes}.\n" if closes else "",
        "## What changed\n",
        summary,
        "",
        "```text\n" + (diffstat.rstrip() or "(no file changes)") + "\n```",
        "",
        "## Verification\n",
        _verification(report),
        "",
        "## Review findings\n",
        _findings(report),
        "",
        "## Run\n",
        f"- run id: `{report.run_id}` (`acb runs show {report.run_id}`)",
        f"- commit: `{report.commit or 'none'}`",
        f"- cost: {_cost(report)}",
        "",
        f"_Opened by `{opened_by}`._",
    ]
    return "\n".join(parts).lstrip() + "\n"
