"""The deterministic gates: ruff (bug rules), bandit (security), detect-secrets (credentials),
shellcheck, semgrep with acb's own rules, the workflow checks and the licence check, run on the
new version of the changed files and kept only where the change touched.

They read files and never run them, so they run outside the sandbox, on our own interpreter
(the tools are acb's dependencies, not the project's).
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from autocodebase.context.paths import is_test_path
from autocodebase.programs import installed
from autocodebase.quality.review import semgrep as semgrep_gate
from autocodebase.quality.review.binaries import binary_findings
from autocodebase.quality.review.changes import ChangeSet, as_arguments
from autocodebase.quality.review.findings import Finding, Severity, deduplicate, not_scanned
from autocodebase.quality.review.kinds import is_python
from autocodebase.quality.review.licences import licence_findings
from autocodebase.quality.review.suppressions import weigh_suppressed
from autocodebase.quality.review.tool_report import GateFailed, json_report
from autocodebase.quality.review.workflows import schema_findings, zizmor_findings

RUFF_RULES = "F,E9,E711,E712,B"
_RUFF_HIGH = ("E9", "F821", "F822", "F823", "F706", "F704", "B012", "B018")
BANDIT_HIGH = frozenset(
    {
        "B102",
        "B201",
        "B202",
        "B301",
        "B302",
        "B307",
        "B324",
        "B501",
        "B502",
        "B503",
        "B504",
        "B506",
        "B602",
        "B604",
        "B605",
        "B608",
        "B609",
        "B701",
    }
)
"""Rules whose finding, in a change, is an exploitable class of flaw (code, command or SQL
injection, unsafe deserialisation, weak password hashing, TLS off, template autoescape off):
high whatever bandit's own per-rule severity says, so they block a commit by default."""
ALLOWLIST = "detect_secrets.filters.allowlist.is_line_allowlisted"
"""The filter that honours `pragma: allowlist secret`: off, see `suppressions`."""
SKIPS_FILES = tuple(
    f"detect_secrets.filters.heuristic.{name}"
    for name in ("is_lock_file", "is_swagger_file", "is_non_text_file")
)
"""detect-secrets' filters that drop whole files by name (any path containing `swagger`, a
lock file's name, a suffix it takes for binary such as .svg): off, a model picks names."""
_RUFF_LOW = ("F401", "F841", "F811", "F403", "F405", "B007", "B905")


def ruff(root: Path, files: list[str]) -> list[Finding]:
    python = [f for f in files if f.endswith(".pyi") or is_python(root, f)]
    if not python:
        return []
    check = [sys.executable, "-P", "-m", "ruff", "check", "--isolated", "--no-cache"]
    check.append("--ignore-noqa")  # see `suppressions`
    options = ["--select", RUFF_RULES, "--output-format", "json", "--exit-zero"]
    # Python tools run as `python -P -m TOOL` in the repository: without -P, `-m` would import
    # a `ruff/` or `bandit/` package the repository (or the model) put there, on the host.
    report = json_report("ruff", [*check, *options, *as_arguments(python)], root)
    findings = []
    for item in report:
        code = str(item.get("code") or "E999")
        severity: Severity = (
            "high"
            if code.startswith(_RUFF_HIGH)
            else "low"
            if code.startswith(_RUFF_LOW)
            else "medium"
        )
        fix = (item.get("fix") or {}).get("message") or ""
        findings.append(
            Finding(
                tool="ruff",
                rule=code,
                severity=severity,
                file=_relative(root, item["filename"]),
                line=int(item["location"]["row"]),
                message=str(item["message"]),
                fix_hint=fix,
            )
        )
    return findings


