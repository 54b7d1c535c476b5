"""The symbol index (incremental, parallel), the ranking and the repo map, on a small repository
written here so every expectation can be checked by reading it."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import numpy as np
import pytest

from autocodebase.context import engine as engine_module
from autocodebase.context import index as index_module
from autocodebase.context.engine import ContextEngine
from autocodebase.context.index import SymbolIndex
from autocodebase.context.paths import is_test_path
from autocodebase.context.ranking import Tuning, _pagerank
from autocodebase.context.tokens import count_tokens
from tests.helpers import SHOP_FILES as FILES
from tests.helpers import write_file, write_files


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return write_files(tmp_path / "repo", FILES)


def rows(location: Path) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    db = sqlite3.connect(location)
    defs = db.execute(
        "SELECT f.path, d.name, d.kind, d.line, d.signature FROM defs d JOIN files f "
        "ON f.id = d.file_id ORDER BY 1, 4, 2"
    ).fetchall()
    refs = db.execute(
        "SELECT f.path, r.name, r.count, r.lines FROM refs r JOIN files f "
        "ON f.id = r.file_id ORDER BY 1, 2"
    ).fetchall()
    db.close()
    return defs, refs


def test_index_is_incremental(repo: Path) -> None:
    with SymbolIndex(repo) as index:
        cold = index.refresh()
        assert (cold.files, cold.parsed, cold.removed) == (5, 5, 0), "docs/notes.md is not code"
        warm = index.refresh()
        assert (warm.parsed, warm.rehashed, warm.removed) == (0, 0, 0)
        assert index.references_in("shop/views.py")["save_user"] == [1, 6]

        touched = repo / "shop/utils.py"
        os.utime(touched, ns=(touched.stat().st_mtime_ns + 10**9,) * 2)
        same_bytes = index.refresh()
        assert (same_bytes.parsed, same_bytes.rehashed) == (0, 1), "a new mtime costs a hash only"
        assert index.refresh().rehashed == 0, "and the new mtime was remembered"

        write_file(
            touched, "def slugify(text, sep='-'):\n    return text\n\n\ndef unslug(t):\n    pass\n"
        )
        changed = index.refresh()
        assert (changed.parsed, changed.rehashed) == (1, 0)
        assert [d.name for d in index.definitions_of("shop/utils.py")] == ["slugify", "unslug"]

        (repo / "shop/report.py").unlink()
        gone = index.refresh()
        assert (gone.files, gone.removed, gone.parsed) == (4, 1, 0)
        assert index.definitions_of("shop/report.py") == []
        assert "shop/report.py" not in index.paths().values()


def test_parallel_build_stores_exactly_what_a_serial_build_stores(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with SymbolIndex(repo, tmp_path / "serial.db") as serial:
        assert serial.refresh(workers=1).workers == 1
    monkeypatch.setattr(index_module, "PARALLEL_THRESHOLD", 1)
    with SymbolIndex(repo, tmp_path / "parallel.db") as parallel:
        assert parallel.refresh(workers=2).workers == 2
    assert rows(tmp_path / "serial.db") == rows(tmp_path / "parallel.db")
    defs, refs = rows(tmp_path / "serial.db")
    assert ("shop/models.py", "save_user", "function", 9, "def save_user(user):") in defs
    assert ("shop/views.py", "save_user", 2, "1,6") in refs


def test_a_changed_extractor_rebuilds_the_index(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with SymbolIndex(repo) as index:
        index.refresh()
    monkeypatch.setattr(index_module, "EXTRACTOR_VERSION", "test-next")
    with SymbolIndex(repo) as index:
        assert index.refresh().parsed == 5


def test_the_index_never_shows_up_in_git_status(repo: Path) -> None:
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "shop"], cwd=repo, check=True)
    with ContextEngine(repo) as engine:
        assert engine.refresh().files == 5
    assert (repo / ".acb/index/symbols.db").is_file()
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    assert status.stdout == ""


@pytest.mark.parametrize(
    ("query", "expected_first"),
    [
        ("Invoice tax is wrong on discounted totals", "shop/billing.py"),
        ("save_user() should not raise for guests", "shop/models.py"),
        ("crash in shop.report when the title is empty", "shop/report.py"),
        ("signup fails: see shop/views.py", "shop/views.py"),
    ],
)
def test_the_file_a_task_is_about_ranks_first(repo: Path, query: str, expected_first: str) -> None:
    with ContextEngine(repo) as engine:
        ranking = engine.rank(query)
    assert ranking.files[0][0] == expected_first
    assert len(ranking.files) == 5


def test_the_graph_ranks_what_is_leaned_on_and_follows_the_focus(repo: Path) -> None:
    with ContextEngine(repo) as engine:
        central = [p for p, _ in engine.rank("", method="graph").files]
        assert central[0] == "shop/utils.py", "slugify is used by three files"
        focused = [p for p, _ in engine.rank("", focus=["shop/views.py"], method="graph").files]
        assert focused.index("shop/models.py") < focused.index("shop/billing.py")
        weights = engine.rank("").definition_weight
    assert weights[("shop/utils.py", "slugify")] > weights[("shop/models.py", "User")] > 0


def test_pagerank_agrees_with_the_closed_form() -> None:
    # Two files pointing at each other: each holds half the rank.
    src, dst, weight = np.array([0, 1]), np.array([1, 0]), np.array([1.0, 1.0])
    rank = _pagerank(2, src, dst, weight, np.zeros(2))
    assert rank == pytest.approx([0.5, 0.5])
    # A star into node 0 from two dangling-free leaves that point back with uniform restart:
    # r0 = 0.15/3 + 0.85 (r1 + r2), r1 = r2 = 0.15/3 + 0.85 r0 / 2.
    src, dst, weight = np.array([1, 2, 0, 0]), np.array([0, 0, 1, 2]), np.ones(4)
    rank = _pagerank(3, src, dst, weight, np.zeros(3))
    r0 = (0.05 + 0.85 * 2 * 0.05) / (1 - 0.85 * 0.85)
    assert rank[0] == pytest.approx(r0, rel=1e-6)
    assert rank.sum() == pytest.approx(1.0)
    # Personalisation pulls rank toward the chosen node.
    pulled = _pagerank(3, src, dst, weight, np.array([0.0, 1.0, 0.0]))
    assert pulled[1] > pulled[2]


def test_the_map_fits_its_budget_and_points_at_real_lines(repo: Path) -> None:
    with ContextEngine(repo) as engine:
        small = engine.repo_map(budget=40, query="invoice totals")
        large = engine.repo_map(budget=2000, query="invoice totals")
    assert 0 < small.tokens <= 40
    assert small.tokens == count_tokens(small.text)
    assert small.files[0] == "shop/billing.py"
    assert large.definitions > small.definitions
    assert large.definitions == 9, "every definition fits in a generous budget"
    current = None
    for line in large.text.splitlines():
        if line.endswith(":") and "│" not in line:
            current = line[:-1]
        elif "│" in line:
            number, signature = line.split("│", 1)
            source = (repo / str(current)).read_text().splitlines()
            assert source[int(number) - 1] == signature.split(" ", 1)[0] + (
                " " + signature.split(" ", 1)[1] if " " in signature else ""
            ) or signature.startswith(source[int(number) - 1].rstrip())
    assert "shop/billing.py:\n 5│class Invoice:\n 8│    def total(self):" in large.text


def test_an_empty_repository_maps_to_nothing(tmp_path: Path) -> None:
    with ContextEngine(tmp_path) as engine:
        empty = engine.repo_map(budget=100, query="anything")
    assert (empty.text, empty.files, empty.definitions) == ("", [], 0)


@pytest.mark.parametrize(
    ("path", "is_test"),
    [
        ("tests/test_app.py", True),
        ("src/pkg/tests/helpers.py", True),
        ("tests/roots/test-linkcheck/conf.py", True),
        ("pkg/conftest.py", True),
        ("server_test.go", True),
        ("web/app.test.ts", True),
        ("web/__tests__/view.js", True),
        ("src/flask/testing.py", False),
        ("src/contest.py", False),
        ("src/latest_version.py", False),
    ],
)
def test_test_files_are_told_apart(path: str, is_test: bool) -> None:
    assert is_test_path(path) is is_test


def test_tuning_demotes_tests_and_lifts_named_files(repo: Path) -> None:
    write_file(
        repo / "tests/test_invoice.py",
        "from shop.billing import Invoice\n\n\ndef test_invoice_total_tax():\n"
        "    # invoice total tax invoice total tax\n    assert Invoice().total() == 0\n",
    )
    with ContextEngine(repo) as engine:
        query = "invoice total tax"
        plain = [p for p, _ in engine.rank(query, tuning=Tuning(test_weight=1.0)).files]
        demoted = [p for p, _ in engine.rank(query, tuning=Tuning(test_weight=0.1)).files]
        assert plain.index("tests/test_invoice.py") < demoted.index("tests/test_invoice.py")
        assert demoted[0] == "shop/billing.py"
        named_query = "slugify is slow; see shop/report.py"
        unboosted = [p for p, _ in engine.rank(named_query, tuning=Tuning(mention_boost=0)).files]
        boosted = [p for p, _ in engine.rank(named_query, tuning=Tuning(mention_boost=5)).files]
    assert boosted[0] == "shop/report.py"
    assert boosted.index("shop/report.py") <= unboosted.index("shop/report.py")


def _fresh_map(repo: Path, query: str = "") -> str:
    """The map as a new run sees it: a new engine (and process state) on the same index."""
    with ContextEngine(repo) as engine:
        engine.refresh()
        return engine.repo_map(budget=2000, query=query).text


def test_a_warm_map_is_recalled_without_ranking(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _fresh_map(repo, "invoice totals")
    monkeypatch.setattr(engine_module, "Ranker", None)  # ranking now would fail
    assert _fresh_map(repo, "invoice totals") == first


def test_a_remembered_map_follows_every_change_to_the_files(repo: Path) -> None:
    """The memo is only as fresh as the index: a change, an addition and a deletion each
    move the index to a new generation, and the map with it. (What the index relies on:
    a file whose size and mtime are both unchanged has not changed, as git does.)"""
    assert "def slugify(text):" in _fresh_map(repo)
    assert "def slugify(text):" in _fresh_map(repo), "recalled"
    write_file(repo / "shop/utils.py", "def slugify(text, sep):\n    return text\n")
    changed = _fresh_map(repo)
    assert "def slugify(text, sep):" in changed and "def slugify(text):" not in changed
    write_file(repo / "shop/coupons.py", "from shop.utils import slugify\n\n\ndef coupon():\n")
    assert "shop/coupons.py:" in _fresh_map(repo)
    (repo / "shop/coupons.py").unlink()
    assert "shop/coupons.py:" not in _fresh_map(repo)


def test_a_memo_from_an_older_generation_is_never_recalled(repo: Path) -> None:
    with SymbolIndex(repo) as index:
        index.refresh()
        before = index.generation()
        index.remember("k", before, "old")
        assert index.recall("k", before) == "old"
        write_file(repo / "shop/utils.py", "def slugify(text, sep):\n    return text\n")
        index.refresh()
        assert index.generation() != before
        assert index.recall("k", index.generation()) is None
        index.remember("k", before, "computed before the change")
        assert index.recall("k", index.generation()) is None, "a stale value is not stored"
