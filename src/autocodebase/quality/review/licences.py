"""Licences: notice when a change brings in text that was copied from somewhere else under
terms the project may not meet — a licence header or licence text that is not the project's
own, somebody else's copyright notice, an "all rights reserved" notice, or a link to a Stack
Overflow answer (CC BY-SA: attribution and share-alike).

A lighter equivalent of scancode-toolkit's licence detection: phrase fingerprints of the common
licences plus SPDX identifiers, checked on the changed lines only. Copyleft or proprietary text
in a project under other terms is high (it blocks a commit by default); a foreign notice under
compatible terms is medium, for a person to confirm.
"""

from __future__ import annotations

import re
import tomllib
from functools import cache
from pathlib import Path

from autocodebase.quality.review.findings import Finding, Severity

# Distinctive phrases, lower-cased and whitespace-collapsed; one is enough to name the licence.
FINGERPRINTS: dict[str, tuple[str, ...]] = {
    "AGPL-3.0": ("gnu affero general public license",),
    "LGPL": ("gnu lesser general public license", "gnu library general public license"),
    "GPL": ("gnu general public license", "free software foundation; either version"),
    "MPL-2.0": ("mozilla public license",),
    "Apache-2.0": ("licensed under the apache license", "apache license, version 2.0"),
    "MIT": ("permission is hereby granted, free of charge",),
    "BSD": ("redistribution and use in source and binary forms",),
    "ISC": ("permission to use, copy, modify, and/or distribute this software",),
    "CC-BY-SA": ("creativecommons.org/licenses/by-sa", "cc by-sa"),
    "proprietary": ("all rights reserved", "proprietary and confidential", "unauthorized copying"),
}
COPYLEFT = ("AGPL", "GPL", "LGPL", "CC-BY-SA", "proprietary")
_SPDX = re.compile(r"SPDX-License-Identifier:\s*([\w.+\-() ]+)", re.IGNORECASE)
_COPYRIGHT = re.compile(
    r"copyright\s*(?:\(c\)|©)?\s*(?:\d{4}(?:\s*[-,]\s*\d{4})*)\s*,?\s*(?:by\s+)?([^\n*#/]+)",
    re.IGNORECASE,
)
_STACK_OVERFLOW = re.compile(r"https?://(?:\w+\.)?stackoverflow\.com/(?:a|questions)/\d+")
_TEXT_SUFFIXES = (".md", ".rst", ".txt")


def licence_findings(root: Path, files: list[str]) -> list[Finding]:
    """Findings on every line of `files`; the caller keeps those on changed lines. Licence files
    themselves and documentation are the project's own business and are skipped."""
    own = project_licence(root)
    owners = project_owners(root)
    findings: list[Finding] = []
    for name in files:
        if _is_licence_file(name) or name.endswith(_TEXT_SUFFIXES):
            continue
        try:
            text = (root / name).read_text()
        except (OSError, UnicodeDecodeError):
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            findings += _line_findings(name, number, line, own, owners)
    return findings


def _line_findings(
    name: str, number: int, line: str, own: str | None, owners: frozenset[str]
) -> list[Finding]:
    found: list[Finding] = []
    spdx = _SPDX.search(line)
    named = [spdx.group(1).strip()] if spdx else []
    collapsed = " ".join(line.lower().split())
    named += [lic for lic, phrases in FINGERPRINTS.items() if any(p in collapsed for p in phrases)]
    for licence in named[:1]:
        if own and _same_family(licence, own):
            continue
        severity: Severity = "high" if licence.startswith(COPYLEFT) else "medium"
        found.append(
            Finding(
                tool="licence",
                rule="foreign-licence",
                severity=severity,
                file=name,
                line=number,
                message=f"{licence} licence text in a project under "
                f"{own or 'no declared licence'}: was this copied from elsewhere?",
                fix_hint="write it anew, or keep its notice and check the licences are compatible",
            )
        )
    holder = _COPYRIGHT.search(line)
    if holder and not named:
        who = holder.group(1).strip(" .,;:")
        if who and not _owned_by(who, owners):
            found.append(
                Finding(
                    tool="licence",
                    rule="foreign-copyright",
                    severity="medium",
                    file=name,
                    line=number,
                    message=f"copyright notice of {who!r}, not of this project's authors",
                    fix_hint="if the code was copied, check its licence and keep its notice",
                )
            )
    if _STACK_OVERFLOW.search(line):
        found.append(
            Finding(
                tool="licence",
                rule="stack-overflow",
                severity="medium",
                file=name,
                line=number,
                message="code from Stack Overflow is CC BY-SA: it needs attribution and "
                "share-alike",
                fix_hint="write it anew, or attribute it and confirm the licence fits",
            )
        )
    return found