def bandit(root: Path, files: list[str]) -> list[Finding]:
    python = [f for f in files if is_python(root, f)]
    if not python:
        return []
    bandit = [sys.executable, "-P", "-m", "bandit", "-q", "-f", "json", "--ignore-nosec"]
    # --exclude= : bandit's default exclusions (`CVS`, `.eggs`, `.git`, `.tox`, ...) match as
    # substrings of any path, explicit targets too: `CVSexport.py` would go unread.
    command = [*bandit, "--exclude=", *as_arguments(python)]
    report = json_report("bandit", command, root)
    # A file bandit could not parse or walk (a syntax error, or a nesting so deep that its
    # visitor overflows while Python still compiles it) has no results: say so, or the file
    # passes unread.
    findings = [
        not_scanned(root, "bandit", _relative(root, str(error.get("filename", ""))), error)
        for error in report.get("errors", [])
    ]
    for item in report.get("results", []):
        severity = str(item.get("issue_severity", "LOW")).lower()
        if item["test_id"] == "B101" and is_test_path(_relative(root, item["filename"])):
            continue  # assert is how tests say what they check
        if item["test_id"] in BANDIT_HIGH:
            severity = "high"
        if str(item.get("issue_confidence", "")).upper() == "LOW":
            severity = {"high": "medium", "medium": "low"}.get(severity, "low")
        findings.append(
            Finding(
                tool="bandit",
                rule=str(item["test_id"]),
                severity=severity,  # type: ignore[arg-type]
                file=_relative(root, item["filename"]),
                line=int(item["line_number"]),
                message=str(item["issue_text"]),
                fix_hint=str(item.get("more_info", "")),
                end_line=max(item.get("line_range") or [0]),
            )
        )
    return findings


def secrets(root: Path, files: list[str]) -> list[Finding]:
    if not files:
        return []
    scan = [sys.executable, "-P", "-m", "detect_secrets", "scan", "--disable-filter", ALLOWLIST]
    for skipping in SKIPS_FILES:
        scan += ["--disable-filter", skipping]
    command = [*scan, *as_arguments(files)]
    findings = [
        not_scanned(root, "detect-secrets", name, {"reason": "it is not UTF-8 text"})
        for name in files
        if _undecodable_text(root / name)
    ]
    for name, hits in json_report("detect-secrets", command, root).get("results", {}).items():
        for hit in hits:
            findings.append(
                Finding(
                    tool="detect-secrets",
                    rule=str(hit["type"]),
                    severity="high",
                    file=_relative(root, name),
                    line=int(hit["line_number"]),
                    message=f"possible secret: {hit['type']}",
                    fix_hint="move it to an environment variable or a secret store, and rotate it",
                )
            )
    return findings


def _undecodable_text(path: Path) -> bool:
    """Text (no NUL byte) that is not UTF-8: detect-secrets skips such a file silently, and
    Node, browsers and lenient readers still use what is in it."""
    try:
        data = path.read_bytes()
    except OSError:
        return False
    if b"\0" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


_SHELLCHECK_LEVEL: dict[str, Severity] = {"error": "high", "warning": "medium"}


def shellcheck(root: Path, files: list[str]) -> list[Finding]:
    scripts = [f for f in files if f.endswith((".sh", ".bash")) or _has_shell_shebang(root / f)]
    program = installed("shellcheck")  # never a bare name: that would search an untrusted PATH
    if not scripts or program is None:
        return []
    # --norc: a repository's .shellcheckrc could `disable=all` (inline directives still count).
    command = [program, "--norc", "-f", "json", *as_arguments(scripts)]
    items = json_report("shellcheck", command, root)
    return [
        Finding(
            tool="shellcheck",
            rule=f"SC{item['code']}",
            severity=_SHELLCHECK_LEVEL.get(item["level"], "low"),
            file=_relative(root, item["file"]),
            line=int(item["line"]),
            message=str(item["message"]),
            fix_hint=f"https://www.shellcheck.net/wiki/SC{item['code']}",
        )
        for item in items
    ]


def _has_shell_shebang(path: Path) -> bool:
    if path.suffix or not path.is_file():
        return False
    try:
        with path.open("rb") as handle:
            first = handle.readline(200)
    except OSError:
        return False
    return first.startswith(b"#!") and (b"sh" in first.split(b"/")[-1])


def _relative(root: Path, name: str) -> str:
    path = Path(name)
    if path.is_absolute():
        try:
            return path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            return name
    return path.as_posix().removeprefix("./")


