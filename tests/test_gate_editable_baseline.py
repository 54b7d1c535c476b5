"""Editable installs and the gate's baseline (issue 16): the tree as the run found it is
exported to a scratch directory and its tests run there, but a project installed editable
(`pip install -e .`, as every SWE-bench environment is) imports from the real checkout. The
baseline must import the scratch copy: otherwise a regression the run made shows up in the
'before' run too and is excused as a failure that was already there."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from autocodebase.sandbox.bwrap import bwrap_problem
from autocodebase.sandbox.environment import command_environment
from autocodebase.sandbox.policy import SandboxPolicy
from autocodebase.sandbox.run import run_command
from tests.conftest import git
from tests.fakes.mock_server import Fault, Reply
from tests.helpers import exec_with_mock, write_file
from tests.helpers import json_events as events

BREAK = """*** Begin Patch
*** Update File: src/calc/core.py
@@ def double(x):
-    return 2 * x
+    return 2 * x + 1
*** End Patch"""


@pytest.fixture
def outside() -> Iterator[Path]:
    """Outside /tmp, so the real checkout stays visible to sandboxed commands (as a project
    under /srv or /work is): the case where the baseline would silently import the change."""
    made = Path(tempfile.mkdtemp(prefix="acb-editable-", dir="/var/tmp"))
    yield made
    shutil.rmtree(made, ignore_errors=True)


def editable_project(base: Path) -> Path:
    repo = base / "calc"
    write_file(repo / "src/calc/__init__.py", "from calc.core import double\n")
    write_file(repo / "src/calc/core.py", "def double(x):\n    return 2 * x\n")
    write_file(
        repo / "tests/test_calc.py",
        "from calc import double\n\n\ndef test_double():\n    assert double(2) == 4\n\n\n"
        "def test_something_else():\n    assert True\n",
    )
    write_file(repo / "pyproject.toml", '[tool.pytest.ini_options]\ntestpaths = ["tests"]\n')
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python3*/site-packages"))
    # What `pip install -e .` leaves (the legacy .pth form), plus our pytest.
    (site / "__editable__calc.pth").write_text(
        f"{repo / 'src'}\n{sysconfig.get_paths()['purelib']}\n"
    )
    write_file(repo / ".acb/config.toml", f'[test]\ncommand = "{venv}/bin/python -m pytest -q"\n')
    write_file(repo / ".gitignore", ".acb/\n")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "initial")
    return repo


@pytest.mark.slow
def test_a_regression_is_not_excused_by_a_baseline_that_imported_it(outside: Path) -> None:
    repo = editable_project(outside)
    script: list[Reply | Fault] = [
        Reply("", [("apply_patch", {"patch": BREAK})]),
        Reply("Done."),
        Reply("Done, I insist."),
        Reply("Done, really."),
        Reply("fix: double"),
    ]
    done, _ = exec_with_mock(repo, script, "change double", "--json")
    checked = [e for e in events(done.stdout) if e["type"] == "tests_checked"]
    assert checked, done.stdout
    first = checked[0]
    assert "tests/test_calc.py::test_double" in " ".join(first["failed"]) or any(
        "test_double" in name for name in first["failed"]
    ), first
    assert not any("test_double" in name for name in first["preexisting"]), first
    assert first["verdict"] == "sent-back", first


@pytest.mark.skipif(bwrap_problem() is not None, reason="needs bubblewrap")
@pytest.mark.parametrize("mode", ["workspace-write", "read-only"])
def test_content_is_shown_at_the_workspaces_path_and_the_workspace_is_untouched(
    outside: Path, mode: str
) -> None:
    workspace, content = outside / "ws", outside / "copy"
    write_file(workspace / "which.txt", "the real workspace\n")
    write_file(content / "which.txt", "the exported copy\n")
    outcome = run_command(
        SandboxPolicy(mode=mode),  # type: ignore[arg-type]
        f"pwd; cat which.txt; cat {workspace}/which.txt; echo made > new.txt",
        workspace,
        command_environment(),
        content=content,
    )
    lines = outcome.output.splitlines()
    assert lines[:3] == [str(workspace), "the exported copy", "the exported copy"], lines
    assert not (workspace / "new.txt").exists()
    assert (content / "new.txt").exists() == (mode == "workspace-write")
