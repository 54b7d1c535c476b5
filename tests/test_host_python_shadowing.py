"""acb runs Python helpers on the host with `python -m` (review tools, the repo-map and parse
workers). `-m` puts the working directory — the user's repository — first on the import path,
so a package of the same name written into the repository (by a patch from the model, or by
the repository's authors) would run on the host instead. Each attempt plants one and checks
that it never runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from autocodebase.context.background import BackgroundMap
from autocodebase.quality.review import static
from tests.conftest import commit_all
from tests.helpers import write_file


def plant(repo: Path, module: str, marker: Path) -> None:
    """A package at `module` (dotted) whose import or `-m` run touches `marker`."""
    parts = module.split(".")
    for depth in range(1, len(parts) + 1):
        write_file(repo.joinpath(*parts[:depth], "__init__.py"), f"open({str(marker)!r}, 'w')\n")
    write_file(repo.joinpath(*parts, "__main__.py"), f"open({str(marker)!r}, 'w')\n")
    write_file(repo.joinpath(*parts[:-1], f"{parts[-1]}.py"), f"open({str(marker)!r}, 'w')\n")


@pytest.mark.parametrize(
    ("module", "gate"),
    [("ruff", static.ruff), ("bandit", static.bandit), ("detect_secrets", static.secrets)],
)
def test_a_review_tool_of_the_same_name_in_the_repository_never_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: str, gate: object
) -> None:
    repo = tmp_path / "repo"
    marker = tmp_path / f"ran-{module}"
    write_file(repo / "app.py", "import os\nos.system('ls')\n")
    plant(repo, module, marker)
    monkeypatch.chdir(repo)
    gate(repo, ["app.py"])  # type: ignore[operator]
    assert not marker.exists()


def test_the_map_worker_of_the_repository_never_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    marker = tmp_path / "ran-map-worker"
    write_file(repo / "shop.py", "def total(items):\n    return sum(items)\n")
    commit_all(repo, "start", init=True)
    plant(repo, "autocodebase.context.map_worker", marker)
    plant(repo, "autocodebase.context.parse_worker", marker)
    monkeypatch.chdir(repo)
    built = BackgroundMap(repo, 300, "total").wait(timeout=120)
    assert not marker.exists()
    assert "shop.py" in built.text, built.error
