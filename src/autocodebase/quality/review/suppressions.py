"""Suppression comments (`# nosec`, `# noqa`, `# nosemgrep`, `pragma: allowlist secret`,
`# zizmor: ignore[...]`) on the lines a change touches.

Honoured by the tools, one comment would let a change exempt itself: a model asked to fix a
finding of bandit's that blocks its commit could add `# nosec` to the `shell=True` line and
pass. So the gates run with suppressions off (`--ignore-nosec`, `--ignore-noqa`,
`--disable-nosem`, zizmor's `--no-ignores`, detect-secrets without its allowlist filter), and
this module decides afterwards what a suppression on a changed line is worth:

- in the commit gate, reviewing acb's own change, nothing: the finding keeps its severity and
  says that the comment does not exempt it;
- in `acb review`, reviewing a person's change, it is that person's recorded decision: the
  finding is kept at low severity, visible to the reviewer, and blocks nothing.

shellcheck's `# shellcheck disable=` directives cannot be turned off from its command line and
are honoured as written.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from autocodebase.quality.review.findings import Finding

MARKERS: dict[str, re.Pattern[str]] = {
    "bandit": re.compile(r"#\s*nosec\b(?P<codes>(?:[\s,]*B\d+)*)", re.IGNORECASE),
    "ruff": re.compile(r"#\s*noqa\b(?::(?P<codes>(?:[\s,]*[A-Z]+\d+)+))?", re.IGNORECASE),
    "semgrep": re.compile(
        r"(?:#|//|/\*)\s*nosem(?:grep)?\b(?::(?P<codes>[\s,]*[\w.-]+(?:[\s,]+[\w.-]+)*))?",
        re.IGNORECASE,
    ),
    "detect-secrets": re.compile(r"pragma:\s*allowlist[ -]secret", re.IGNORECASE),
    "zizmor": re.compile(r"#\s*zizmor:\s*ignore\[(?P<codes>[^\]]*)\]", re.IGNORECASE),
}
"""Each tool's comment; `codes`, when the comment names rules, limits it to those."""
FILE_WIDE: dict[str, re.Pattern[str]] = {
    "ruff": re.compile(r"^#\s*(?:ruff|flake8)\s*:\s*noqa\s*$", re.IGNORECASE | re.MULTILINE),
}
"""Comments that exempt a whole file from a tool, wherever in it they are."""


def weigh_suppressed(findings: list[Finding], root: Path, honour: bool) -> list[Finding]:
    """`findings` (made with suppressions off) with those a comment would have suppressed
    marked: at low severity when `honour`, else at their own."""
    files = _Files(root)
    weighed = []
    for finding in findings:
        marker = _marker(finding, files)
        if marker is None:
            weighed.append(finding)
        elif honour:
            note = f" (suppressed by `{marker}` here)"
            weighed.append(
                dataclasses.replace(finding, severity="low", message=finding.message + note)
            )
        else:
            note = f" (`{marker}` does not exempt acb's own change)"
            weighed.append(dataclasses.replace(finding, message=finding.message + note))
    return weighed


class _Files:
    """The changed files' lines and file-wide comments, each read or searched once however
    many findings a file has."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lines: dict[str, list[str]] = {}
        self._file_wide: dict[tuple[str, str], str | None] = {}

    def lines(self, name: str) -> list[str]:
        if name not in self._lines:
            try:
                self._lines[name] = (self.root / name).read_text(errors="replace").splitlines()
            except OSError:
                self._lines[name] = []
        return self._lines[name]

    def file_wide(self, tool: str, name: str) -> str | None:
        """The comment exempting all of `name` from `tool`, if it has one."""
        key = (tool, name)
        if key not in self._file_wide:
            whole = FILE_WIDE.get(tool)
            found = whole.search("\n".join(self.lines(name))) if whole is not None else None
            self._file_wide[key] = found.group(0).strip() if found else None
        return self._file_wide[key]


def _marker(finding: Finding, files: _Files) -> str | None:
    """The suppression comment for `finding`'s tool on its lines (or file-wide), if any."""
    pattern = MARKERS.get(finding.tool)
    if pattern is None:
        return None
    whole = files.file_wide(finding.tool, finding.file)
    if whole is not None:
        return whole
    lines = files.lines(finding.file)
    for number in finding.lines():
        if not 1 <= number <= len(lines):
            continue
        for found in pattern.finditer(lines[number - 1]):
            if _covers(found, finding.rule):
                return found.group(0).strip()
    return None


def _covers(found: re.Match[str], rule: str) -> bool:
    """A comment without rule names covers every rule; one with them, those it names (semgrep
    prefixes our ids with their directory, so a name matches the id's end)."""
    codes = found.groupdict().get("codes")
    named = [code for code in re.split(r"[\s,]+", codes or "") if code]
    return not named or any(rule.lower() == c.lower() or rule.endswith(f".{c}") for c in named)
