"""Where acb finds the programs it runs on the host (bubblewrap, git, ripgrep, and the
command-line tools its own dependencies install: shellcheck, check-jsonschema, zizmor,
semgrep, hadolint, kubernetes-validate).

A program acb runs outside the sandbox must not come from a place a sandboxed command could
have written: a PATH entry inside the workspace (an activated project virtualenv, a
`node_modules/.bin`, a relative `bin`) would let the model plant a `git` or a `bwrap` that acb
then runs on the host. So host lookups skip relative PATH entries and every directory a
sandboxed command has been allowed to write (`distrust`, called by the sandbox before it lends
a directory out), while commands in the sandbox keep the user's PATH as it is.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
from pathlib import Path

_distrusted: set[Path] = set()


def distrust(*roots: Path) -> None:
    """Directories sandboxed commands may write: never a source of programs run on the host."""
    for root in roots:
        _distrusted.add(Path(os.path.realpath(root)))


def trusted(directory: str) -> bool:
    """Whether programs in `directory` may be run on the host."""
    if not Path(directory).is_absolute():
        return False
    real = Path(os.path.realpath(directory))
    return not any(real == root or root in real.parents for root in _distrusted)


def host_path() -> str:
    """The PATH host lookups search: ours, minus relative and distrusted entries."""
    return _host_path(os.environ.get("PATH", os.defpath), frozenset(_distrusted))


@functools.lru_cache(maxsize=16)
def _host_path(path: str, distrusted: frozenset[Path]) -> str:
    # Cached on what it depends on: the sandbox asks before every command.
    del distrusted  # part of the cache key only
    return os.pathsep.join(entry for entry in path.split(os.pathsep) if entry and trusted(entry))


def which(name: str) -> str | None:
    """`shutil.which` over the host PATH."""
    return shutil.which(name, path=host_path())


def installed(name: str) -> str | None:
    """A console script next to our interpreter (our venv, even when it is not on PATH), else
    one on the host PATH, else None. Our interpreter's directory is trusted even inside a
    workspace: the sandbox keeps it read-only there (`sandbox.bwrap`)."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else which(name)
