"""What a path is, by convention (cheap: no heavy imports, used by ranking and review)."""

from __future__ import annotations

_TEST_DIRS = frozenset({"test", "tests", "testing", "__tests__", "spec", "specs"})


def is_test_path(path: str) -> bool:
    """Tests and their fixtures, by the conventions of the common ecosystems."""
    parts = path.split("/")
    name = parts[-1]
    stem = name.split(".", 1)[0]
    return (
        any(part in _TEST_DIRS for part in parts[:-1])
        or stem.startswith("test_")
        or stem.endswith(("_test", "_tests"))
        or name == "conftest.py"
        or ".test." in name
        or ".spec." in name
    )
