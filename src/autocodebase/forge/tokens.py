"""Finding a forge token: the environment first, then `gh`'s login.

GitHub: `GH_TOKEN`, then `GITHUB_TOKEN` (gh's own order; `GH_ENTERPRISE_TOKEN` and
`GITHUB_ENTERPRISE_TOKEN` for other hosts), then `gh auth token --hostname HOST` when gh is
installed. GitLab: `GITLAB_TOKEN`. The token is held in memory only: it is handed to the HTTP
client as a header, to `git push` through its environment (`vcs/push.py`), and to the run's
redactor, so that no record shows it. Every name here is kept from sandboxed commands
(`sandbox/environment.py`), even one the user allowed.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from autocodebase.forge.refs import ForgeKind
from autocodebase.programs import which
from autocodebase.redact import FORGE_TOKEN_NAMES

__all__ = ["FORGE_TOKEN_NAMES", "Token", "find_token"]

GITHUB_NAMES = ("GH_TOKEN", "GITHUB_TOKEN")
GITHUB_ENTERPRISE_NAMES = ("GH_ENTERPRISE_TOKEN", "GITHUB_ENTERPRISE_TOKEN")
GITLAB_NAMES = ("GITLAB_TOKEN",)


@dataclass(frozen=True)
class Token:
    value: str
    source: str
    """Where it came from, for messages (`GH_TOKEN`, `gh auth token`): never the value."""

    def __repr__(self) -> str:  # a stray log of the object must not show the value
        return f"Token(source={self.source!r})"


def _gh_token(host: str) -> str | None:
    """`gh auth token` for `host`, when gh is installed and logged in there."""
    program = which("gh")
    if program is None:
        return None
    try:
        done = subprocess.run(
            [program, "auth", "token", "--hostname", host],
            capture_output=True,
            text=True,
            timeout=15,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    token = done.stdout.strip()
    return token if done.returncode == 0 and token else None


def find_token(
    forge: ForgeKind,
    host: str,
    environ: Mapping[str, str] | None = None,
    gh: Callable[[str], str | None] = _gh_token,
) -> Token | None:
    """The token for `host`, or None (a public issue can still be read without one)."""
    env = os.environ if environ is None else environ
    if forge == "gitlab":
        names: tuple[str, ...] = GITLAB_NAMES
    elif host in ("github.com", "api.github.com"):
        names = GITHUB_NAMES
    else:
        names = (*GITHUB_ENTERPRISE_NAMES, *GITHUB_NAMES)
    for name in names:
        if value := env.get(name, "").strip():
            return Token(value, name)
    if forge == "github" and (found := gh(host.split(":")[0])):
        return Token(found, "gh auth token")
    return None
