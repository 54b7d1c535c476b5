"""`acb autopilot --source github|gitlab` end to end, as a user runs it: the example project,
its `origin` the loopback forge's smart-HTTP remote, an issue labelled `acb` (its body holding
the token, as a careless reporter might paste it), the scripted model making the change
through the real `acb exec` machinery, a real `git push`, the pull/merge request, and a second
pass merging it once a maintainer approved it on the forge. The token must show nowhere: not
in the ledger, not on any git command line, not in the repository's config, not in output."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import git
from tests.fakes.forge_server import ForgeServer
from tests.fakes.mock_server import MockModelServer
from tests.helpers import SCRIPT, logging_git_and_gh, run_acb

TOKEN = "Zq8xV3pL0wR7mK2nB5cT"
"""Shaped like no known token format: only its registration with the redactor hides it."""


def _tools(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A `git` that logs its argv and a `gh` that prints the token (GitHub's login)."""
    log, env = logging_git_and_gh(tmp_path, TOKEN)
    return log, {**env, "GH_TOKEN": "", "GITHUB_TOKEN": ""}


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["github", "gitlab"])
def test_an_issue_becomes_a_request_merged_once_approved(
    kind: str, wordstats_repo: Path, tmp_path: Path, isolated_home: Path
) -> None:
    repo = wordstats_repo
    git(repo, "branch", "-M", "main")
    log, env = _tools(tmp_path)
    if kind == "gitlab":
        env["GITLAB_TOKEN"] = TOKEN
    project = "octo/wordstats" if kind == "github" else "grp/wordstats"
    with ForgeServer(TOKEN) as forge:
        forge.state.git_root = tmp_path / "served"
        bare = forge.state.git_root / f"{project}.git"
        bare.parent.mkdir(parents=True)
        git(tmp_path, "init", "-q", "--bare", str(bare))
        git(repo, "remote", "add", "origin", f"{forge.url}/{project}.git")
        forge.state.issues[(project, 12)] = {
            "title": "Add longest_word",
            "body": f"Add longest_word(text). (my token, oops: {TOKEN})",
            "labels": ["acb"],
        }
        forge.state.issues[(project, 13)] = {"title": "Not for acb", "body": "", "labels": []}
        with MockModelServer(list(SCRIPT)) as model:
            env |= {
                "OPENAI_API_KEY": "sk-test-0123456789abcdef",
                "OPENAI_BASE_URL": model.url + "/v1",
            }
            args = ("autopilot", "--once", "--source", kind, "-m", "openai/mock-model")
            first = run_acb(*args, cwd=repo, env=env, timeout=600)
            assert first.returncode == 0, first.stderr
            assert model.script == [] and not model.protocol_errors
        task = "gh-12" if kind == "github" else "gl-12"
        number = 1347 if kind == "github" else 7
        assert f"{task}  pr-open" in first.stdout and "gh-13" not in first.stdout
        pushed = git(bare, "rev-parse", f"refs/heads/acb/task-{task}").strip()
        assert "+def longest_word" in git(bare, "show", pushed)
        assert "longest_word" not in git(repo, "show", "main:wordstats/core.py")
        [opened] = forge.requests_to("POST", r"/pulls$|merge_requests$")
        body = opened.body.get("body") or opened.body.get("description")
        assert body.startswith("Closes #12.") and "verified" in body and TOKEN not in body

        # A person approves on the forge; the next pass merges it there (no run: no model).
        change = forge.state.changes[(project, number)]
        if kind == "github":
            change["reviews"].append(
                {"user": {"login": "maintainer"}, "state": "APPROVED", "commit_id": pushed,
                 "author_association": "MEMBER"}
            )  # fmt: skip
        else:
            change["approved_by"] = ["maintainer"]
        second = run_acb(*args, cwd=repo, env=env, timeout=120)
        assert second.returncode == 0, second.stderr
        assert change["state"] == "merged" and change["merged_with"] == pushed
        assert f"{task}: " in second.stderr and "approved by maintainer" in second.stderr
        status = run_acb("autopilot", "status", task, cwd=repo, env=env)
        assert "pr-open -> merged" in status.stdout
        approve = run_acb("autopilot", "approve", task, cwd=repo, env=env)
        assert approve.returncode == 2 and "approve its request on the forge" in approve.stderr

    for done in (first, second, status, approve):
        assert TOKEN not in done.stdout + done.stderr
    for path in isolated_home.rglob("ledger.db*"):
        assert TOKEN.encode() not in path.read_bytes()
    assert "push" in log.read_text() and TOKEN not in log.read_text()
    assert TOKEN not in (repo / ".git" / "config").read_text()
