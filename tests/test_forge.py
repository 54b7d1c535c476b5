"""The forge package against a loopback GitHub/GitLab: URLs, tokens, retries, errors,
pull/merge requests, reviews on lines, and pushes that keep the token off argv and disk."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from autocodebase.errors import UsageError
from autocodebase.forge.clients import forge_for
from autocodebase.forge.http import ForgeError, ForgeHttp
from autocodebase.forge.issues import branch_for, read_task_file, slug
from autocodebase.forge.pr_body import pull_request_body, report_from_events
from autocodebase.forge.refs import parse_forge_url, remote_project
from autocodebase.forge.tokens import Token, find_token
from autocodebase.quality.review.findings import Finding
from autocodebase.sandbox.environment import command_environment
from autocodebase.vcs.push import push_branch, push_environment
from tests.conftest import commit_all, git
from tests.fakes.forge_server import HEAD_SHA, ForgeServer

TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


@pytest.fixture
def forge() -> ForgeServer:
    with ForgeServer(TOKEN) as server:
        server.state.issues[("octo/hello", 12)] = {"title": "Add a flag", "body": "We need -v."}
        server.state.issues[("grp/sub/proj", 3)] = {"title": "Fix it", "body": "Broken."}
        yield server


def test_urls_name_the_forge_project_and_api() -> None:
    ref = parse_forge_url("https://github.com/octo/hello/issues/12")
    assert (ref.forge, ref.project, ref.number, ref.kind) == ("github", "octo/hello", 12, "issue")
    assert ref.api_url == "https://api.github.com"
    ghe = parse_forge_url("https://ghe.corp.example/octo/hello/pull/4")
    assert ghe.api_url == "https://ghe.corp.example/api/v3" and ghe.kind == "change"
    lab = parse_forge_url("https://git.example.org/grp/sub/proj/-/merge_requests/9")
    assert (lab.forge, lab.project, lab.project_id) == (
        "gitlab",
        "grp/sub/proj",
        "grp%2Fsub%2Fproj",
    )
    assert lab.api_url == "https://git.example.org/api/v4"
    assert parse_forge_url("http://127.0.0.1:8080/o/r/issues/1").api_url.startswith("http://127")
    for bad, says in [
        ("http://github.com/o/r/issues/1", "in clear"),
        ("https://tok@github.com/o/r/issues/1", "no credentials"),
        ("https://github.com/o/r", "not an issue"),
        ("ftp://x/o/r/issues/1", "not a forge URL"),
    ]:
        with pytest.raises(UsageError, match=says):
            parse_forge_url(bad)
    assert remote_project("git@github.com:octo/hello.git") == ("github.com", "octo/hello")
    assert remote_project("https://gitlab.com/a/b/c.git") == ("gitlab.com", "a/b/c")
    assert remote_project("/srv/git/repo.git") is None


def test_tokens_come_from_the_environment_then_gh() -> None:
    asked: list[str] = []

    def gh(host: str) -> str | None:
        asked.append(host)
        return "gho_fromgh"

    env = {"GITHUB_TOKEN": "t1", "GH_TOKEN": "t0", "GITLAB_TOKEN": "glpat-x"}
    assert find_token("github", "github.com", env, gh) == Token("t0", "GH_TOKEN")
    assert find_token("gitlab", "gitlab.com", env, gh).source == "GITLAB_TOKEN"  # type: ignore[union-attr]
    found = find_token("github", "github.com", {}, gh)
    assert found is not None and found.source == "gh auth token" and asked == ["github.com"]
    assert "gho_fromgh" not in repr(found)
    assert find_token("gitlab", "gitlab.com", {}, gh) is None


def test_forge_tokens_never_reach_a_sandboxed_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("GITLAB_TOKEN", "glpat-0123456789abcdefghij")
    monkeypatch.setenv("MY_TOKEN", "allowed-by-the-user")
    env = command_environment(("GITHUB_TOKEN", "GITLAB_TOKEN", "MY_TOKEN"))
    assert "GITHUB_TOKEN" not in env and "GITLAB_TOKEN" not in env
    assert env["MY_TOKEN"] == "allowed-by-the-user"  # env_allow still works for the rest


def test_retries_500_and_429_then_succeeds(forge: ForgeServer) -> None:
    slept: list[float] = []
    forge.fail("/api/v3/repos/octo/hello/issues/12", 500)
    forge.fail("/api/v3/repos/octo/hello/issues/12", 429, {"Retry-After": "2"})
    ref = parse_forge_url(f"{forge.url}/octo/hello/issues/12")
    http = ForgeHttp(ref.api_url, {"Authorization": f"Bearer {TOKEN}"}, sleep=slept.append)
    with http:
        data = http.request("GET", "/repos/octo/hello/issues/12")
    assert data["title"] == "Add a flag"
    assert slept == [1.0, 2.0]
    assert len(forge.requests_to("GET", "issues/12")) == 3


@pytest.mark.parametrize(
    ("token", "path", "says"),
    [
        (
            "ghp_wrongWrongWrong0123",
            "/repos/octo/hello/issues/12",
            "HTTP 401: Bad credentials; the token was refused",
        ),
        (TOKEN, "/repos/octo/hello/issues/99", "HTTP 404: Not Found; not found, or not visible"),
    ],
)
def test_401_and_404_are_one_line(forge: ForgeServer, token: str, path: str, says: str) -> None:
    http = ForgeHttp(f"{forge.url}/api/v3", {"Authorization": f"Bearer {token}"}, sleep=print)
    with pytest.raises(ForgeError) as caught, http:
        http.request("GET", path)
    assert says in str(caught.value) and "\n" not in str(caught.value)
    assert token not in str(caught.value)


FINDINGS = [
    Finding("bandit", "B105", "high", "app.py", 2, "Possible hardcoded password"),
    Finding("ruff", "B006", "medium", "app.py", 40, "Mutable default argument"),
]


def test_github_pull_request_and_review_on_lines(forge: ForgeServer) -> None:
    ref = parse_forge_url(f"{forge.url}/octo/hello/pull/5")
    client = forge_for(ref, Token(TOKEN, "GITHUB_TOKEN"))
    forge.state.files = {"app.py": forge.state.files["app.py"], "b.py": "@@ -0,0 +1 @@\n+x\n"}
    opened = client.open_change_request("Add a flag", "body", "acb/issue-12-add", "main", True)
    assert opened.web_url.endswith("/octo/hello/pull/1347")
    [pull] = forge.requests_to("POST", r"/pulls$")
    assert pull.body == {
        "title": "Add a flag",
        "body": "body",
        "head": "acb/issue-12-add",
        "base": "main",
        "draft": True,
    }
    posted = client.post_review(5, "**acb review**: 2 finding(s)", FINDINGS)
    client.close()
    assert (posted.comments, posted.in_body) == (1, 1)
    assert len(forge.requests_to("GET", "/files")) == 2  # followed the Link header
    [review] = forge.requests_to("POST", "/reviews")
    assert review.body["commit_id"] == HEAD_SHA and review.body["event"] == "COMMENT"
    [comment] = review.body["comments"]
    assert comment["path"] == "app.py" and comment["line"] == 2 and comment["side"] == "RIGHT"
    assert "Possible hardcoded password" in comment["body"]
    assert "`app.py:40`" in review.body["body"]  # outside the diff: listed in the body
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in forge.state.requests)


def test_gitlab_issue_merge_request_and_discussions(forge: ForgeServer) -> None:
    ref = parse_forge_url(f"{forge.url}/grp/sub/proj/-/issues/3")
    client = forge_for(ref, Token("glpat-0123456789abcdefghij", "GITLAB_TOKEN"))
    forge.state.token = "glpat-0123456789abcdefghij"
    issue = client.issue(3)
    assert (issue.title, issue.body) == ("Fix it", "Broken.")
    opened = client.open_change_request("Fix it", "text", "acb/issue-3-fix-it", "main", True)
    assert opened.number == 7 and opened.web_url.endswith("/grp/sub/proj/-/merge_requests/7")
    [mr] = forge.requests_to("POST", "merge_requests$")
    assert mr.path == "/api/v4/projects/grp%2Fsub%2Fproj/merge_requests"
    assert mr.body["title"] == "Draft: Fix it" and mr.body["source_branch"] == "acb/issue-3-fix-it"
    posted = client.post_review(7, "summary", FINDINGS)
    client.close()
    assert (posted.comments, posted.in_body) == (1, 1)
    [discussion] = forge.requests_to("POST", "/discussions")
    assert discussion.body["position"]["new_line"] == 2
    assert discussion.body["position"]["head_sha"] == HEAD_SHA
    [note] = forge.requests_to("POST", "/notes")
    assert "`app.py:40`" in note.body["body"]
    assert all(r.headers["PRIVATE-TOKEN"] == forge.state.token for r in forge.state.requests)


def test_task_files_slugs_and_branches(tmp_path: Path) -> None:
    task = tmp_path / "t.md"
    task.write_text("# Add a --verbose flag!\n\nPrint more.\n")
    issue = read_task_file(task)
    assert (issue.title, issue.body) == ("Add a --verbose flag!", "Print more.")
    assert branch_for(issue, True) == "acb/task-add-a-verbose-flag"
    assert slug("x" * 30 + " " + "y" * 30) == "x" * 30
    (tmp_path / "empty.md").write_text("\n")
    with pytest.raises(UsageError, match="empty"):
        read_task_file(tmp_path / "empty.md")


def test_pull_request_body_says_what_the_run_did() -> None:
    events = [
        {"type": "run_started", "model": "openai/mock-model"},
        {"type": "review_checked", "findings": [FINDINGS[0].record()]},
        {"type": "git", "commit": "abc123def456"},
        {
            "type": "run_finished",
            "outcome": "completed",
            "final_message": "Added the flag.",
            "steps": 3,
            "usage": {"input_tokens": 1200, "output_tokens": 80},
            "cost_usd": 0.0123,
            "verification": {"status": "verified", "detail": "2 tests passed", "tests": []},
        },
    ]
    body = pull_request_body(report_from_events("run-1", events), " a.py | 2 +-", "#12")
    for expected in [
        "Closes #12.",
        "Added the flag.",
        " a.py | 2 +-",
        "verified: 2 tests passed",
        "`app.py:2`",
        "Possible hardcoded password",
        "`run-1`",
        "`abc123def456`",
        "$0.0123; 1,200 tokens in, 80 out; 3 step(s) with `openai/mock-model`",
    ]:
        assert expected in body


def _repo_with_bare_remote(tmp_path: Path) -> tuple[Path, Path]:
    repo, bare = tmp_path / "repo", tmp_path / "remote.git"
    repo.mkdir()
    (repo / "a.txt").write_text("a\n")
    commit_all(repo, "first", init=True)
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(repo, "remote", "add", "origin", str(bare))
    git(repo, "switch", "-q", "-c", "acb/issue-1-x")
    (repo / "a.txt").write_text("b\n")
    commit_all(repo, "change")
    return repo, bare


def test_push_to_a_local_bare_remote_runs_none_of_its_hooks(tmp_path: Path) -> None:
    repo, bare = _repo_with_bare_remote(tmp_path)
    hook = bare / "hooks" / "pre-receive"
    hook.write_text(f"#!/bin/sh\ntouch {tmp_path}/hook-ran\nexit 1\n")
    hook.chmod(0o755)
    push_branch(repo, "origin", "acb/issue-1-x")
    head = git(repo, "rev-parse", "HEAD").strip()
    assert git(bare, "rev-parse", "refs/heads/acb/issue-1-x").strip() == head
    assert not (tmp_path / "hook-ran").exists()


def test_push_refuses_a_remote_inside_the_work_tree(tmp_path: Path) -> None:
    repo, _ = _repo_with_bare_remote(tmp_path)
    git(repo, "init", "-q", "--bare", "planted.git")
    git(repo, "remote", "add", "planted", str(repo / "planted.git"))
    with pytest.raises(UsageError, match="inside the work tree"):
        push_branch(repo, "planted", "acb/issue-1-x")


def test_https_push_credentials_go_through_the_environment_only(tmp_path: Path) -> None:
    options, env = push_environment("https://github.com/o/r.git", tmp_path, TOKEN, "x")
    assert not any(TOKEN in o for o in options)
    assert env["GIT_CONFIG_KEY_1"] == "http.https://github.com/.extraHeader"
    assert env["GIT_CONFIG_VALUE_1"].startswith("Authorization: Basic ")
    assert env["GIT_CONFIG_KEY_0"] == "protocol.https.allow"
    with pytest.raises(UsageError, match="http://"):
        push_environment("http://example.com/o/r.git", tmp_path, TOKEN, "x")


def test_a_token_goes_only_to_the_forge_it_is_for(tmp_path: Path) -> None:
    # A pushurl or insteadOf rule pointing elsewhere must not receive the token.
    with pytest.raises(UsageError, match=r"refusing to push to evil\.example with the token"):
        push_environment("https://evil.example/o/r.git", tmp_path, TOKEN, "x", "github.com")
    _, env = push_environment("https://GitHub.com/o/r.git", tmp_path, TOKEN, "x", "github.com")
    assert env["GIT_CONFIG_VALUE_1"].startswith("Authorization: Basic ")
    _, env = push_environment("http://127.0.0.1:8123/o.git", tmp_path, TOKEN, "x", "127.0.0.1:8123")
    assert env["GIT_CONFIG_COUNT"] == "2"
    _, env = push_environment("https://evil.example/o/r.git", tmp_path, None, "x", "github.com")
    assert env["GIT_CONFIG_COUNT"] == "1", "no token, nothing to refuse"


def test_a_real_push_over_http_authenticates_without_the_token_in_argv_or_config(
    tmp_path: Path, forge: ForgeServer
) -> None:
    repo, _ = _repo_with_bare_remote(tmp_path)
    served = tmp_path / "served"
    served.mkdir()
    git(served, "init", "-q", "--bare", "hello.git")
    forge.state.git_root = served
    git(repo, "remote", "add", "forge", f"{forge.url}/git/hello.git")
    argv_log = _git_that_logs_argv(tmp_path)
    os.environ["PATH"] = f"{argv_log.parent}{os.pathsep}{os.environ['PATH']}"
    try:
        from autocodebase.vcs import git as vcs_git

        vcs_git._git_on.cache_clear()
        push_branch(repo, "forge", "acb/issue-1-x", TOKEN)
    finally:
        os.environ["PATH"] = os.environ["PATH"].split(os.pathsep, 1)[1]
        vcs_git._git_on.cache_clear()
    pushed = git(served / "hello.git", "rev-parse", "refs/heads/acb/issue-1-x").strip()
    assert pushed == git(repo, "rev-parse", "HEAD").strip()
    assert "push" in argv_log.with_suffix(".log").read_text()
    assert TOKEN not in argv_log.with_suffix(".log").read_text()
    assert TOKEN not in (repo / ".git" / "config").read_text()
    with pytest.raises(UsageError, match="failed"):
        push_branch(repo, "forge", "acb/issue-1-x", "wrong-token")


def _git_that_logs_argv(tmp_path: Path) -> Path:
    """A `git` first on PATH that appends its argv to git.log and runs the real one."""
    real = subprocess.run(["which", "git"], capture_output=True, text=True).stdout.strip()
    wrapper = tmp_path / "bin" / "git"
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\necho "$@" >> {wrapper.with_suffix(".log")}\nexec {real} "$@"\n')
    wrapper.chmod(0o755)
    return wrapper
