"""`acb sandbox`: one command under the policy, from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from autocodebase.sandbox.bwrap import bwrap_problem
from tests.helpers import run_acb

pytestmark = pytest.mark.skipif(bwrap_problem() is not None, reason="bubblewrap unusable here")


def test_workspace_write_allows_the_workspace(tmp_path: Path) -> None:
    done = run_acb(
        "sandbox", "-C", str(tmp_path), "--", "sh", "-c", "echo hi > f && cat f", cwd=tmp_path
    )
    assert done.returncode == 0 and done.stdout == "hi\n"
    assert "workspace-write (bubblewrap), network off" in done.stderr


def test_read_only_refuses_and_passes_the_exit_code(tmp_path: Path) -> None:
    done = run_acb("sandbox", "--mode", "read-only", "--", "touch", "x", cwd=tmp_path)
    assert done.returncode == 1 and "Read-only file system" in done.stdout
    assert not (tmp_path / "x").exists()


def test_network_flag(tmp_path: Path) -> None:
    off = run_acb("sandbox", "--", "cat", "/proc/net/dev", cwd=tmp_path)
    on = run_acb("sandbox", "--network", "--", "cat", "/proc/net/dev", cwd=tmp_path)

    def interfaces(text: str) -> set[str]:
        return {line.split(":")[0].strip() for line in text.splitlines() if ":" in line}

    assert interfaces(off.stdout) == {"lo"}
    assert interfaces(on.stdout) == interfaces(Path("/proc/net/dev").read_text())


def test_timeout(tmp_path: Path) -> None:
    done = run_acb("sandbox", "--timeout", "1", "--", "sleep", "30", cwd=tmp_path)
    assert done.returncode == 124 and "killed after 1s" in done.stderr
