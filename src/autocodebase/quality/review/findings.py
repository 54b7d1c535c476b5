"""One shape for every analyser's findings, so they can be merged, filtered and rendered."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

Severity = Literal["low", "medium", "high"]
RANK: dict[str, int] = {"low": 1, "medium": 2, "high": 3}


@dataclass(frozen=True)
class Finding:
    tool: str
    rule: str
    severity: Severity
    file: str
    line: int
    message: str
    fix_hint: str = ""
    end_line: int = 0
    """Last line of a match that spans several (0: just `line`); it is on the change when any
    line of the span is."""

    def lines(self) -> range:
        return range(self.line, max(self.line, self.end_line) + 1)

    def record(self) -> dict[str, Any]:
        return asdict(self)


def deduplicate(findings: list[Finding]) -> list[Finding]:
    """One finding per place and problem: when two tools flag the same line for the same
    reason (ruff's S-rules mirror bandit's), keep the most severe."""
    best: dict[tuple[str, int, str], Finding] = {}
    for finding in findings:
        key = (finding.file, finding.line, _family(finding))
        kept = best.get(key)
        if kept is None or RANK[finding.severity] > RANK[kept.severity]:
            best[key] = finding
    return sorted(best.values(), key=lambda f: (-RANK[f.severity], f.file, f.line, f.rule))


def _family(finding: Finding) -> str:
    """bandit B608 and ruff S608 are the same check."""
    rule = finding.rule
    if finding.tool == "ruff" and rule.startswith("S"):
        return "B" + rule[1:]
    return rule


def at_least(findings: list[Finding], severity: str) -> list[Finding]:
    return [f for f in findings if RANK[f.severity] >= RANK[severity]]


def not_scanned(root: Path, tool: str, name: str, error: dict[str, object]) -> Finding:
    """A changed file `tool` could not read: high, and on every line of the file, so it blocks
    acb's own commit like a finding would (a model can make a tool skip a file on purpose)."""
    try:
        count = len((root / name).read_bytes().splitlines())
    except OSError:
        count = 1
    why = str(error.get("reason") or error.get("message") or "no reason given")
    return Finding(
        tool=tool,
        rule="file-not-scanned",
        severity="high",
        file=name,
        line=1,
        end_line=max(count, 1),
        message=f"{tool} could not scan this file ({' '.join(why.split())[:200]}), so its "
        "checks were not applied to it",
        fix_hint=f"write the file so that {tool} can read it",
    )
