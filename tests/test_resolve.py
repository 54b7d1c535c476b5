"""`acb resolve` end to end, as a user runs it: a loopback GitHub/GitLab, the scripted model
making the change through the real `acb exec` machinery, and a real `git push` to a local bare
remote. The token must show nowhere: not in the ledger, not on any git command line, not in
the repository's config, not in what acb prints."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import git
from tests.fakes.forge_server import ForgeServer
from tests.fakes.mock_server import MockModelServer
from tests.helpers import SCRIPT, logging_git_and_gh, run_acb

TOKEN = "Zq8xV3pL0wR7mK2nB5cT"
"""Shaped like no known token format, so only its registration with the redactor (not a
pattern) can keep it out of the records."""


def _setup(tmp_path: Path, repo: Path) -> tuple[Path, Path, dict[str, str]]:
    """A bare `origin`, a `git` that logs its argv and a `gh` that prints the token."""
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(repo, "remote", "add", "origin", str(bare))
    log, env = logging_git_and_gh(tmp_path, TOKEN)
    return bare, log, env


def _resolve(repo: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    with MockModelServer(list(SCRIPT)) as model:
        env = {
            **env,
            "OPENAI_API_KEY": "sk-test-0123456789abcdef",
            "OPENAI_BASE_URL": model.url + "/v1",
        }
        return run_acb("resolve", *args, "-m", "openai/mock-model", cwd=repo, env=env)


def _assert_no_token(home: Path, log: Path, repo: Path, done: subprocess.CompletedProcess[str]):
    assert TOKEN not in done.stderr + done.stdout
    for path in home.rglob("ledger.db*"):
        assert TOKEN.encode() not in path.read_bytes()
    assert TOKEN not in log.read_text()
    assert TOKEN not in (repo / ".git" / "config").read_text()


ISSUE = {"title": "Add longest_word", "body": f"Add longest_word(text). (note: {TOKEN})"}


@pytest.mark.slow
def test_resolve_a_github_issue(wordstats_repo: Path, tmp_path: Path, isolated_home: Path) -> None:
    bare, log, env = _setup(tmp_path, wordstats_repo)
    (wordstats_repo / "notes.txt").write_text("my uncommitted work\n")
    before = git(wordstats_repo, "rev-parse", "HEAD").strip()
    base = git(wordstats_repo, "rev-parse", "--abbrev-ref", "HEAD").strip()
    with ForgeServer(TOKEN) as forge:
        forge.state.issues[("octo/wordstats", 12)] = ISSUE
        done = _resolve(wordstats_repo, env, f"{forge.url}/octo/wordstats/issues/12")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{forge.url}/octo/wordstats/pull/1347"
    branch = "acb/issue-12-add-longest-word"
    pushed = git(bare, "rev-parse", f"refs/heads/{branch}").strip()
    worktree = isolated_home / "worktrees" / "wordstats" / "acb-issue-12-add-longest-word"
    assert pushed == git(worktree, "rev-parse", "HEAD").strip()
    assert "+def longest_word" in git(bare, "show", pushed)
    # The user's checkout: same commit, same branch, uncommitted work where it was.
    assert git(wordstats_repo, "rev-parse", "HEAD").strip() == before
    assert (wordstats_repo / "notes.txt").read_text() == "my uncommitted work\n"
    assert "longest_word" not in (wordstats_repo / "wordstats" / "core.py").read_text()
    [pull] = forge.requests_to("POST", r"/pulls$")
    assert pull.headers["Authorization"] == f"Bearer {TOKEN}"
    assert (pull.body["head"], pull.body["base"], pull.body["title"]) == (
        branch,
        base,
        "Add longest_word",
    )
    body = pull.body["body"]
    for expected in [
        "Closes #12.",
        "wordstats/core.py",
        "tests/test_longest.py",
        "## Verification",
    ]:
        assert expected in body
    assert "verified" in body and "tokens in" in body and "`openai/mock-model`" in body
    run_id = body.split("run id: `")[1].split("`")[0]
    assert run_id in run_acb("runs", "list", cwd=wordstats_repo).stdout
    assert "push" in log.read_text()
    _assert_no_token(isolated_home, log, wordstats_repo, done)


@pytest.mark.slow
def test_resolve_a_gitlab_issue_as_a_draft(
    wordstats_repo: Path, tmp_path: Path, isolated_home: Path
) -> None:
    bare, log, env = _setup(tmp_path, wordstats_repo)
    env["GITLAB_TOKEN"] = TOKEN
    with ForgeServer(TOKEN) as forge:
        forge.state.issues[("grp/wordstats", 4)] = ISSUE
        url = f"{forge.url}/grp/wordstats/-/issues/4"
        done = _resolve(wordstats_repo, env, url, "--draft", "--branch", "fix/words")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("/grp/wordstats/-/merge_requests/7")
    assert git(bare, "rev-parse", "refs/heads/fix/words").strip()
    [mr] = forge.requests_to("POST", "merge_requests$")
    assert mr.body["title"] == "Draft: Add longest_word" and mr.body["source_branch"] == "fix/words"
    assert "Closes #4." in mr.body["description"]
    _assert_no_token(isolated_home, log, wordstats_repo, done)


@pytest.mark.slow
def test_resolve_a_task_file_commits_and_pushes_only_when_asked(
    wordstats_repo: Path, tmp_path: Path, isolated_home: Path
) -> None:
    bare, _log, env = _setup(tmp_path, wordstats_repo)
    task = tmp_path / "task.md"
    task.write_text("# Add longest_word\n\nA function returning the longest word.\n")
    done = _resolve(wordstats_repo, env, str(task))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "acb/task-add-longest-word"
    assert "add-longest-word" in git(wordstats_repo, "branch", "--list", "acb/*")
    assert git(bare, "branch", "--list").strip() == ""  # no --remote: nothing pushed


def test_dry_run_says_what_it_would_create_and_creates_nothing(
    wordstats_repo: Path, tmp_path: Path, isolated_home: Path
) -> None:
    _bare, _log, env = _setup(tmp_path, wordstats_repo)
    with ForgeServer(TOKEN) as forge:
        forge.state.issues[("octo/wordstats", 12)] = ISSUE
        url = f"{forge.url}/octo/wordstats/issues/12"
        done = run_acb("resolve", url, "--dry-run", "--draft", cwd=wordstats_repo, env=env)
    assert done.returncode == 0, done.stderr
    assert "branch:   acb/issue-12-add-longest-word" in done.stdout
    assert "draft pull request on 127.0.0.1" in done.stdout
    assert "token:    gh auth token" in done.stdout and TOKEN not in done.stdout
    assert [r.method for r in forge.state.requests] == ["GET"]
    assert git(wordstats_repo, "branch", "--list", "acb/*").strip() == ""
    assert "sandbox" not in done.stdout.split("run:")[1].splitlines()[0]


def test_the_runs_sandbox_can_be_chosen_for_the_run(wordstats_repo: Path, tmp_path: Path) -> None:
    """`--sandbox MODE`, as `acb exec` takes it; the plan says it (the action's resolve proof,
    tests/test_action.py, runs with it)."""
    _bare, _log, env = _setup(tmp_path, wordstats_repo)
    with ForgeServer(TOKEN) as forge:
        forge.state.issues[("octo/wordstats", 12)] = ISSUE
        url = f"{forge.url}/octo/wordstats/issues/12"
        args = ("resolve", url, "--dry-run", "--sandbox", "full-access")
        done = run_acb(*args, cwd=wordstats_repo, env=env)
        bad = run_acb("resolve", url, "--sandbox", "none", cwd=wordstats_repo, env=env)
    assert done.returncode == 0, done.stderr
    assert "with the configured model, sandbox full-access, approvals never" in done.stdout
    assert bad.returncode == 2 and "'none' is not one of" in bad.stderr


@pytest.mark.parametrize(
    ("issue", "code", "says"),
    [
        ("/octo/wordstats/issues/99", 1, "HTTP 404: Not Found"),
        ("/octo/wordstats", 2, "not an issue or pull/merge request URL"),
        ("/octo/wordstats/pull/3", 2, "is a pull/merge request, not an issue"),
    ],
)
def test_errors_are_one_line(
    wordstats_repo: Path, tmp_path: Path, issue: str, code: int, says: str
) -> None:
    _bare, _log, env = _setup(tmp_path, wordstats_repo)
    with ForgeServer(TOKEN) as forge:
        done = run_acb("resolve", forge.url + issue, cwd=wordstats_repo, env=env)
    assert done.returncode == code
    assert done.stderr.startswith("acb: error: ") and says in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
