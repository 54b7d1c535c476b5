"""The prompt `acb tests` sends for one module: the module with its uncovered lines marked
(CoverUp's feedback), how tests import it, the project's own test idioms and fixtures, the
mutants the suite misses, and what the record of earlier generations teaches."""

from __future__ import annotations

import ast
import configparser
import contextlib
import os
import re
import tomllib
from pathlib import Path, PurePosixPath
from typing import Any

from autocodebase.quality.coverage import Coverage
from autocodebase.quality.mutation import Mutant

CANDIDATE_NAME = "test_acb_candidate.py"
"""Where a candidate is run from: never shown to the model as one of the project's tests."""


def build_prompt(
    workspace: Path, target: str, coverage: Coverage, survivors: list[Mutant], guidance: str
) -> str:
    """The module with its uncovered lines marked (CoverUp's feedback), plus what to avoid."""
    lines = (workspace / target).read_text().splitlines()
    segments = coverage.uncovered_segments(target)
    missing = {n for a, b in segments for n in range(a, b + 1)}
    numbered = "\n".join(
        f"{n:>4}{'!' if n in missing else ' '} {text}" for n, text in enumerate(lines, start=1)
    )
    module = import_path(workspace, target)
    parts = [
        f"Module `{module}` ({target}); tests import it as `import {module}` or "
        f"`from {module} import ...`. Lines marked `!` are not executed by the current tests:",
        f"```python\n{numbered}\n```",
        "Uncovered: "
        + (", ".join(f"{a}-{b}" if a != b else f"{a}" for a, b in segments) or "none"),
    ]
    example = existing_test_example(workspace, target)
    if example is not None:
        path, excerpt = example
        parts.append(
            f"An existing test file of the project ({path}), to follow its idioms (imports, "
            f"fixtures, style):\n```python\n{excerpt}\n```"
        )
    fixtures = conftest_fixtures(workspace)
    if fixtures:
        parts.append("Fixtures the project's conftest.py files define: " + ", ".join(fixtures))
    if survivors:
        shown = "; ".join(f"{m.path}:{m.line} {m.description}" for m in survivors[:10])
        parts.append(
            f"The suite does not notice these changes to the code (surviving mutants): {shown}"
        )
    if guidance:
        parts.append(guidance)
    parts.append("Write tests that execute the marked lines and check their results.")
    return "\n\n".join(parts)


