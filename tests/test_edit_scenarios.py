"""Scenario fixtures for the edit engine, in Codex's style: `input/`, `patch`, and either
`expected/` (the tree after applying) or `error` (a fragment of the refusal; the tree must not
change). Add a scenario by adding a directory."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from autocodebase.edits.apply import apply_edits
from autocodebase.edits.model import PatchError
from autocodebase.edits.parse import parse_edits

SCENARIOS = sorted((Path(__file__).parent / "edit_scenarios").iterdir())


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_scenario(scenario: Path, tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    shutil.copytree(scenario / "input", workspace)
    before = snapshot(workspace)
    patch = (scenario / "patch").read_text(encoding="utf-8")
    error_file = scenario / "error"
    if error_file.exists():
        with pytest.raises(PatchError) as caught:
            apply_edits(workspace, parse_edits(patch))
        assert error_file.read_text(encoding="utf-8") in str(caught.value)
        assert snapshot(workspace) == before
        assert not (tmp_path / "escape.txt").exists()
    else:
        apply_edits(workspace, parse_edits(patch))
        assert snapshot(workspace) == snapshot(scenario / "expected")


def test_there_are_scenarios_for_every_grade_and_refusal() -> None:
    names = " ".join(s.name for s in SCENARIOS)
    for topic in (
        "trailing_whitespace",
        "indentation",
        "unicode",
        "crlf",
        "anchor",
        "elided",
        "stale_context",
        "search_replace",
        "refuse_ambiguous",
        "refuse_not_found",
        "numeric_hunk_headers",
        "git_diff",
        "unified_diff",
        "delete_then_add",
        "repeated_update",
        "refuse_add_over_existing",
    ):
        assert topic in names
