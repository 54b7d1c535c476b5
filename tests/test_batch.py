"""`acb batch` (issue 19 item 6): a team's tasks, each an `acb exec` run in a checkout of its
own, one ledger run and one result line per task; the repositories themselves are untouched."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from autocodebase.errors import UsageError
from autocodebase.evaluation.batch import load_tasks
from tests.conftest import git
from tests.fakes.mock_server import MockModelServer, Reply
from tests.helpers import PATCH, run_acb


def test_tasks_are_read_with_their_ids(tmp_path: Path) -> None:
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text(
        '{"repo": "a", "prompt": "x"}\n\n{"id": "named", "repo": "b", "prompt": "y"}\n'
    )
    assert [t["id"] for t in load_tasks(tasks)] == ["task-1", "named"]
    tasks.write_text('{"repo": "a"}\n')
    with pytest.raises(UsageError, match=r"tasks.jsonl:1: a task needs 'repo' and 'prompt'"):
        load_tasks(tasks)
    tasks.write_text(
        '{"id": "x", "repo": "a", "prompt": "p"}\n{"id": "x", "repo": "b", "prompt": "q"}\n'
    )
    with pytest.raises(UsageError, match="unique"):
        load_tasks(tasks)
    tasks.write_text('{"id": "../../etc", "repo": "a", "prompt": "p"}\n')
    with pytest.raises(UsageError, match="may hold only"):
        load_tasks(tasks)


@pytest.mark.slow
@pytest.mark.xdist_group("evaluation")  # one at a time: venv builds and Ray are heavy
@pytest.mark.timeout(600)
@pytest.mark.usefixtures("isolated_home")
def test_each_task_is_a_run_in_its_own_checkout(wordstats_repo: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    shutil.copytree(wordstats_repo, other)
    before = {repo: git(repo, "rev-parse", "HEAD") for repo in (wordstats_repo, other)}
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text(
        json.dumps({"id": "one", "repo": str(wordstats_repo), "prompt": "add longest_word"})
        + "\n"
        + json.dumps(
            {
                "id": "two",
                "repo": "other",  # relative to the tasks file
                "ref": "HEAD",
                "prompt": "add longest_word",
                "test_command": "python -m pytest -q",
            }
        )
        + "\n"
    )
    replies = [
        reply
        for _ in range(2)
        for reply in (
            Reply("", [("apply_patch", {"patch": PATCH})]),
            Reply("Added longest_word with a test; the tests pass."),
            Reply("feat: longest_word"),
        )
    ]
    out = tmp_path / "out"
    with MockModelServer(replies) as server:
        env = {"OPENAI_API_KEY": "sk-test-0123456789abcdef", "OPENAI_BASE_URL": server.url + "/v1"}
        args = [str(tasks), "--model", "openai/mock-model", "--out", str(out)]
        done = run_acb("batch", *args, cwd=tmp_path, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    results = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [(r["id"], r["status"], r["outcome"]) for r in results] == [
        ("one", "completed", "completed"),
        ("two", "completed", "completed"),
    ]
    assert len({r["run_id"] for r in results}) == 2 and all(r["run_id"] for r in results)
    for result in results:
        work = out / "work" / result["id"]
        assert "longest_word" in (work / "wordstats" / "core.py").read_text()
        assert git(work, "log", "-1", "--format=%s").strip() == "feat: longest_word"
        assert git(work, "rev-parse", "--abbrev-ref", "HEAD").strip() == "acb-batch"
        assert "+def longest_word" in (out / result["patch"]).read_text()
    for repo, head in before.items():
        assert git(repo, "rev-parse", "HEAD") == head, "the task's repository is not touched"
        assert "longest_word" not in (repo / "wordstats" / "core.py").read_text()
    listed = run_acb("runs", "list", "--json", cwd=tmp_path)
    recorded = {run["id"] for run in json.loads(listed.stdout)}
    assert {r["run_id"] for r in results} <= recorded, "one ledger run per task"
    again = run_acb("batch", *args, cwd=tmp_path, env=env)
    assert again.returncode == 0 and "2 already done" in again.stderr
