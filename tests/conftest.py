"""Test-wide guards: no test can reach a real model (or any host but loopback), and every test
gets its own ledger and config directories so nothing leaks between tests or into ~."""

from __future__ import annotations

import ipaddress
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "wordstats"
CASSETTE = REPO / "examples" / "cassettes" / "wordstats-top-words.jsonl"
_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: Any) -> Any:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            raise RuntimeError(f"test tried to reach {host}: only loopback is allowed in tests")
    return _real_connect(self, address)


def pytest_configure(config: pytest.Config) -> None:
    socket.socket.connect = _loopback_only  # type: ignore[method-assign]


SECRET_VARS = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "OPENROUTER_API_KEY",
    "ACB_MODEL",
    "ACB_MAX_STEPS",
    "ACB_MAX_COST",
    "ACB_MAX_MINUTES",
)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "acb-home"
    monkeypatch.setenv("ACB_HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # indexes of non-repositories
    for name in SECRET_VARS:
        monkeypatch.delenv(name, raising=False)
    # acb commits as the human; tests have no global git identity, so give them one.
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Test Human")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "human@example.com")
    return home


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def commit_all(repo: Path, message: str, init: bool = False) -> None:
    """Commit everything in `repo` (made a repository first, on branch main, with `init`)."""
    if init:
        git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)


@pytest.fixture
def wordstats_repo(tmp_path: Path) -> Iterator[Path]:
    """A fresh git repository holding the example project, committed (without its
    .acb/deploy.toml: runs here start from a project with no acb state; test_deploy copies it)."""
    target = tmp_path / "wordstats"
    ignored = shutil.ignore_patterns("__pycache__", ".pytest_cache", ".acb")
    shutil.copytree(EXAMPLE, target, ignore=ignored)
    git(target, "init", "-q")
    git(target, "add", "-A")
    git(target, "commit", "-qm", "initial")
    yield target
