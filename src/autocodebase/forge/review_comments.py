"""Which review findings a forge will take as line comments.

GitHub answers 422 to a whole review if one comment is on a line outside the pull request's
diff, and GitLab refuses such a discussion; so each finding is placed only on a line the diff
shows on its new side, and the rest are listed in the review's body instead of being lost.
The diff is read with acb's one diff parser (`vcs/diff.py`).
"""

from __future__ import annotations

from collections.abc import Iterable

from autocodebase.quality.review.findings import Finding
from autocodebase.vcs.diff import parse_diff

MAX_COMMENTS = 50
"""More than this on one review is noise; the rest go to the body."""


def commentable_lines(patches: Iterable[tuple[str, str]]) -> dict[str, set[int]]:
    """New-side line numbers each file's diff shows (added or context), from `(path, hunks)`
    pairs as the forges list them: hunks without the `---`/`+++` header."""
    lines: dict[str, set[int]] = {}
    for path, hunks in patches:
        if not hunks:
            continue
        for diff in parse_diff(f"--- a/{path}\n+++ b/{path}\n{hunks.rstrip()}\n"):
            found = lines.setdefault(path, set())
            for hunk in diff.hunks:
                found.update(line.new for line in hunk.lines if line.new is not None)
    return lines


def place(
    findings: list[Finding], commentable: dict[str, set[int]]
) -> tuple[list[Finding], list[Finding]]:
    """(findings to put on their lines, findings for the body)."""
    on_lines: list[Finding] = []
    elsewhere: list[Finding] = []
    for finding in findings:
        fits = finding.line in commentable.get(finding.file, set())
        (on_lines if fits and len(on_lines) < MAX_COMMENTS else elsewhere).append(finding)
    return on_lines, elsewhere


def comment_text(finding: Finding) -> str:
    hint = f"\n\n**Fix:** {finding.fix_hint}" if finding.fix_hint else ""
    return f"**{finding.severity}** · {finding.tool} `{finding.rule}`\n\n{finding.message}{hint}"


def review_body(summary: str, elsewhere: list[Finding]) -> str:
    """The summary, then the findings that could not go on a line."""
    if not elsewhere:
        return summary
    rows = [
        f"- **{f.severity}** `{f.file}:{f.line}` {f.tool} `{f.rule}`: {f.message}"
        for f in elsewhere
    ]
    return f"{summary}\n\nNot on a line of this diff:\n" + "\n".join(rows)