def _same_family(found: str, own: str) -> bool:
    a, b = found.upper(), own.upper()
    if a.startswith(("AGPL", "LGPL")) or b.startswith(("AGPL", "LGPL")):
        return a[:4] == b[:4]
    return a.split("-")[0] == b.split("-")[0]


def _owned_by(holder: str, owners: frozenset[str]) -> bool:
    words = {w for w in re.findall(r"[\w'-]+", holder.lower()) if len(w) > 2}
    return bool(words & owners) or not words


def _is_licence_file(name: str) -> bool:
    stem = Path(name).name.upper().split(".")[0]
    return stem in {"LICENSE", "LICENCE", "COPYING", "NOTICE", "COPYRIGHT", "AUTHORS"}


@cache
def project_licence(root: Path) -> str | None:
    """The project's licence: its SPDX id from pyproject/package.json/Cargo.toml, else the
    fingerprint of its LICENSE file."""
    declared = _declared_licence(root)
    if declared:
        return declared
    for candidate in sorted(root.glob("[Ll][Ii][Cc][Ee][Nn][SsCc][Ee]*")) + sorted(
        root.glob("COPYING*")
    ):
        text = " ".join(candidate.read_text(errors="replace")[:4000].lower().split())
        for licence, phrases in FINGERPRINTS.items():
            if licence != "proprietary" and any(p in text for p in phrases):
                return licence
    return None


def _declared_licence(root: Path) -> str | None:
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        try:
            project = tomllib.loads(pyproject.read_text()).get("project", {})
        except (tomllib.TOMLDecodeError, UnicodeDecodeError):
            project = {}
        value = project.get("license")
        if isinstance(value, dict):
            value = value.get("text")
        if isinstance(value, str) and len(value) < 40:
            return value.strip()
    package = root / "package.json"
    if package.is_file():
        match = re.search(r'"license"\s*:\s*"([^"]+)"', package.read_text(errors="replace"))
        if match:
            return match.group(1)
    cargo = root / "Cargo.toml"
    if cargo.is_file():
        match = re.search(r'^license\s*=\s*"([^"]+)"', cargo.read_text(errors="replace"), re.M)
        if match:
            return match.group(1)
    return None


@cache
def project_owners(root: Path) -> frozenset[str]:
    """Words naming the project's own copyright holders and authors (LICENSE's copyright line,
    pyproject authors, the project's directory name), so its own notices pass."""
    text = ""
    for candidate in [*root.glob("[Ll][Ii][Cc][Ee][Nn][SsCc][Ee]*"), root / "pyproject.toml"]:
        if candidate.is_file():
            text += candidate.read_text(errors="replace")[:4000] + "\n"
    words: set[str] = {root.name.lower()}
    for match in _COPYRIGHT.finditer(text):
        words |= {w for w in re.findall(r"[\w'-]+", match.group(1).lower()) if len(w) > 2}
    for match in re.finditer(r'name\s*=\s*"([^"]+)"', text):
        words |= {w for w in re.findall(r"[\w'-]+", match.group(1).lower()) if len(w) > 2}
    return frozenset(words - {"the", "and", "contributors", "authors", "inc", "ltd", "llc"})