def import_path(workspace: Path, target: str) -> str:
    """The dotted name tests import `target` by. In a src layout (`src/pkg/mod.py`) that is
    `pkg.mod`, not `src.pkg.mod`: a test importing the latter gets a second copy of the
    package, or none. The roots come from the project's configuration (setuptools, hatch,
    poetry, pdm, maturin, pytest's `pythonpath`), else a `src/` directory that is not itself a
    package; anything else is imported from the project's root, as `python -m pytest` does."""
    path = PurePosixPath(target).with_suffix("")
    for directory, package in _source_roots(workspace):
        try:
            rest = path.relative_to(directory) if directory not in ("", ".") else path
        except ValueError:
            continue
        parts = [*filter(None, package.split(".")), *rest.parts]
        if parts and parts[-1] == "__init__":
            parts.pop()
        if parts:
            return ".".join(parts)
    parts = list(path.parts)
    if parts and parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _source_roots(workspace: Path) -> list[tuple[str, str]]:
    """(directory, package it holds: '' for a root of top-level packages) pairs, most
    specific first."""
    found: list[tuple[str, str]] = []
    try:
        config = tomllib.loads((workspace / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        config = {}
    tool = config.get("tool", {}) if isinstance(config.get("tool"), dict) else {}

    def section(*keys: str) -> Any:
        value: Any = tool
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        return value

    def strings(value: Any) -> list[str]:
        if isinstance(value, str):
            return [value]
        return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []

    package_dir = section("setuptools", "package-dir")
    if isinstance(package_dir, dict):
        found += [(str(d), str(p)) for p, d in package_dir.items() if isinstance(d, str)]
    found += [(d, "") for d in strings(section("setuptools", "packages", "find", "where"))]
    for package in strings(section("hatch", "build", "targets", "wheel", "packages")):
        parent = PurePosixPath(package).parent.as_posix()
        found.append((parent, ""))
    sources = section("hatch", "build", "targets", "wheel", "sources")
    found += [(d, "") for d in strings(sources)]
    if isinstance(sources, dict):
        found += [(str(d), str(p).replace("/", ".")) for d, p in sources.items()]
    poetry = section("poetry", "packages")
    if isinstance(poetry, list):
        found += [(p["from"], "") for p in poetry if isinstance(p, dict) and "from" in p]
    found += [(d, "") for d in strings(section("pdm", "build", "package-dir"))]
    found += [(d, "") for d in strings(section("maturin", "python-source"))]
    found += [(d, "") for d in strings(section("pytest", "ini_options", "pythonpath"))]
    setup_cfg = configparser.ConfigParser()
    with contextlib.suppress(configparser.Error, UnicodeDecodeError):
        setup_cfg.read(workspace / "setup.cfg", encoding="utf-8")
    for line in setup_cfg.get("options", "package_dir", fallback="").splitlines():
        package, _, directory = line.partition("=")
        if directory.strip():
            found.append((directory.strip(), package.strip()))
    where = setup_cfg.get("options.packages.find", "where", fallback="").strip()
    if where:
        found.append((where, ""))
    if (workspace / "src").is_dir() and not (workspace / "src/__init__.py").exists():
        found.append(("src", ""))
    cleaned = {
        (PurePosixPath(d.strip()).as_posix().strip("/") or ".", p.strip())
        for d, p in found
        if d.strip() and not PurePosixPath(d.strip()).is_absolute()
    }
    return sorted(cleaned, key=lambda root: (-len(PurePosixPath(root[0]).parts), root))


EXAMPLE_LINES = 40
EXAMPLE_CHARS = 1_600
"""A short excerpt of one existing test file: enough to show imports, a fixture and a test."""
_SKIPPED_DIRS = {"node_modules", "site-packages", "venv", "build", "dist", "__pycache__"}


def existing_test_files(workspace: Path) -> list[str]:
    """The project's test files, not acb's own generated or candidate ones; hidden and
    virtualenv directories are not searched."""
    found: list[str] = []
    for directory, subdirectories, names in os.walk(workspace):
        subdirectories[:] = sorted(
            d for d in subdirectories if not d.startswith(".") and d not in _SKIPPED_DIRS
        )
        for name in sorted(names):
            if not (
                (name.startswith("test_") or name.endswith("_test.py")) and name.endswith(".py")
            ):
                continue
            if name == CANDIDATE_NAME or name.endswith("_generated.py"):
                continue
            found.append((Path(directory) / name).relative_to(workspace).as_posix())
    return found


def existing_test_example(workspace: Path, target: str) -> tuple[str, str] | None:
    """(path, excerpt) of the existing test file most like the ones wanted: one that imports
    the target, else one named after it, else the first; None when the project has none."""
    files = existing_test_files(workspace)
    if not files:
        return None
    module = import_path(workspace, target)
    stem = PurePosixPath(target).stem

    def rank(path: str) -> tuple[int, int, str]:
        text = _read(workspace / path, HEAD_CHARS)
        imports = re.search(rf"^\s*(?:from|import)\s+{re.escape(module)}\b", text, re.M)
        named = stem in PurePosixPath(path).stem
        return (0 if imports else 1, 0 if named else 1, path)

    chosen = min(files, key=rank)
    lines = _read(workspace / chosen).splitlines()
    excerpt: list[str] = []
    size = 0
    for line in lines[:EXAMPLE_LINES]:
        size += len(line) + 1
        if size > EXAMPLE_CHARS:
            break
        excerpt.append(line)
    if len(excerpt) < len(lines):
        while excerpt and excerpt[-1].strip():  # end at a blank line, not mid-function
            excerpt.pop()
        while excerpt and not excerpt[-1].strip():
            excerpt.pop()
        excerpt += ["", "# ..."]
    text = "\n".join(excerpt).strip()
    return (chosen, text) if text and text != "# ..." else None


def conftest_fixtures(workspace: Path) -> list[str]:
    """Names of the fixtures the project's conftest.py files define, so the model may use
    them (and only them, with pytest's own)."""
    names: list[str] = []
    for directory, subdirectories, files in os.walk(workspace):
        subdirectories[:] = sorted(
            d for d in subdirectories if not d.startswith(".") and d not in _SKIPPED_DIRS
        )
        if "conftest.py" not in files:
            continue
        try:
            tree = ast.parse(_read(Path(directory) / "conftest.py"))
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and any(
                "fixture" in ast.unparse(d) for d in node.decorator_list
            ):
                names.append(node.name)
    return sorted(set(names))[:30]


HEAD_CHARS = 5_000
"""Where a test file's imports are: enough to rank hundreds of test files without reading
them whole."""


def _read(path: Path, limit: int = 100_000) -> str:
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            return handle.read(limit)
    except OSError:
        return ""
