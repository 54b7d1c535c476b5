"""`acb review`: the static gates on the changed lines of any change, in four formats, with an
exit code per `--fail-on`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autocodebase.quality.review.changes import parse_added_lines
from autocodebase.quality.review.findings import Finding, deduplicate
from tests.conftest import commit_all, git
from tests.helpers import run_acb, write_file

OLD = """import subprocess


def run(cmd):
    return subprocess.call(cmd, shell=True)
"""

NEW = """import hashlib
import subprocess
import yaml


def run(cmd):
    return subprocess.call(cmd, shell=True)


def fingerprint(password):
    return hashlib.md5(password.encode()).hexdigest()


def load(text):
    return yaml.load(text)


AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "app"
    write_file(root / "app.py", OLD)
    commit_all(root, "old debt", init=True)
    write_file(root / "app.py", NEW)
    return root


def test_parse_added_lines_from_a_zero_context_diff() -> None:
    diff = """diff --git a/a.py b/a.py
--- a/a.py
+++ b/a.py
@@ -1,0 +2,2 @@
+x
+y
@@ -9 +11 @@
-old
+new
@@ -20,3 +22,0 @@
-a
--- not a file header
-c
diff --git a/gone.py b/gone.py
--- a/gone.py
+++ /dev/null
@@ -1 +0,0 @@
-bye
"""
    assert parse_added_lines(diff) == {"a.py": {2, 3, 11}}


def test_only_the_changed_lines_are_reviewed(repo: Path) -> None:
    done = run_acb("review", "--format", "json", "--fail-on", "never", cwd=repo)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    found = {(f["tool"], f["rule"], f["line"], f["severity"]) for f in report["findings"]}
    assert ("bandit", "B324", 11, "high") in found, "weak hash for a password"
    assert ("bandit", "B506", 15, "high") in found, "yaml.load: an exploitable class"
    assert ("detect-secrets", "AWS Access Key", 18, "high") in found
    assert not [f for f in report["findings"] if f["line"] == 7], "old shell=True is old debt"
    assert report["reviewed"] == "uncommitted changes"


@pytest.mark.slow
def test_fail_on_decides_the_exit_code_and_formats_render(repo: Path) -> None:
    assert run_acb("review", cwd=repo).returncode == 1, "high findings fail by default"
    assert run_acb("review", "--fail-on", "never", cwd=repo).returncode == 0
    text = run_acb("review", "--fail-on", "never", cwd=repo).stdout
    assert "app.py:11: high [bandit B324]" in text
    sarif = json.loads(
        run_acb("review", "--format", "sarif", "--fail-on", "never", cwd=repo).stdout
    )
    results = sarif["runs"][0]["results"]
    assert sarif["version"] == "2.1.0" and results
    location = results[0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "app.py" and location["region"]["startLine"] > 0
    assert {r["level"] for r in results} <= {"error", "warning", "note"}
    markdown = run_acb("review", "--format", "markdown", "--fail-on", "never", cwd=repo).stdout
    assert "| high | `app.py:11` | bandit `B324` |" in markdown


@pytest.mark.slow
def test_commits_and_ranges_are_reviewed_from_history(repo: Path) -> None:
    git(repo, "commit", "-qam", "new code")
    write_file(repo / "clean.py", "def add(a, b):\n    return a + b\n")
    commit_all(repo, "clean code")
    last = run_acb("review", "HEAD", "--format", "json", cwd=repo)
    assert last.returncode == 0 and json.loads(last.stdout)["findings"] == []
    both = run_acb("review", "HEAD~2..HEAD", "--format", "json", "--fail-on", "never", cwd=repo)
    rules = {f["rule"] for f in json.loads(both.stdout)["findings"]}
    assert {"B324", "B506"} <= rules
    one = run_acb("review", "HEAD~1", "--fail-on", "high", cwd=repo)
    assert one.returncode == 1 and "B324" in one.stdout


def test_bad_input_is_one_line(repo: Path, tmp_path: Path) -> None:
    bad = run_acb("review", "no-such-rev", cwd=repo)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "no such revision" in bad.stderr
    outside = run_acb("review", cwd=tmp_path)
    assert outside.returncode == 2 and "not in a git repository" in outside.stderr
    both = run_acb("review", "HEAD", "--uncommitted", cwd=repo)
    assert both.returncode == 2 and "Traceback" not in both.stderr


def test_the_same_problem_from_two_tools_is_reported_once() -> None:
    bandit = Finding("bandit", "B602", "high", "a.py", 3, "shell=True")
    ruff = Finding("ruff", "S602", "medium", "a.py", 3, "shell=True")
    other = Finding("ruff", "F821", "high", "a.py", 3, "undefined name")
    assert deduplicate([ruff, bandit, other]) == [bandit, other]


def test_shell_scripts_and_workflows_get_their_gates(tmp_path: Path) -> None:
    root = tmp_path / "infra"
    write_file(root / "README.md", "infra\n")
    commit_all(root, "start", init=True)
    write_file(root / "deploy.sh", "#!/bin/sh\nrm -rf $TARGET/*\n")
    write_file(root / "bin/release", "#!/bin/bash\ncd $1\n")
    write_file(
        root / ".github/workflows/ci.yml",
        "on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: make test\n    timeout: 5\n",
    )
    done = run_acb("review", "--format", "json", "--fail-on", "never", cwd=root)
    found = {(f["tool"], f["file"], f["line"]) for f in json.loads(done.stdout)["findings"]}
    assert ("shellcheck", "deploy.sh", 2) in found
    assert ("shellcheck", "bin/release", 2) in found, "a script without suffix, by its shebang"
    assert ("check-jsonschema", ".github/workflows/ci.yml", 7) in found, "the unknown key's line"
