"""The ways models mis-copy the code around an edit, applied to a clean hunk.

Each function returns the perturbed ops, or None when the class does not apply to this hunk
(no quotes to curl, too little context to elide). The intended result never changes: an engine
is right only if it still produces the file the real commit produced.
"""

from __future__ import annotations

import re
from collections.abc import Callable

Ops = list[tuple[str, str]]
QUOTES = str.maketrans({"'": "\u2019", '"': "\u201d"})
IDENTIFIER = re.compile(r"[A-Za-z_]\w*")


def clean(ops: Ops) -> Ops | None:
    return list(ops)


def trailing_whitespace(ops: Ops) -> Ops | None:
    return [(op, t + "   " if op != "+" and t.strip() else t) for op, t in ops]


def indentation(ops: Ops) -> Ops | None:
    """The snippet quoted flush-left, or indented by four when dedenting would lose information."""
    quoted = [t for op, t in ops if op != "+" and t.strip()]
    if not quoted:
        return None
    depth = min(len(t) - len(t.lstrip(" ")) for t in quoted)
    shallowest = min(len(t) - len(t.lstrip(" ")) for op, t in ops if t.strip())
    if depth == 0 or shallowest < depth:
        # Dedenting would clip an added line shallower than the quote and lose its intent.
        return [(op, "    " + t if t.strip() else t) for op, t in ops]
    return [(op, t[depth:] if t.strip() else t) for op, t in ops]


def unicode_punctuation(ops: Ops) -> Ops | None:
    if not any(("'" in t or '"' in t) for op, t in ops if op != "+"):
        return None
    return [(op, t.translate(QUOTES) if op != "+" else t) for op, t in ops]


def elided_context(ops: Ops) -> Ops | None:
    """Leading context of three or more lines keeps its ends; the middle becomes `...`."""
    lead = 0
    while lead < len(ops) and ops[lead][0] == " ":
        lead += 1
    if lead < 3:
        return None
    indent = ops[1][1][: len(ops[1][1]) - len(ops[1][1].lstrip())]
    return [ops[0], (" ", indent + "..."), *ops[lead - 1 :]]


def stale_context(ops: Ops) -> Ops | None:
    """One context line changed since the model read the file (an identifier renamed)."""
    for index, (op, text) in enumerate(ops):
        if op == " " and (names := list(IDENTIFIER.finditer(text))):
            last = names[-1]
            changed = text[: last.end()] + "_v2" + text[last.end() :]
            return [*ops[:index], (" ", changed), *ops[index + 1 :]]
    return None


PERTURBATIONS: dict[str, Callable[[Ops], Ops | None]] = {
    "clean": clean,
    "trailing-whitespace": trailing_whitespace,
    "indentation": indentation,
    "unicode-punctuation": unicode_punctuation,
    "elided-context": elided_context,
    "stale-context": stale_context,
}
