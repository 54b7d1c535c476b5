"""Which tests exercise a change: chosen from what the project tells us, before the whole suite.

On a large repository (sympy, Django) the whole suite takes far longer than a run may wait, so
the test gate first runs the tests most likely to exercise the change, in this order:

1. test files the run itself changed, and the tests the model ran (`run_tests` selectors);
2. tests that failed earlier in this run (the ones sent back to the model must pass now);
3. test files named after a changed module (`foo.py` -> `test_foo.py`, `foo_test.py`,
   `tests/foo/...`, `tests/foo_tests/...`), nearest to the module first;
4. test files that import a changed module (`import a.b.foo`, `from a.b import foo`,
   `from a.b.foo import x`, relative imports resolved), nearest first.

Only Python projects run by pytest, unittest or Django's `tests/runtests.py` select by file for
now (Django's runner is handed the files as labels); other runners return no selection, and the
gate runs their whole suite under its time budget. Tests are named as the runner names them:
`file_of` finds the file of a node id, a dotted name or a Django label.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath

MAX_SELECTED_FILES = 20
"""A selection larger than this is no longer a quick check: the rest waits for the widening."""

_IMPORT = re.compile(
    r"^[ \t]*(?:from[ \t]+(\.*[\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[\w.,* \t]+)"
    r"|import[ \t]+([\w., \t]+))",
    re.M,
)


@dataclass(frozen=True)
class Selection:
    """Test files (workspace-relative) to run first, each with why it was chosen."""

    files: tuple[str, ...] = ()
    reasons: dict[str, str] = field(default_factory=dict)
    """file -> why, e.g. "named after sympy/core/basic.py"."""

    def __bool__(self) -> bool:
        return bool(self.files)

    def split(self) -> tuple[Selection, Selection]:
        """(the tests nearest the change: changed, run by the model, failed earlier, named
        after a changed file; the rest: tests that only import it). The gate runs the nearest
        first, so that a slow importer cannot eat the time the direct evidence needs."""
        near = tuple(f for f in self.files if not self.reasons.get(f, "").startswith("imports"))
        rest = tuple(f for f in self.files if f not in near)
        return (
            Selection(near, {f: self.reasons[f] for f in near if f in self.reasons}),
            Selection(rest, {f: self.reasons[f] for f in rest if f in self.reasons}),
        )

    def describe(self, limit: int = 5) -> str:
        shown = ", ".join(self.files[:limit])
        more = f" and {len(self.files) - limit} more" if len(self.files) > limit else ""
        return f"{len(self.files)} test files ({shown}{more})"


def is_test_file(path: str) -> bool:
    """pytest's and unittest's usual names, and pylint's `unittest_*.py`."""
    name = PurePosixPath(path).name
    return path.endswith(".py") and (
        name.startswith(("test", "unittest_")) or name.endswith(("_test.py", "_tests.py"))
    )


def module_name(path: str) -> str:
    """`a/b/foo.py` -> `a.b.foo`; `src/a/b/__init__.py` -> `a.b` (a `src/` layout is dropped)."""
    parts = list(PurePosixPath(path).with_suffix("").parts)
    if parts and parts[0] in ("src", "lib"):
        parts = parts[1:]
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def file_of(selector: str, known: Collection[str]) -> str | None:
    """The project file a test selector or result name lives in: a path or node id
    (`tests/test_core.py::test_x`), a dotted name (`tests.test_core::test_x`,
    `tests.test_core.T.test_x`), or a Django label relative to `tests/`
    (`utils_tests.test_text.TestUtilsText.test_slugify` -> `tests/utils_tests/test_text.py`)."""
    head = re.sub(r"\[.*\]$", "", selector.split("::")[0])
    if head in known:
        return head
    if "/" in head or head.endswith(".py"):
        return None
    parts = head.split(".")
    for end in range(len(parts), 0, -1):
        stem = "/".join(parts[:end])
        for candidate in (f"{stem}.py", f"tests/{stem}.py"):
            if candidate in known:
                return candidate
    return None


