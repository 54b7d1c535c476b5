"""The model review: the diff compressed PR-Agent style within a budget, two passes over real
HTTP against the loopback mock (find, then score), weak and misplaced findings dropped, and
the scripted demo cassette."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autocodebase.quality.review.changes import parse_patches, whole_file_patch
from autocodebase.quality.review.compress import compress
from tests.conftest import commit_all, git
from tests.fakes.mock_server import Fault, MockModelServer, Reply
from tests.helpers import demo_review_repo, run_acb, write_file

BEFORE = '''"""Users."""


def find(db, name):
    return db.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone()


def count(db):
    return db.execute("SELECT COUNT(*) FROM users").fetchone()[0]
'''

AFTER = '''"""Users."""


def find(db, name):
    row = db.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone()
    return row[0]


def count(db):
    return db.execute("SELECT COUNT(*) FROM users").fetchone()[0]
'''


def repo_with_change(tmp_path: Path) -> Path:
    root = tmp_path / "users"
    write_file(root / "users.py", BEFORE)
    write_file(root / "old.py", "X = 1\n")
    commit_all(root, "start", init=True)
    write_file(root / "users.py", AFTER)
    (root / "old.py").unlink()
    commit_all(root, "find returns the first column")
    return root


def test_compression_numbers_new_lines_names_the_function_and_lists_deletions(
    tmp_path: Path,
) -> None:
    root = repo_with_change(tmp_path)
    diff = git(root, "diff", "-U3", "HEAD^", "HEAD")
    compressed = compress(parse_patches(diff), root, budget=2000)
    assert compressed.shown == ["users.py"] and compressed.deleted == ["old.py"]
    assert "@@ lines 2-9 in def find(db, name): @@" in compressed.text
    assert "6 +    return row[0]" in compressed.text
    assert '__old hunk__\n-    return db.execute("SELECT * FROM users WHERE name = ?"' in (
        compressed.text
    )
    assert "## Deleted files\nold.py" in compressed.text
    assert compressed.new_lines["users.py"] == set(range(2, 10))


def test_over_budget_files_are_summarised_then_listed(tmp_path: Path) -> None:
    big = "\n".join(f"VALUE_{i} = {i}" for i in range(400)) + "\n"
    write_file(tmp_path / "big.py", big)
    write_file(tmp_path / "small.py", "A = 1\n")
    patches = [whole_file_patch("big.py", big), whole_file_patch("small.py", "A = 1\n")]
    compressed = compress(patches, tmp_path, budget=160)
    assert compressed.summarised == ["big.py"] and compressed.shown == ["small.py"]
    assert "## File: big.py (summarised: +400 -0 lines)" in compressed.text
    assert compressed.tokens <= 160
    tiny = compress(patches, tmp_path, budget=100)
    assert tiny.omitted == ["big.py"]
    assert "## Other modified files (not shown)\nbig.py" in tiny.text


FIND = {
    "findings": [
        {
            "file": "users.py",
            "line": "6",
            "category": "bug",
            "severity": "high",
            "message": "fetchone() returns None when no user matches; row[0] raises TypeError.",
            "fix": "return row[0] if row else None",
        },
        {
            "file": "users.py",
            "line": 9,
            "category": "performance",
            "severity": "low",
            "message": "COUNT(*) scans the table.",
            "fix": "cache it",
        },
        {
            "file": "users.py",
            "line": 40,
            "category": "bug",
            "severity": "medium",
            "message": "somewhere else",
            "fix": "",
        },
        {
            "file": "users.py",
            "line": 5,
            "category": "naming",
            "severity": "low",
            "message": "row is a vague name",
            "fix": "user_row",
        },
    ]
}
SCORES = {
    "scores": [
        {"id": 1, "score": 9, "why": "crashes on unknown names"},
        {"id": 2, "score": 2, "why": "unchanged code"},
    ]
}
ENV = {"OPENAI_API_KEY": "sk-test-0123456789abcdef"}


@pytest.mark.slow
def test_two_passes_keep_the_strong_finding_and_drop_the_rest(tmp_path: Path) -> None:
    root = repo_with_change(tmp_path)
    script = [Reply(f"```json\n{json.dumps(FIND)}\n```"), Reply(json.dumps(SCORES))]
    with MockModelServer(script) as server:
        env = {**ENV, "OPENAI_BASE_URL": server.url + "/v1"}
        command = ["review", "HEAD", "--format", "json", "-m", "openai/mock-model"]
        done = run_acb(*command, cwd=root, env=env)
    assert done.returncode == 1, done.stderr  # the kept finding is high
    findings = json.loads(done.stdout)["findings"]
    assert [(f["tool"], f["rule"], f["line"], f["severity"]) for f in findings] == [
        ("model", "bug", 6, "high")
    ]
    assert "4 proposed, 1 kept, 3 dropped" in done.stderr
    assert "users.py:40: points at a line the change does not show" in done.stderr
    assert "users.py:5: category 'naming' is not one asked for" in done.stderr
    assert "users.py:9: scored 2/10: unchanged code" in done.stderr
    first, second = (r.body["messages"] for r in server.requests)
    assert "in def find(db, name):" in first[1]["content"]
    assert "1. users.py:6 [bug, high]" in second[1]["content"]
    assert "users.py:40" not in second[1]["content"], "misplaced findings are not scored"


def test_a_clean_verdict_costs_one_request_and_says_nothing(tmp_path: Path) -> None:
    root = repo_with_change(tmp_path)
    with MockModelServer([Reply('{"findings": []}')]) as server:
        env = {**ENV, "OPENAI_BASE_URL": server.url + "/v1"}
        done = run_acb("review", "HEAD", "-m", "openai/mock-model", cwd=root, env=env)
    assert done.returncode == 0, done.stderr
    assert "no findings on the changed lines" in done.stdout
    assert len(server.requests) == 1


def test_a_failing_model_leaves_the_static_review_and_exit_3(tmp_path: Path) -> None:
    root = repo_with_change(tmp_path)
    with MockModelServer([Fault(status=401)]) as server:
        env = {**ENV, "OPENAI_BASE_URL": server.url + "/v1"}
        done = run_acb("review", "HEAD", "-m", "openai/mock-model", cwd=root, env=env)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "the model review failed" in done.stderr and "Traceback" not in done.stderr
    assert "no findings on the changed lines" in done.stdout


def test_the_demo_cassette_reviews_the_demo_commit(tmp_path: Path) -> None:
    """The scripted review of examples/cassettes/wordstats-review.jsonl, on the change the
    demo's exec cassette makes (applied here by hand: the same lines)."""
    repo_root = Path(__file__).resolve().parents[1]
    root = demo_review_repo(tmp_path)
    cassette = repo_root / "examples/cassettes/wordstats-review.jsonl"
    done = run_acb("review", "HEAD", "--format", "json", "-m", f"replay:{cassette}", cwd=root)
    assert done.returncode == 0, done.stderr
    kept = json.loads(done.stdout)["findings"]
    assert [(f["rule"], f["file"], f["line"]) for f in kept] == [
        ("test-gap", "tests/test_top_words.py", 18)
    ]
    assert "4 proposed, 1 kept, 3 dropped" in done.stderr
