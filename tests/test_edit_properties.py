"""Property: a real edit, with its context perturbed the ways models perturb it, either lands
exactly where it was meant or is refused — it never changes anything else."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from autocodebase.edits.apply import apply_edits
from autocodebase.edits.model import PatchError
from autocodebase.edits.parse import parse_edits

VOCABULARY = [
    "def f(x):",
    "    return x",
    "    x = 1",
    "    y = 'a'",
    "",
    "    ...",
    "class A:",
    "    pass",
    "import os",
    "        value = compute(x, 'key')",
    "    # comment",
]
PERTURBATIONS = ["none", "trailing", "indent", "quotes", "stale", "elide"]


@dataclass
class Case:
    lines: list[str]
    start: int
    end: int
    new: list[str]
    before: int
    after: int
    perturbation: str


@st.composite
def cases(draw: st.DrawFn) -> Case:
    unique = st.integers(0, 10_000).map(lambda n: f"    line_{n} = {n}")
    line = st.one_of(st.sampled_from(VOCABULARY), unique)
    lines = draw(st.lists(line, min_size=1, max_size=40))
    start = draw(st.integers(0, len(lines)))
    end = draw(st.integers(start, min(len(lines), start + 4)))
    new = draw(st.lists(line, max_size=4))
    before = draw(st.integers(0, min(3, start)))
    after = draw(st.integers(0, min(3, len(lines) - end)))
    assume(end > start or before + after > 0)  # a bare insertion has no place to be meant for
    assume(lines[start:end] != new)
    perturbation = draw(st.sampled_from(PERTURBATIONS))
    if perturbation == "indent" and not any(lines[start - before : end + after]):
        perturbation = "none"  # with only blank lines quoted, no one could tell the shift apart
    return Case(lines, start, end, new, before, after, perturbation)


def perturb_copy(text: str, how: str) -> str:
    """How a model mis-copies a line of existing code."""
    if how == "trailing":
        return text + "  "
    if how == "indent":
        return "  " + text if text else text
    if how == "quotes":
        return text.replace("'", "\u2019")
    return text


def build_patch(case: Case) -> str:
    ctx_before = case.lines[case.start - case.before : case.start]
    removed = case.lines[case.start : case.end]
    ctx_after = case.lines[case.end : case.end + case.after]
    how = case.perturbation
    body = [" " + perturb_copy(t, how) for t in ctx_before]
    if how == "stale" and body:
        body[0] = " stale_line_that_is_nowhere = 0"
    if how == "elide" and len(body) >= 3:
        body = [body[0], " # ... existing code ...", body[-1]]
    body += ["-" + perturb_copy(t, how) for t in removed]
    body += ["+" + ("  " + t if how == "indent" and t else t) for t in case.new]
    body += [" " + perturb_copy(t, how) for t in ctx_after]
    return "*** Begin Patch\n*** Update File: f.py\n@@\n" + "\n".join(body) + "\n*** End Patch\n"


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=cases())
def test_edit_lands_where_meant_or_is_refused(case: Case, tmp_path_factory: object) -> None:
    workspace = tmp_path_factory.mktemp("ws")  # type: ignore[attr-defined]
    target = Path(workspace) / "f.py"
    original = "\n".join(case.lines) + "\n"
    target.write_text(original)
    expected_lines = case.lines[: case.start] + case.new + case.lines[case.end :]
    expected = "\n".join(expected_lines) + ("\n" if expected_lines else "")
    try:
        apply_edits(Path(workspace), parse_edits(build_patch(case)))
    except PatchError:
        event(f"refused ({case.perturbation})")
        assert target.read_text() == original
        return
    event(f"applied ({case.perturbation})")
    assert target.read_text() == expected


def test_unambiguous_unperturbed_edits_always_apply(tmp_path: Path) -> None:
    """The other half of the contract: refusing is only for real ambiguity."""
    lines = [f"value_{i} = {i}" for i in range(30)]
    target = tmp_path / "f.py"
    for start in range(0, 28, 3):
        target.write_text("\n".join(lines) + "\n")
        case = Case(lines, start, start + 1, [f"changed_{start} = True"], min(2, start), 2, "none")
        for how in ("none", "trailing", "indent", "quotes", "stale"):
            case.perturbation = how
            target.write_text("\n".join(lines) + "\n")
            apply_edits(tmp_path, parse_edits(build_patch(case)))
            assert f"changed_{start} = True" in target.read_text().splitlines()[start], how