def _imported_modules(text: str, own_module: str) -> set[str]:
    """Dotted names a test file imports, each also as its parent packages' `x.y` + name."""
    found: set[str] = set()
    package = own_module.rsplit(".", 1)[0] if "." in own_module else ""
    for source, names, plain in _IMPORT.findall(text):
        if plain:
            found.update(n.strip().split(" as ")[0] for n in plain.split(",") if n.strip())
            continue
        base = source
        if source.startswith("."):
            dots = len(source) - len(source.lstrip("."))
            anchor = package.split(".") if package else []
            anchor = anchor[: len(anchor) - (dots - 1)] if dots > 1 else anchor
            rest = source.lstrip(".")
            base = ".".join([*anchor, *([rest] if rest else [])])
        found.add(base)
        for name in names.replace("(", " ").replace(")", " ").split(","):
            word = name.strip().split(" as ")[0].strip()
            if word and word != "*":
                found.add(f"{base}.{word}")
    return found


def _distance(a: str, b: str) -> int:
    """How far apart two paths are in the tree (shared leading directories count down)."""
    left, right = PurePosixPath(a).parts[:-1], PurePosixPath(b).parts[:-1]
    shared = 0
    for x, y in zip(left, right, strict=False):
        if x != y:
            break
        shared += 1
    return len(left) + len(right) - 2 * shared


def _named_after(source: str, tests: Sequence[str]) -> list[str]:
    stem = PurePosixPath(source).stem
    if stem == "__init__":
        stem = PurePosixPath(source).parent.name
    wanted = {f"test_{stem}.py", f"{stem}_test.py", f"tests_{stem}.py"}
    found = [t for t in tests if PurePosixPath(t).name in wanted]
    found += [t for t in tests if _in_test_dir_of(stem, t) and t not in found]
    return sorted(found, key=lambda t: (_distance(source, t), t))


_TEST_ROOTS = ("tests", "test", "testing")


def _in_test_dir_of(stem: str, test: str) -> bool:
    """Whether `test` sits in a directory named after `stem` right under a tests root:
    `tests/foo/...` or Django's `tests/foo_tests/...` (`django/core/cache/` ->
    `tests/cache/tests.py`), not any folder of that name (`tests/db_functions/text/` is not
    about `django/utils/text.py`)."""
    parts = PurePosixPath(test).parts[:-1]
    return any(
        part in (stem, f"{stem}_tests") and index and parts[index - 1] in _TEST_ROOTS
        for index, part in enumerate(parts)
    )


def select_tests(
    files: Sequence[str],
    changed: Iterable[str],
    read: Callable[[str], str],
    asked: Iterable[str] = (),
    failed_before: Iterable[str] = (),
) -> Selection:
    """The tests to run first for a change to `changed` (workspace-relative paths), given the
    project's `files` and a `read(path) -> text` for test files."""
    tests = [f for f in files if is_test_file(f)]
    test_set = set(tests)
    chosen: dict[str, str] = {}

    known = set(files)

    def take(path: str, why: str, any_name: bool = False) -> None:
        # The model's own choice counts whatever the file is called: projects name tests
        # their own way (pylint's `unittest_*.py`, Django's `tests.py`).
        if path not in chosen and (path in test_set or (any_name and path in known)):
            chosen[path] = why

    python = [c for c in changed if c.endswith(".py")]
    for path in python:
        if is_test_file(path):
            take(path, "changed by the run")
    for selector in [*asked, *failed_before]:
        found = file_of(selector, known)
        if found:
            why = "run by the model" if selector in asked else "failed earlier"
            take(found, why, any_name=True)
    sources = [c for c in python if not is_test_file(c)]
    for source in sources:
        for test in _named_after(source, tests):
            take(test, f"named after {source}")
    if sources:
        modules = {module_name(s): s for s in sources}
        importers: list[tuple[int, str, str]] = []
        for test in tests:
            if test in chosen:
                continue
            text = read(test)
            if not text:
                continue
            imported = _imported_modules(text, module_name(test))
            for module, source in modules.items():
                if module and module in imported:
                    importers.append((_distance(source, test), test, source))
                    break
        for _, test, source in sorted(importers):
            take(test, f"imports {source}")
    ordered = list(chosen)[:MAX_SELECTED_FILES]
    return Selection(tuple(ordered), {path: chosen[path] for path in ordered})
