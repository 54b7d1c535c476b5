"""The "Review gates" section, made only from what was measured: a gate that did not run, a
case or commit that could not be reviewed, a category without a case are named, never counted
as "not found" or "clean", and the reading says nothing a failed gate would have to back."""

from __future__ import annotations

import platform
import subprocess
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from bench.outcome import failed, one_line

READING = """what blocks by default is narrower by design.
Below high: {below}. By design, a URL or file name that arrives as a plain function parameter
is medium or low (acb cannot know it is user input: `requests.get(url)` is ordinary code), while
the same flow from `flask.request`/Django/Starlette request data is high (semgrep taint rules);
open redirects, insecure temp files and a missing-timeout request are medium; so are most
plain bugs (ruff). One request-sourced SSRF variant lands in a flask module that binds its own
`request`, which the taint rule then does not trace. On clean commits the findings are mostly
medium (ruff B904, foreign copyright lines that quote other projects' notices); the blocked ones
come from undefined names ruff cannot resolve in isolation (F821), private keys committed as
test fixtures, and three Python 2 files (2010-2012 commits of flask and requests) that bandit,
on Python 3, cannot parse: the gate says a file went unread instead of passing it. Skipping `assert` notes in test files and the semgrep rules cut clean commits
with any finding from 38% to the figure above, with no loss of recall."""


@dataclass
class Review:
    """What the run measured, and what it could not."""

    per_category: defaultdict[str, list[tuple[bool, bool]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    """(found at any severity, found at high) per injected diff that was reviewed."""
    injected_failures: defaultdict[str, list[str]] = field(
        default_factory=lambda: defaultdict(list)
    )
    clean_total: int = 0
    clean_any: int = 0
    clean_high: int = 0
    clean_failures: list[str] = field(default_factory=list)
    flagged: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    gate_failures: dict[str, str] = field(default_factory=dict)

    def missing(self, categories: list[str]) -> dict[str, str]:
        """What was asked for and has no figure: a gate, a category, the clean set."""
        out = {f"gate {g}": why for g, why in self.gate_failures.items()}
        for category in categories:
            if not self.per_category.get(category):
                reasons = self.injected_failures.get(category) or ["no case was made"]
                out[f"category {category}"] = reasons[0]
        if self.clean_failures and not self.clean_total:
            out["clean commits"] = self.clean_failures[0]
        return out


def share(part: int, whole: int) -> str:
    return f"{part}/{whole} ({part / whole:.0%})" if whole else "none reviewed"


def problems(review: Review) -> list[str]:
    lines = [
        f"- **gate {gate}: did not run.** {one_line(why, 400)}"
        for gate, why in review.gate_failures.items()
    ]
    unreviewed = [why for reasons in review.injected_failures.values() for why in reasons]
    if unreviewed:
        lines.append(
            f"- {len(unreviewed)} injected diffs could not be reviewed and are not counted: "
            f"{one_line(unreviewed[0], 300)}"
        )
    if review.clean_failures:
        lines.append(
            f"- {len(review.clean_failures)} clean commits could not be reviewed and are not "
            f"counted: {one_line(review.clean_failures[0], 300)}"
        )
    return lines


def reading(review: Review) -> str:
    results = [r for v in review.per_category.values() for r in v]
    found = sum(a for a, _ in results)
    if review.gate_failures:
        return (
            f"{found} of {len(results)} injected flaws are seen without "
            f"{', '.join(review.gate_failures)}, which did not run: these figures are not what "
            "acb's review finds, and say nothing about those gates."
        )
    if not results:
        return "no injected diff could be reviewed, so nothing is said about recall."
    below = [
        f"{c} {sum(h for _, h in v)}/{len(v)}"
        for c, v in review.per_category.items()
        if v and sum(h for _, h in v) < len(v)
    ]
    seen = (
        "every injected flaw is seen"
        if found == len(results)
        else f"{found} of {len(results)} injected flaws are seen"
    )
    return f"{seen}; " + READING.format(below="; ".join(below) or "none")


def render(
    review: Review,
    templates: dict[str, list[str]],
    variants: int,
    host: str,
    repos: list[str],
    clean_per_repo: int,
    semgrep_version: str,
) -> str:
    results = [r for v in review.per_category.values() for r in v]
    total = len(results)
    found_any, found_high = sum(a for a, _ in results), sum(h for _, h in results)
    rows = []
    for category in templates:
        cases = review.per_category.get(category) or []
        if not cases:
            why = (review.injected_failures.get(category) or ["no case was made"])[0]
            rows.append(f"| {category} | 0 | {failed(why)} | – |")
            continue
        any_, high = sum(a for a, _ in cases), sum(h for _, h in cases)
        rows.append(
            f"| {category} | {len(cases)} | {any_} ({any_ / len(cases):.0%}) "
            f"| {high} ({high / len(cases):.0%}) |"
        )
    top = sorted(review.flagged.items(), key=lambda kv: -kv[1])[:8]
    cpu = subprocess.run(
        ["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    notes = problems(review)
    failures_block = "\n" + "\n".join(notes) + "\n" if notes else ""
    clean = review.clean_total
    return f"""## Review gates (static)

Machine: {cpu}, Python {platform.python_version()}; {date.today().isoformat()}. Method:
`python bench/review/run.py` (see its docstring and bench/README.md); every static gate exactly
as `acb review` runs them (ruff, bandit, semgrep {semgrep_version} with acb's rules, detect-secrets,
licence check; shellcheck and the workflow checks see no files here), findings kept only on the
changed lines. No model pass: no live model is reachable here, so no recorded model review exists;
the scripted demo cassette is a functional test, not a measurement.
{failures_block}
Injected flaws: {total} diffs ({len(templates)} categories, {sum(len(t) for t in templates.values())} templates × {variants} variants, each
inserted into a real file of {host}). Found (any severity): **{share(found_any, total)}**;
found at high severity (what blocks a commit by default): {share(found_high, total)}.

| category | diffs | found (any) | found (high) |
|---|---|---|---|
{chr(10).join(rows)}

Clean diffs: {clean} real commits touching .py files ({", ".join(repos)}, {clean_per_repo} sampled per
repository). With any finding: **{share(review.clean_any, clean)}**; with a high finding (a blocked
commit): **{share(review.clean_high, clean)}**. Most frequent findings on clean commits:
{"; ".join(f"{k} ×{v}" for k, v in top) or "none"}.

Reading: {reading(review)}
"""
