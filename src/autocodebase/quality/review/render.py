"""Findings as text (people), JSON (scripts), SARIF 2.1.0 (code-scanning UIs) or Markdown
(a pull-request comment)."""

from __future__ import annotations

import json

from autocodebase import __version__
from autocodebase.quality.review.findings import Finding

SARIF_LEVEL = {"high": "error", "medium": "warning", "low": "note"}


def as_text(findings: list[Finding], label: str) -> str:
    if not findings:
        return f"no findings on the changed lines ({label})\n"
    lines = [f"{len(findings)} finding(s) on the changed lines ({label}):"]
    for f in findings:
        hint = f"\n    fix: {f.fix_hint}" if f.fix_hint else ""
        lines.append(f"{f.file}:{f.line}: {f.severity} [{f.tool} {f.rule}] {f.message}{hint}")
    return "\n".join(lines) + "\n"


def as_json(findings: list[Finding], label: str) -> str:
    return (
        json.dumps({"reviewed": label, "findings": [f.record() for f in findings]}, indent=2) + "\n"
    )


def as_markdown(findings: list[Finding], label: str) -> str:
    if not findings:
        return f"**acb review** ({label}): no findings on the changed lines.\n"
    rows = [
        f"| {f.severity} | `{f.file}:{f.line}` | {f.tool} `{f.rule}` | "
        + f.message.replace("|", "/")
        + " |"
        for f in findings
    ]
    head = (
        f"**acb review** ({label}): {len(findings)} finding(s)\n\n"
        "| severity | where | rule | finding |\n|---|---|---|---|\n"
    )
    return head + "\n".join(rows) + "\n"


def as_sarif(findings: list[Finding], label: str) -> str:
    rules: dict[str, dict[str, object]] = {}
    results = []
    for f in findings:
        rule_id = f"{f.tool}/{f.rule}"
        rules.setdefault(rule_id, {"id": rule_id, "shortDescription": {"text": f.message[:200]}})
        result: dict[str, object] = {
            "ruleId": rule_id,
            "level": SARIF_LEVEL[f.severity],
            "message": {"text": f.message + (f" Fix: {f.fix_hint}" if f.fix_hint else "")},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": f.file},
                        "region": {"startLine": f.line, "endLine": max(f.line, f.end_line)},
                    }
                }
            ],
        }
        results.append(result)
    document = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "acb review",
                        "version": __version__,
                        "rules": list(rules.values()),
                    }
                },
                "automationDetails": {"description": {"text": label}},
                "results": results,
            }
        ],
    }
    return json.dumps(document, indent=2) + "\n"


FORMATS = {"text": as_text, "json": as_json, "markdown": as_markdown, "sarif": as_sarif}
