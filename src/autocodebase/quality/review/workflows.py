"""CI workflow files and GitHub Action metadata (`action.yml`): schema validity
(check-jsonschema's bundled GitHub workflow, GitHub Action and GitLab CI schemas, offline)
and security (zizmor --offline: template injection, unpinned actions, excessive permissions,
dangerous triggers, persisted credentials).

Used by the review gates on changed workflows and by `acb ci` to prove what it generates.
"""

from __future__ import annotations

from pathlib import Path

from autocodebase.programs import installed
from autocodebase.quality.review.findings import RANK, Finding, Severity
from autocodebase.quality.review.tool_report import json_report

SCHEMAS = {
    "github": "vendor.github-workflows",
    "github-action": "vendor.github-actions",
    "gitlab": "vendor.gitlab-ci",
}
_ZIZMOR_LEVEL: dict[str, Severity] = {
    "High": "high",
    "Medium": "medium",
    "Low": "low",
    "Informational": "low",
    "Unknown": "low",
}
_DOWNGRADE: dict[str, Severity] = {"high": "medium", "medium": "low", "low": "low"}


def provider_of(path: str) -> str | None:
    if path.startswith(".github/workflows/") and path.endswith((".yml", ".yaml")):
        return "github"
    if Path(path).name in ("action.yml", "action.yaml"):
        return "github-action"
    if Path(path).name.endswith(".gitlab-ci.yml"):  # .gitlab-ci.yml, or a template to include
        return "gitlab"
    return None


def schema_findings(root: Path, files: list[str]) -> list[Finding]:
    """Schema validity belongs to the whole file: these count wherever the file changed."""
    program = installed("check-jsonschema")
    findings: list[Finding] = []
    for name in files:
        provider = provider_of(name)
        if provider is None or program is None:
            continue
        command = [program, "--builtin-schema", SCHEMAS[provider], "-o", "json", f"./{name}"]
        report = json_report("check-jsonschema", command, root, timeout=300)
        text = (root / name).read_text(errors="replace").splitlines()
        for error in report.get("errors", []):
            best = error.get("best_deep_match") or error.get("best_match") or error
            message = str(best.get("message", error.get("message", "")))
            findings.append(
                Finding(
                    tool="check-jsonschema",
                    rule=f"{provider}-workflow",
                    severity="high",
                    file=name,
                    line=_line_of(text, str(best.get("path", "")), message),
                    message=f"{best.get('path', '$')}: {message}",
                    fix_hint="see the workflow syntax reference of the CI provider",
                )
            )
    return findings


def zizmor_findings(root: Path, files: list[str]) -> list[Finding]:
    """zizmor audits GitHub workflows and actions only; `--offline` keeps it from asking
    GitHub about action versions."""
    chosen = [f for f in files if provider_of(f) in ("github", "github-action")]
    program = installed("zizmor")
    if not chosen or program is None:
        return []
    # --no-config: a repository's zizmor.yml can disable any audit; --no-ignores: see
    # `suppressions` for what an inline `# zizmor: ignore[...]` is worth.
    command = [program, "--offline", "--format", "json", "--no-progress", "--no-config"]
    command.append("--no-ignores")
    items = json_report("zizmor", [*command, *(f"./{name}" for name in chosen)], root, 300)
    findings = []
    for item in items:
        judged = item.get("determinations", {})
        severity = _ZIZMOR_LEVEL.get(str(judged.get("severity")), "low")
        if judged.get("confidence") == "Low":
            severity = _DOWNGRADE[severity]
        fixes = [str(f.get("title", "")) for f in item.get("fixes", [])]
        for location in item.get("locations", [])[:1]:
            key = location["symbolic"]["key"].get("Local", {})
            span = location["concrete"]["location"]
            row = span["start_point"]["row"]
            annotation = location["symbolic"].get("annotation", "")
            findings.append(
                Finding(
                    tool="zizmor",
                    rule=str(item["ident"]),
                    severity=severity,
                    file=str(key.get("verbatim_path", chosen[0])).removeprefix("./"),
                    line=int(row) + 1,
                    end_line=int(span.get("end_point", {}).get("row", row)) + 1,
                    message=f"{item.get('desc', '')}: {annotation}",
                    fix_hint="; ".join(fixes) or str(item.get("url", "")),
                )
            )
    return findings


def validate(root: Path, files: list[str], fail_at: Severity = "high") -> list[Finding]:
    """Every workflow check on whole files (what `acb ci` must pass before it trusts them)."""
    found = schema_findings(root, files) + zizmor_findings(root, files)
    return [f for f in found if RANK[f.severity] >= RANK[fail_at]]


def _line_of(lines: list[str], path: str, message: str) -> int:
    """Best guess at the line a schema error is about: a quoted key in the message, else the
    last key of its JSON path."""
    keys = [
        *[k for k in (message.split("'")[1::2]) if k.isidentifier() or "-" in k],
        path.split(".")[-1],
    ]
    for key in keys:
        for number, line in enumerate(lines, start=1):
            if line.strip().startswith((f"{key}:", f"- {key}:")):
                return number
    return 1
