"""Where the command-line programs acb's own dependencies install (ruff's siblings: shellcheck,
check-jsonschema, zizmor, semgrep, hadolint, kubernetes-validate) are found."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def installed(name: str) -> str | None:
    """A console script next to our interpreter (our venv, even when it is not on PATH), else
    one on PATH, else None."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)
