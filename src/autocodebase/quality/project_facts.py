"""What can be told about a project from its files alone: languages, how to test and lint it,
its layout. `/init` turns this into a starter AGENTS.md for the human to correct."""

from __future__ import annotations

import json
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from autocodebase.quality.detect import detect_all
from autocodebase.vcs.git import worktree_files

LANGUAGES = {
    ".py": "Python",
    ".js": "JavaScript",
    ".ts": "TypeScript",
    ".tsx": "TypeScript",
    ".go": "Go",
    ".rs": "Rust",
    ".java": "Java",
    ".kt": "Kotlin",
    ".rb": "Ruby",
    ".c": "C",
    ".cc": "C++",
    ".cpp": "C++",
    ".cs": "C#",
    ".php": "PHP",
    ".swift": "Swift",
    ".sh": "Shell",
}


@dataclass
class ProjectFacts:
    languages: list[str] = field(default_factory=list)
    test_commands: list[str] = field(default_factory=list)
    lint_commands: list[str] = field(default_factory=list)
    top_level: list[str] = field(default_factory=list)


def _files(root: Path) -> list[str]:
    listed = worktree_files(root)
    if listed is not None:
        return listed
    return [
        str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and ".git" not in p.parts
    ]


def gather(root: Path) -> ProjectFacts:
    files = _files(root)
    facts = ProjectFacts()
    counts = Counter(LANGUAGES[Path(f).suffix] for f in files if Path(f).suffix in LANGUAGES)
    facts.languages = [name for name, _ in counts.most_common(4)]
    facts.top_level = sorted({f.split("/", 1)[0] + ("/" if "/" in f else "") for f in files})[:25]
    # For people, the project's own wrapper (`make test`) comes first; the test loop prefers
    # the direct runner, which can report per test (see quality.detect).
    detected = detect_all(root)
    facts.test_commands = [c.command for c in detected if c.runner == "make"]
    facts.test_commands += [c.command for c in detected if c.runner != "make"]
    facts.lint_commands = lint_commands(root, set(files))
    return facts


def lint_commands(root: Path, names: set[str] | None = None) -> list[str]:
    """The linters the project's files declare; `names` are its files when already listed."""
    names = set(_files(root)) if names is None else names
    tool: dict[str, object] = {}
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        try:
            tool = tomllib.loads(pyproject.read_text()).get("tool", {})
        except tomllib.TOMLDecodeError:
            tool = {}
    found: list[str] = []
    if "ruff" in tool or "ruff.toml" in names:
        found.append("ruff check .")
    if "mypy" in tool or "mypy.ini" in names:
        found.append("mypy")
    if "package.json" in names:
        try:
            scripts = json.loads((root / "package.json").read_text()).get("scripts", {})
        except json.JSONDecodeError:
            scripts = {}
        found += ["npm run lint"] if "lint" in scripts else []
    if "Cargo.toml" in names:
        found.append("cargo clippy")
    if "go.mod" in names:
        found.append("go vet ./...")
    return found


def starter_agents_md(facts: ProjectFacts) -> str:
    def bullets(items: list[str], empty: str) -> str:
        return "\n".join(f"- `{i}`" for i in items) if items else f"- {empty}"

    return f"""# Instructions for coding agents

<!-- Written by `acb /init` from the repository's files; correct and extend it. -->

## Project
- Languages: {", ".join(facts.languages) or "not detected"}
- Top level: {", ".join(facts.top_level) or "(empty)"}

## Before you finish
Run the tests:
{bullets(facts.test_commands, "no test command detected: say how to run the tests here")}
Run the linters:
{bullets(facts.lint_commands, "no linter detected")}

## Conventions
- Keep changes small and in the existing style; add or update tests for behaviour you change.
"""
