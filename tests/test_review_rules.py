"""The gates beyond ruff and bandit: acb's own semgrep rules (offline), zizmor on workflows, and
the licence check — each on flawed code and on its clean counterpart."""

from __future__ import annotations

from pathlib import Path

import pytest

from autocodebase.quality.review import semgrep as semgrep_gate
from autocodebase.quality.review.changes import ChangeSet
from autocodebase.quality.review.licences import licence_findings, project_licence
from autocodebase.quality.review.static import static_review, unavailable_gates
from autocodebase.quality.review.workflows import validate, zizmor_findings
from tests.conftest import commit_all
from tests.helpers import run_acb, write_file

needs_semgrep = pytest.mark.skipif(
    semgrep_gate.executable() is None, reason="semgrep extra not installed (make test installs it)"
)

FLASK_APP = """import os
import requests
from flask import request, render_template_string, send_file
from werkzeug.utils import secure_filename


def download():
    name = request.args.get("name")
    return send_file(os.path.join("/srv/files", name))


def download_safely():
    name = secure_filename(request.args.get("name"))
    return send_file(os.path.join("/srv/files", name))


def preview():
    return requests.get(request.args["url"], timeout=5).text


def fetch(url):
    return requests.get(url, timeout=5).text


def hello():
    return render_template_string("Hello " + request.args.get("name", ""))


def remove(db, table, key):
    query = "DELETE FROM " + table + " WHERE id = " + key
    db.execute(query)


def find(db, name):
    return db.execute("SELECT * FROM users WHERE name = ?", (name,))
"""

NODE_APP = """const cp = require("child_process");
function list(dir) { cp.exec(`ls ${dir}`); }
function listSafely(dir) { cp.execFile("ls", [dir]); }
function show(el, html) { el.innerHTML = html; }
function label(el, text) { el.textContent = text; }
"""


def whole_file(root: Path, *names: str) -> ChangeSet:
    lines = {n: set(range(1, len((root / n).read_text().splitlines()) + 1)) for n in names}
    return ChangeSet("test", root, lines)


@pytest.mark.slow
@needs_semgrep
def test_semgrep_rules_find_flows_from_requests_and_spare_the_clean_twins(tmp_path: Path) -> None:
    write_file(tmp_path / "app.py", FLASK_APP)
    write_file(tmp_path / "web/app.js", NODE_APP)
    found = {
        (f.file, f.line, f.rule, f.severity)
        for f in static_review(whole_file(tmp_path, "app.py", "web/app.js")).findings
        if f.tool == "semgrep"
    }
    assert found == {
        ("app.py", 9, "acb.python.path-traversal-from-request", "high"),
        ("app.py", 18, "acb.python.ssrf-from-request", "high"),
        ("app.py", 26, "acb.python.template-from-request", "high"),
        ("app.py", 30, "acb.python.sql-built-from-strings", "high"),
        ("web/app.js", 2, "acb.js.command-injection", "high"),
        ("web/app.js", 4, "acb.js.html-injection", "medium"),
    }


def test_a_missing_semgrep_is_said_not_hidden(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(semgrep_gate, "executable", lambda: None)
    assert semgrep_gate.semgrep(tmp_path, ["app.py"]) == []
    assert unavailable_gates() == [
        "semgrep is not installed, so acb's semgrep rules were skipped "
        "(pip install 'autocodebase[semgrep]')"
    ]


WORKFLOW = """name: ci
on: pull_request
permissions:
  contents: read
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - run: echo "${{ github.event.pull_request.title }}"
      - run: make test
"""


def test_zizmor_flags_template_injection_on_its_line(tmp_path: Path) -> None:
    write_file(tmp_path / ".github/workflows/ci.yml", WORKFLOW)
    found = zizmor_findings(tmp_path, [".github/workflows/ci.yml"])
    injection = [f for f in found if f.rule == "template-injection"]
    assert [(f.line, f.severity) for f in injection] == [(9, "high")]
    fixed = WORKFLOW.replace(
        '      - run: echo "${{ github.event.pull_request.title }}"\n',
        '      - run: echo "$TITLE"\n        env:\n'
        "          TITLE: ${{ github.event.pull_request.title }}\n",
    )
    write_file(tmp_path / ".github/workflows/ci.yml", fixed)
    assert validate(tmp_path, [".github/workflows/ci.yml"]) == []


GPL_HEADER = """# This program is free software: you can redistribute it and/or modify
# it under the terms of the GNU General Public License as published by
# the Free Software Foundation, either version 3 of the License.
# Copyright (C) 2019 Some Other Person
def helper():
    return 1
"""


def licensed_project(root: Path) -> Path:
    write_file(
        root / "LICENSE",
        "MIT License\n\nCopyright (c) 2026 Ada Lovelace\n\n"
        "Permission is hereby granted, free of charge, to any person obtaining a copy\n",
    )
    return root


def test_copied_copyleft_text_is_high_and_foreign_notices_are_medium(tmp_path: Path) -> None:
    root = licensed_project(tmp_path / "proj")
    write_file(root / "vendored.py", GPL_HEADER)
    write_file(
        root / "own.py",
        "# Copyright (c) 2026 Ada Lovelace\n# SPDX-License-Identifier: MIT\n"
        "# see https://stackoverflow.com/a/12345 for the trick\nX = 1\n",
    )
    assert project_licence(root) == "MIT"
    found = {
        (f.file, f.line, f.rule, f.severity)
        for f in licence_findings(root, ["vendored.py", "own.py"])
    }
    assert found == {
        ("vendored.py", 2, "foreign-licence", "high"),
        ("vendored.py", 4, "foreign-copyright", "medium"),
        ("own.py", 3, "stack-overflow", "medium"),
    }


@pytest.mark.slow
def test_licence_check_runs_in_acb_review_on_changed_lines_only(tmp_path: Path) -> None:
    root = licensed_project(tmp_path / "proj")
    write_file(root / "old.py", "# Copyright (C) 2010 Somebody Else\nA = 1\n")
    commit_all(root, "start", init=True)
    write_file(root / "old.py", "# Copyright (C) 2010 Somebody Else\nA = 2\n")
    write_file(root / "new.py", GPL_HEADER)
    done = run_acb("review", "--format", "text", cwd=root)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "new.py:2: high [licence foreign-licence] GPL licence text" in done.stdout
    assert "old.py" not in done.stdout, "the old notice was not part of this change"


def test_rule_ids_do_not_depend_on_where_acb_is_checked_out() -> None:
    """semgrep names a rule by its directory's path, dotted: a checkout in a folder named
    `acb` once gave ids like `acb.src.autocodebase...rules.acb.python.x`."""
    from autocodebase.quality.review.semgrep import rule_ids, rule_name

    assert "acb.python.ssrf-from-request" in rule_ids() and len(rule_ids()) >= 10
    for prefix in ("", "home.me.acb.", "acb.src.autocodebase.quality.review.rules.", "x.acb.acb."):
        for known in rule_ids():
            assert rule_name(f"{prefix}{known}") == known
    assert rule_name("someone.elses.rule") == "someone.elses.rule"
