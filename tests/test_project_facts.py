"""What /init can tell about a project from its files."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from autocodebase.quality.project_facts import gather, starter_agents_md
from tests.helpers import write_file


def test_node_and_rust_and_make(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    write_file(
        tmp_path / "package.json", json.dumps({"scripts": {"test": "vitest", "lint": "eslint ."}})
    )
    write_file(tmp_path / "src/app.ts", "export {}\n")
    write_file(tmp_path / "core/Cargo.toml", "[package]\n")
    write_file(tmp_path / "Cargo.toml", "[workspace]\n")
    write_file(tmp_path / "Makefile", "test:\n\tcargo test\n")
    facts = gather(tmp_path)
    assert facts.languages == ["TypeScript"]
    assert facts.test_commands == ["make test", "npm test", "cargo test"]
    assert facts.lint_commands == ["npm run lint", "cargo clippy"]
    assert "src/" in facts.top_level
    text = starter_agents_md(facts)
    assert "- `make test`" in text and "TypeScript" in text


def test_nothing_detected_says_so(tmp_path: Path) -> None:
    text = starter_agents_md(gather(tmp_path))
    assert "no test command detected" in text and "not detected" in text
