"""SWE-bench-format instances built from a small local git repository, for testing the
evaluation harness offline: each states its own environment (python, packages, install and
test commands, log parser), which is how instances outside SWE-bench's specs are graded."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import git

CALC = """def add(a, b):
    return a - b


def mul(a, b):
    return a + b


def sub(a, b):
    return a - b
"""
TESTS = """from calc import sub


def test_sub():
    assert sub(5, 3) == 2
"""
PYPROJECT = """[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "calc"
version = "0.1.0"
"""


def _diff(repo: Path, edit: dict[str, str]) -> str:
    for relative, text in edit.items():
        (repo / relative).write_text(text)
    patch = subprocess.run(
        ["git", "diff"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout
    git(repo, "checkout", "--", ".")
    return patch


def make_calc_repository(root: Path) -> tuple[Path, list[dict[str, Any]]]:
    """`root/acme__calc` (a git repository) and two instances against its only commit."""
    repo = root / "acme__calc"
    (repo / "calc").mkdir(parents=True)
    (repo / "tests").mkdir()
    (repo / "calc" / "__init__.py").write_text(CALC)
    (repo / "tests" / "test_calc.py").write_text(TESTS)
    (repo / "pyproject.toml").write_text(PYPROJECT)
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "calc with two bugs")
    base = git(repo, "rev-parse", "HEAD").strip()
    environment = {
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
        "pip_packages": [f"pytest=={importlib.metadata.version('pytest')}"],
        "install": "python -m pip install -e .",
        "test_cmd": "pytest -rA",
        "log_parser": "pytest",
    }
    instances = []
    for number, (name, fixed) in enumerate([("add", "a + b"), ("mul", "a * b")], start=1):
        wrong = "a - b" if name == "add" else "a + b"
        body = CALC.replace(
            f"def {name}(a, b):\n    return {wrong}", f"def {name}(a, b):\n    return {fixed}"
        )
        expected = 5 if name == "add" else 6
        test = f"from calc import {name}\n\n\ndef test_{name}():\n    assert {name}(2, 3) == {expected}\n"
        instances.append(
            {
                "repo": "acme/calc",
                "instance_id": f"acme__calc-{number}",
                "base_commit": base,
                "version": "0.1",
                "problem_statement": f"{name}() gives the wrong answer: {name}(2, 3) is wrong.",
                "patch": _diff(repo, {"calc/__init__.py": body}),
                "test_patch": _new_file(repo, f"tests/test_{name}.py", test),
                "FAIL_TO_PASS": json.dumps([f"tests/test_{name}.py::test_{name}"]),
                "PASS_TO_PASS": json.dumps([]),
                "environment": environment,
            }
        )
    return repo, instances


def _new_file(repo: Path, relative: str, text: str) -> str:
    """A patch that creates `relative` (git diff does not show untracked files)."""
    (repo / relative).write_text(text)
    git(repo, "add", "-N", relative)
    patch = subprocess.run(
        ["git", "diff"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout
    git(repo, "reset", "-q", "--", relative)
    (repo / relative).unlink()
    return patch
