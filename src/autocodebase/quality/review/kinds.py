"""Which gate a changed file is for, when its name alone does not say."""

from __future__ import annotations

from pathlib import Path


def is_python(root: Path, name: str) -> bool:
    """A Python module or script: `.py`, `.pyw`, or no suffix and a python shebang (an
    executable `bin/deploy` runs like any module, so it is reviewed like one)."""
    if name.endswith((".py", ".pyw")):
        return True
    first = _first_line(root / name)
    return first.startswith(b"#!") and b"python" in first.split(b"/")[-1]


def _first_line(path: Path) -> bytes:
    """The first line of an extensionless file (b"" for anything else)."""
    if path.suffix or not path.is_file():
        return b""
    try:
        with path.open("rb") as handle:
            return handle.readline(200)
    except OSError:
        return b""
