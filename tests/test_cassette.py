"""Cassettes: a live run recorded with --record replays offline to the same result."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from autocodebase.errors import UsageError
from autocodebase.models.base import Message, ReplayDivergedError
from autocodebase.models.cassette import ReplayModel, load_cassette
from tests.conftest import git
from tests.helpers import SCRIPT, exec_with_mock, run_acb


@pytest.mark.slow
def test_record_then_replay(wordstats_repo: Path, tmp_path: Path) -> None:
    pristine = tmp_path / "pristine"
    shutil.copytree(wordstats_repo, pristine)
    cassette = tmp_path / "session.jsonl"
    live, _ = exec_with_mock(
        wordstats_repo, list(SCRIPT), "add longest_word", "--record", str(cassette)
    )
    assert live.returncode == 0, live.stderr
    header, entries = load_cassette(cassette)
    assert header["model"] == "openai/mock-model" and len(entries) == 4  # 3 steps + commit message
    assert entries[2].expect["tool_results"][0]["is_error"] is False

    replayed = run_acb("exec", "add longest_word", "-m", f"replay:{cassette}", cwd=pristine)
    assert replayed.returncode == 0, replayed.stderr
    assert replayed.stdout == live.stdout
    assert git(pristine, "status", "--porcelain") == git(wordstats_repo, "status", "--porcelain")


def test_replay_runs_out(tmp_path: Path) -> None:
    cassette = tmp_path / "c.jsonl"
    cassette.write_text(json.dumps({"response": {"content": "hi"}}) + "\n")
    model = ReplayModel(cassette)
    assert model.complete([Message("user", "x")], []).message.content == "hi"
    with pytest.raises(ReplayDivergedError, match="recorded only 1"):
        model.complete([Message("user", "x")], [])


def test_bad_cassettes_are_usage_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"cassette": 1}\n{"response": \n')
    with pytest.raises(UsageError, match=r"bad.jsonl:2 is not a valid entry"):
        load_cassette(bad)
    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"cassette": 1}\n')
    with pytest.raises(UsageError, match="holds no responses"):
        load_cassette(empty)
