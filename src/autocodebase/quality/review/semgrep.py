"""semgrep with acb's own rule files (rules/*.yml), offline: path traversal, SSRF, SQL built
from strings, template injection, open redirects, unverified JWTs, and the JavaScript flaws
bandit cannot see. No registry, no metrics, no version check: nothing leaves the machine.

semgrep is an optional extra (`autocodebase[semgrep]`, a 380 MB wheel); without it these rules
are skipped and `unavailable()` says so, never silently.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from autocodebase.programs import installed
from autocodebase.quality.review.changes import as_arguments
from autocodebase.quality.review.findings import Finding, Severity, not_scanned
from autocodebase.quality.review.kinds import is_python
from autocodebase.quality.review.tool_report import GateFailed, json_report

RULES = Path(__file__).with_name("rules")
SUFFIXES = (".py", ".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx")
_LEVEL: dict[str, Severity] = {"ERROR": "high", "WARNING": "medium", "INFO": "low"}
INSTALL_HINT = "pip install 'autocodebase[semgrep]'"


def executable() -> str | None:
    return installed("semgrep")


def unavailable() -> str | None:
    """Why the semgrep gate cannot run here, or None when it can."""
    if executable() is None:
        return f"semgrep is not installed, so acb's semgrep rules were skipped ({INSTALL_HINT})"
    return None


@functools.cache
def rule_ids() -> frozenset[str]:
    """The ids our rule files declare (`acb.python.sql-from-strings`, ...)."""
    import yaml

    return frozenset(
        str(rule["id"])
        for path in sorted(RULES.glob("*.yml"))
        for rule in (yaml.safe_load(path.read_text()) or {}).get("rules", [])
    )


def rule_name(check_id: str) -> str:
    """Our rule's own id: semgrep prefixes it with the rule directory's path, dotted
    (`home.me.acb.src....rules.acb.python.x`), which depends on where acb is installed."""
    for known in rule_ids():
        if check_id == known or check_id.endswith(f".{known}"):
            return known
    return check_id


def semgrep(root: Path, files: list[str]) -> list[Finding]:
    chosen = [f for f in files if f.endswith(SUFFIXES) or is_python(root, f)]
    program = executable()
    if not chosen or program is None:
        return []
    env = {**os.environ, "SEMGREP_ENABLE_VERSION_CHECK": "0", "SEMGREP_SEND_METRICS": "off"}
    scan = [program, "scan", "--config", str(RULES), "--metrics=off", "--disable-version-check"]
    options = ["--json", "--quiet", "--no-git-ignore", "--disable-nosem"]
    report = json_report("semgrep", [*scan, *options, *as_arguments(chosen)], root, env=env)
    errors = report.get("errors", [])
    fatal = [e for e in errors if e.get("level") == "error" and not e.get("path")]
    if fatal:
        # A rule file it could not load: its rules checked nothing, whatever else was found.
        message = str(fatal[0].get("message") or fatal[0].get("type") or "an error")
        raise GateFailed("semgrep", " ".join(message.split())[:200])
    # A target it could not read or gave up on (a time limit a file can be made to hit): that
    # file went unchecked, which a model could arrange on purpose.
    skipped = {
        str(e["path"]).removeprefix("./"): e
        for e in errors
        if e.get("path") and (e.get("level") == "error" or "Timeout" in str(e.get("type")))
    }
    findings = [not_scanned(root, "semgrep", name, error) for name, error in skipped.items()]
    for item in report.get("results", []):
        extra = item.get("extra", {})
        rule = str(item["check_id"])
        findings.append(
            Finding(
                tool="semgrep",
                rule=rule_name(rule),
                severity=_LEVEL.get(str(extra.get("severity")), "low"),
                file=str(item["path"]).removeprefix("./"),
                line=int(item["start"]["line"]),
                message=str(extra.get("message", "")),
                fix_hint=str((extra.get("metadata") or {}).get("fix", "")),
                end_line=int(item.get("end", item["start"])["line"]),
            )
        )
    return findings
