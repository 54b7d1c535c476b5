"""A small repository's map is the whole repository in a cheap order (context/small_map.py):
no ranker, so none of its imports, and the budget still holds."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from autocodebase.context.engine import ContextEngine
from autocodebase.context.small_map import SMALL_REPOSITORY_FILES, whole_map
from autocodebase.context.symbols import Definition
from autocodebase.context.tokens import count_tokens
from tests.helpers import SHOP_FILES, write_files


def _shop(root: Path) -> Path:
    return write_files(root, SHOP_FILES)


def _definitions(engine: ContextEngine) -> dict[str, int]:
    """How many definitions each indexed file has."""
    paths = engine.index.paths().values()
    return {path: len(engine.index.definitions_of(path)) for path in paths}


def test_a_small_repository_is_mapped_whole_with_what_the_task_names_first(
    tmp_path: Path,
) -> None:
    repo = _shop(tmp_path / "shop")
    with ContextEngine(repo, tmp_path / "index.db") as engine:
        engine.refresh()
        counts = _definitions(engine)
        defining = [path for path, count in counts.items() if count]
        every = sum(counts.values())
        built = engine.repo_map(budget=1024, query="the tax on an invoice")
        assert built.definitions == every and sorted(built.files) == sorted(defining)
        assert built.files[0] == "shop/billing.py"
        named = engine.repo_map(budget=1024, query="a bug in shop/report.py")
        assert named.files[0] == "shop/report.py"
        assert count_tokens(built.text) <= 1024


def test_the_whole_map_needs_neither_the_ranker_nor_the_tokenizer(tmp_path: Path) -> None:
    repo = _shop(tmp_path / "shop")
    script = f"""
        import json, sys
        from pathlib import Path
        from autocodebase.context.engine import ContextEngine
        with ContextEngine(Path({str(repo)!r}), Path({str(tmp_path / "i.db")!r})) as engine:
            text = engine.repo_map(budget=1024, query="invoice").text
        heavy = [m for m in ("numpy", "bm25s", "tiktoken") if m in sys.modules]
        print(json.dumps([text.startswith("shop/billing.py:"), heavy]))
    """
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert json.loads(done.stdout) == [True, []]


def test_a_map_that_does_not_fit_goes_to_the_ranker_and_keeps_its_budget(
    tmp_path: Path,
) -> None:
    repo = _shop(tmp_path / "shop")
    with ContextEngine(repo, tmp_path / "index.db") as engine:
        engine.refresh()
        every = sum(_definitions(engine).values())
        assert (
            whole_map(
                engine.index.paths().values(),
                engine.index.definitions_of,
                engine.index.references_in,
                lambda _: {},
                budget=40,
            )
            is None
        )
        cut = engine.repo_map(budget=40, query="invoice tax")
        assert 0 < cut.definitions < every and count_tokens(cut.text) <= 40


def test_a_repository_past_the_small_size_is_never_mapped_whole() -> None:
    paths = [f"pkg/m{i}.py" for i in range(SMALL_REPOSITORY_FILES + 1)]
    one = [Definition("f", "function", 1, 1, "def f():")]
    nothing: dict[str, float] = {}
    assert whole_map(paths, lambda _: one, lambda _: {}, lambda _: nothing, 10**6) is None
    assert whole_map(paths[:-1], lambda _: one, lambda _: {}, lambda _: nothing, 10**6)


def test_a_file_is_named_by_its_path_name_or_module_not_inside_a_longer_word() -> None:
    from autocodebase.context.small_map import _named_in

    assert _named_in("a bug in shop/report.py", "shop/report.py")
    assert _named_in("report.py crashes.", "shop/report.py")
    assert _named_in("see shop.report for the totals", "shop/report.py")
    assert not _named_in("audio.py crashes", "io.py")
    assert not _named_in("the report is wrong", "shop/report.py")
