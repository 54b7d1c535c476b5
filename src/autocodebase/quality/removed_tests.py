"""Tests a change removes: what a gate that only compares failing tests cannot see.

A change that deletes a failing test, or every test file, leaves nothing failing: the suite
"passes". So the gate asks, beside what failed, what is gone: test files the change deletes,
and test functions it removes from the files it keeps (by name, per language convention).
Removing tests can be the task (a feature and its tests go); the gate then says so in the
verification instead of calling the change verified.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from autocodebase.context.paths import is_test_path

_TEST_DEFINITIONS = (
    # Python: def test_x / async def test_x, and unittest's methods of the same name.
    re.compile(r"^\s*(?:async\s+)?def\s+(test\w*)\s*\(", re.MULTILINE),
    # JavaScript/TypeScript: it("...") / test("...") (the name is the string).
    re.compile(r"""^\s*(?:it|test)(?:\.only|\.skip)?\s*\(\s*(['"`])(.+?)\1""", re.MULTILINE),
    # Go: func TestX(t *testing.T); Rust: #[test] fn x; Java/Kotlin: @Test void x().
    re.compile(r"^\s*func\s+(Test\w+)\s*\(", re.MULTILINE),
    re.compile(r"#\[test\]\s*(?:async\s+)?fn\s+(\w+)", re.MULTILINE),
    re.compile(r"@Test\s+(?:public\s+)?(?:void|fun)\s+(\w+)", re.MULTILINE),
)


@dataclass(frozen=True)
class RemovedTests:
    files: tuple[str, ...] = ()
    """Test files the change deletes."""
    functions: tuple[str, ...] = ()
    """`path::name` of test functions gone from files the change keeps."""

    def __bool__(self) -> bool:
        return bool(self.files or self.functions)

    def describe(self, limit: int = 5) -> str:
        shown = [*self.files, *self.functions]
        more = f" and {len(shown) - limit} more" if len(shown) > limit else ""
        return ", ".join(shown[:limit]) + more


def defined_tests(text: str) -> set[str]:
    """Names of the tests `text` defines, by the conventions of the common languages."""
    names: set[str] = set()
    for pattern in _TEST_DEFINITIONS:
        for match in pattern.finditer(text):
            names.add(match.group(match.lastindex or 1))
    return names


def removed_tests(
    changed: Iterable[str],
    before: Callable[[str], str | None],
    after: Callable[[str], str | None],
) -> RemovedTests:
    """What `changed` paths lose: `before`/`after` read a path as the run found it and as it
    is now (None: no such file)."""
    files: list[str] = []
    functions: list[str] = []
    for path in sorted(changed):
        old = before(path)
        if old is None:
            continue  # added by the change
        new = after(path)
        gone = defined_tests(old) - defined_tests(new or "")
        if new is None and (gone or is_test_path(path)):
            files.append(path)
        elif gone:
            functions += [f"{path}::{name}" for name in sorted(gone)]
    return RemovedTests(tuple(files), tuple(functions))
