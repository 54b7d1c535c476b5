"""`acb review --post PR_URL` (findings as a review with comments on their lines, on a
loopback GitHub and GitLab) and `--sarif FILE` (SARIF 2.1.0, checked against the schema's
required shape: no SARIF schema package is available offline, so the parts of the OASIS
schema that code-scanning uploads rely on are written out here)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from tests.conftest import commit_all, git
from tests.fakes.forge_server import ForgeServer
from tests.helpers import run_acb, write_file
from tests.test_review import NEW, OLD

TOKEN = "ghp_" + "Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4J3i2"

MESSAGE = {"type": "object", "anyOf": [{"required": ["text"]}, {"required": ["id"]}]}
SARIF_REQUIRED = {
    "type": "object",
    "required": ["version", "runs"],
    "properties": {
        "version": {"const": "2.1.0"},
        "$schema": {"type": "string", "format": "uri"},
        "runs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["tool"],
                "properties": {
                    "tool": {
                        "type": "object",
                        "required": ["driver"],
                        "properties": {
                            "driver": {
                                "type": "object",
                                "required": ["name"],
                                "properties": {
                                    "rules": {
                                        "type": "array",
                                        "items": {"type": "object", "required": ["id"]},
                                    }
                                },
                            }
                        },
                    },
                    "results": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["message"],
                            "properties": {
                                "message": MESSAGE,
                                "ruleId": {"type": "string"},
                                "level": {"enum": ["none", "note", "warning", "error"]},
                                "locations": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "properties": {
                                            "physicalLocation": {
                                                "type": "object",
                                                "anyOf": [
                                                    {"required": ["address"]},
                                                    {"required": ["artifactLocation"]},
                                                ],
                                                "properties": {
                                                    "artifactLocation": {
                                                        "type": "object",
                                                        "properties": {"uri": {"type": "string"}},
                                                    },
                                                    "region": {
                                                        "type": "object",
                                                        "properties": {
                                                            "startLine": {
                                                                "type": "integer",
                                                                "minimum": 1,
                                                            },
                                                            "endLine": {
                                                                "type": "integer",
                                                                "minimum": 1,
                                                            },
                                                        },
                                                    },
                                                },
                                            }
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "app"
    write_file(root / "app.py", OLD)
    commit_all(root, "old debt", init=True)
    write_file(root / "app.py", NEW)
    return root


def _pull_request_files(repo: Path, upto: int) -> dict[str, str]:
    """The change as the forge lists it: app.py's hunks, cut to the new lines up to `upto`
    (so that some findings fall outside the pull request's diff)."""
    diff = git(repo, "diff", "-U0", "app.py")
    hunks = diff[diff.index("@@") :]
    body = "".join(f"+{line}\n" for line in NEW.splitlines()[:upto])
    assert hunks  # the real diff exists; the forge's is the first `upto` lines, added
    return {"app.py": f"@@ -0,0 +1,{upto} @@\n{body}"}


@pytest.mark.slow
def test_review_posts_findings_on_their_lines_and_writes_sarif(repo: Path, tmp_path: Path) -> None:
    sarif = tmp_path / "out" / "review.sarif"
    sarif.parent.mkdir()
    with ForgeServer(TOKEN) as forge:
        forge.state.files = _pull_request_files(repo, 12)
        url = f"{forge.url}/octo/app/pull/5"
        args = ("review", "--post", url, "--sarif", str(sarif), "--fail-on", "never", "--no-model")
        done = run_acb(*args, cwd=repo, env={"GITHUB_TOKEN": TOKEN})
    assert done.returncode == 0, done.stderr
    [review] = forge.requests_to("POST", "/reviews")
    assert review.headers["Authorization"] == f"Bearer {TOKEN}"
    comments = review.body["comments"]
    assert [(c["path"], c["line"]) for c in comments] == [("app.py", 11)]  # md5 of a password
    assert "B324" in comments[0]["body"]
    assert "`app.py:15`" in review.body["body"] and "`app.py:18`" in review.body["body"]
    assert "posted to" in done.stderr and "1 on their lines" in done.stderr
    document = json.loads(sarif.read_text())
    jsonschema.validate(document, SARIF_REQUIRED)
    lines = {
        r["locations"][0]["physicalLocation"]["region"]["startLine"]
        for r in document["runs"][0]["results"]
    }
    assert {11, 15, 18} <= lines
    assert TOKEN not in done.stderr + done.stdout


@pytest.mark.slow
def test_review_posts_discussions_on_a_gitlab_merge_request(repo: Path) -> None:
    with ForgeServer("glpat-0123456789abcdefghij") as forge:
        forge.state.files = _pull_request_files(repo, 18)
        url = f"{forge.url}/grp/app/-/merge_requests/7"
        env = {"GITLAB_TOKEN": "glpat-0123456789abcdefghij"}
        done = run_acb(
            "review", "--post", url, "--fail-on", "never", "--no-model", cwd=repo, env=env
        )
    assert done.returncode == 0, done.stderr
    placed = sorted(
        d.body["position"]["new_line"] for d in forge.requests_to("POST", "/discussions")
    )
    assert {11, 15, 18} <= set(placed)
    [note] = forge.requests_to("POST", "/notes")
    assert "**acb review**" in note.body["body"]


@pytest.mark.parametrize(
    ("url", "code", "says"),
    [
        ("/octo/app/issues/5", 2, "is an issue; --post takes a pull or merge request URL"),
        ("/octo/app/pull/5", 2, "posting a review needs a token"),
    ],
)
def test_post_errors_are_one_line(repo: Path, url: str, code: int, says: str) -> None:
    with ForgeServer(TOKEN) as forge:
        env = {"GITHUB_TOKEN": "", "GH_TOKEN": "", "PATH": "/usr/bin:/bin"}
        done = run_acb("review", "--post", forge.url + url, "--no-model", cwd=repo, env=env)
    assert done.returncode == code, done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("acb: error: ")
    assert says in done.stderr
