"""Lexical retrieval: what a file's document holds (path, definitions and all of its content,
string literals included) and BM25 computed exactly as the `bm25s` library does."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from autocodebase.context.engine import ContextEngine
from autocodebase.context.lexical import Bm25, file_terms, term_counts, text_terms
from tests.helpers import write_files

FILES = {
    "shop/__init__.py": "",
    "shop/pricing.py": (
        "def convert(amount, currency):\n"
        '    """Convert an amount between currencies."""\n'
        "    if currency not in RATES:\n"
        '        raise ValueError("unsupported currency code for the exchange table")\n'
        "    return amount * RATES[currency]\n\n\n"
        "RATES = {'EUR': 1.0}\n"
    ),
    "shop/orders.py": (
        "from shop.pricing import convert\n\n\n"
        "class Order:\n"
        '    """An order of items, priced in one currency."""\n\n'
        "    def total(self, currency):\n"
        "        return sum(convert(item.price, currency) for item in self.items)\n"
    ),
    "shop/shipping.py": (
        "class Parcel:\n"
        '    """A parcel: its weight decides the carrier."""\n\n'
        "    def carrier(self):\n"
        "        if self.weight > 30:\n"
        '            raise RuntimeError("too heavy for any carrier")\n'
        '        return "post"\n'
    ),
}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return write_files(tmp_path / "repo", FILES)


def test_the_document_holds_string_literals_and_the_whole_content() -> None:
    content = FILES["shop/pricing.py"]
    counts = term_counts(file_terms("shop/pricing.py", ["convert"], content))
    # The error message's words: not a name, not a comment, only a string literal.
    assert {"unsupported", "exchange", "table"} <= set(counts)
    # The path three times, the definition twice more than its use in the content, and every
    # other word as often as the content has it.
    assert counts["pricing"] == 3
    assert counts["convert"] == 2 + text_terms(content).count("convert")
    assert counts["rates"] == text_terms(content).count("rates") == 3
    assert sum(counts.values()) == 3 * 2 + 2 + len(text_terms(content))


def test_an_error_message_quoted_in_a_task_finds_the_file_that_raises_it(repo: Path) -> None:
    task = 'Checkout fails with "unsupported currency code for the exchange table" for GBP'
    with ContextEngine(repo) as engine:
        assert engine.rank(task, method="bm25").files[0][0] == "shop/pricing.py"
        # What the model sees: the map of that task lists the raising file first.
        assert engine.repo_map(query=task).files[0] == "shop/pricing.py"
        other = 'Shipping says "too heavy for any carrier" for a 2 kg box'
        assert engine.repo_map(query=other).files[0] == "shop/shipping.py"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_scores_are_bm25s_scores(seed: int) -> None:
    import bm25s  # a dev dependency: the reference these scores must equal

    rng = random.Random(seed)
    vocabulary = [f"w{i}" for i in range(40)]
    documents = [rng.choices(vocabulary, k=rng.randint(0, 30)) for _ in range(25)]
    query = "w1 w2 w2 w3 w39 nowhere"
    reference = bm25s.BM25()
    reference.index([text_terms(" ".join(d)) or ["\0"] for d in documents], show_progress=False)
    known = [t for t in text_terms(query) if t in reference.vocab_dict]
    expected = reference.get_scores(known)
    stored = [file_terms("", [], " ".join(words)) for words in documents]
    assert any(":" in doc for doc in stored)  # repeated words are stored once, counted
    got = Bm25(stored).scores(query)
    assert got.any()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_a_word_the_task_repeats_weighs_more() -> None:
    index = Bm25(["apple pear", "apple plum", "pear plum"])
    once, twice = index.scores("apple pear"), index.scores("apple pear pear")
    assert once[0] > 0 and once[1] > 0 and once[2] > 0
    assert twice[2] / twice[1] > once[2] / once[1]  # the pear file gained on the apple one
    assert not Bm25([]).scores("apple").any()
    assert not index.scores("nothing known").any()