GATES: dict[str, Callable[[Path, list[str]], list[Finding]]] = {
    "ruff": ruff,
    "bandit": bandit,
    "detect-secrets": secrets,
    "shellcheck": shellcheck,
    "semgrep": semgrep_gate.semgrep,
    "check-jsonschema": schema_findings,
    "zizmor": zizmor_findings,
    "licence": licence_findings,
    "binary": binary_findings,
}
WHOLE_FILE_TOOLS = frozenset({"check-jsonschema", "binary"})


def unavailable_gates() -> list[str]:
    """Gates that cannot run on this machine, each with how to get it: shown, never silent."""
    return [why for why in (semgrep_gate.unavailable(),) if why]


@dataclass
class StaticReview:
    """What the gates found, and which gates failed to look (each as a sentence)."""

    findings: list[Finding]
    failed: list[str] = field(default_factory=list)


def static_review(changes: ChangeSet, honour_suppressions: bool = False) -> StaticReview:
    """Every gate on the changed files; findings only on changed lines, deduplicated. A gate
    whose tool crashed is in `failed`: its silence is not a pass. A suppression comment on a
    changed line exempts nothing unless `honour_suppressions` (a person's review), and then
    leaves its finding at low severity (see `suppressions`)."""
    files = [f for f in changes.files if (changes.root / f).is_file()]

    def run(gate: Callable[[Path, list[str]], list[Finding]]) -> list[Finding] | str:
        try:
            return gate(changes.root, files)
        except GateFailed as failure:
            return str(failure)

    # Each gate is mostly a child process (semgrep alone takes ~3 s to start): run at once,
    # the review takes as long as its slowest gate instead of all of them in turn.
    with ThreadPoolExecutor(max_workers=len(GATES)) as pool:
        results = list(pool.map(run, GATES.values()))
    found = [finding for result in results if isinstance(result, list) for finding in result]
    on_changed = [
        f
        for f in found
        if not changes.lines.get(f.file, set()).isdisjoint(f.lines())
        or (f.tool in WHOLE_FILE_TOOLS and f.file in changes.lines)
    ]
    failed = [result for result in results if isinstance(result, str)]
    for (tool, gate), result in zip(GATES.items(), results, strict=True):
        if isinstance(result, str):
            on_changed += failed_on_change(tool, gate, changes, files, result)
    weighed = weigh_suppressed(on_changed, changes.root, honour_suppressions)
    return StaticReview(deduplicate(weighed), failed)


PROBE = {
    "probe.py": "VALUE = 1\n",
    "probe.js": "const value = 1;\n",
    "probe.sh": "#!/bin/sh\necho ok\n",
    ".github/workflows/probe.yml": (
        "name: probe\non: push\npermissions: {}\njobs:\n  probe:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - run: echo ok\n"
    ),
}
"""Plain files of every kind a gate reads: a tool that fails on these fails on anything."""


def failed_on_change(
    tool: str,
    gate: Callable[[Path, list[str]], list[Finding]],
    changes: ChangeSet,
    files: list[str],
    why: str,
) -> list[Finding]:
    """High findings when it was the change that made `gate` fail: a crash or timeout is only
    reported (a broken install must not stop every run), so a change that crashes a scanner
    on purpose would otherwise pass unread. If the tool also fails on plain files, this
    machine is to blame: nothing. Else the files that make it fail on their own (all of the
    change's when none does, or when it timed out: it is not run again per file)."""
    with tempfile.TemporaryDirectory(prefix="acb-probe-") as scratch:
        probe = Path(scratch)
        for name, text in PROBE.items():
            (probe / name).parent.mkdir(parents=True, exist_ok=True)
            (probe / name).write_text(text)
        try:
            gate(probe, list(PROBE))
        except GateFailed:
            return []
    blamed = []
    if "no answer within" not in why:
        for name in files:
            try:
                gate(changes.root, [name])
            except GateFailed:
                blamed.append(name)
    return [
        Finding(
            tool=tool,
            rule="tool-failed-on-change",
            severity="high",
            file=name,
            line=min(changes.lines.get(name) or {1}),
            message=f"{why}; {tool} runs on a plain file, so it is this change that stops it "
            "from checking",
            fix_hint=f"write the file so that {tool} can read it",
        )
        for name in (blamed or files)
    ]
