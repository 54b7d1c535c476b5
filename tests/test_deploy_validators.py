"""deploy's validators are run from trusted places only, and a missing one is named with how
to install it (they are the `deploy` extra)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from autocodebase import programs
from autocodebase.delivery import artefacts


def test_a_validator_is_never_taken_from_the_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = tmp_path / "repo"
    planted = workspace / "node_modules" / ".bin"
    planted.mkdir(parents=True)
    ran = tmp_path / "planted-ran"
    fake = planted / "no-such-validator"
    fake.write_text(f"#!/bin/sh\ntouch {ran}\n")
    fake.chmod(0o755)
    programs.distrust(workspace)  # what every verb does with its workspace
    monkeypatch.setenv("PATH", f"{planted}{os.pathsep}{os.environ['PATH']}")
    code, message = artefacts._run(["no-such-validator", "Dockerfile"], workspace)
    assert code == 127 and not ran.exists()
    assert message == (
        "no-such-validator is not installed, so this file cannot be validated "
        "(pip install 'autocodebase[deploy]')"
    )


def test_the_installed_validators_run() -> None:
    code, _ = artefacts._run(["hadolint", "--version"], Path.cwd())
    assert code == 0
