"""Lexical retrieval: BM25 (the `bm25s` library) over what a file is about in words — its path,
the names it defines and uses, its comments and docstrings.

Identifiers are split the way people write about them (`parse_header_line` and `ParseHeader`
both yield `parse`, `header`), and kept whole too, so that a task quoting the exact name
still scores the file that defines it highest.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
STOPWORDS = frozenset(
    """
    a an and are as at be but by can could did do does doing for from had has have how if in
    into is it its may might me my no not of on or our should so some such than that the
    their them then there these they this those to too use used using very was we were what
    when where which while who why will with would you your self cls none true false return
    def class import i get set also just one two new like want need make made only e g eg ie
    """.split()  # noqa: SIM905 - a word list reads as text, not as 100 quoted lines
)
MAX_DOC_TERMS = 400


def identifier_words(name: str) -> list[str]:
    """`parseHTTPHeader_v2` → parsehttpheader_v2, parse, http, header, v2 (lower case)."""
    return list(_words(name))


@lru_cache(maxsize=1 << 16)
def _words(name: str) -> tuple[str, ...]:
    """`identifier_words`, memoised: a repository repeats the same names in every file, and
    splitting them was a third of the Python time of a cold index build."""
    lowered = name.lower()
    parts = [p.lower() for chunk in name.split("_") for p in _CAMEL.findall(chunk)]
    if len(parts) <= 1:
        return (lowered,) if len(lowered) > 1 else ()
    return (lowered, *(p for p in parts if len(p) > 1))


@lru_cache(maxsize=1 << 16)
def _kept_words(name: str) -> tuple[str, ...]:
    """The words of `name` that are not stop words (what a document keeps of it)."""
    return tuple(t for t in _words(name) if t not in STOPWORDS)


def text_terms(text: str, limit: int | None = None) -> list[str]:
    """Terms of free text (a task, a comment): identifiers split, stop words dropped."""
    terms: list[str] = []
    for word in _WORD.findall(text):
        terms.extend(_kept_words(word))
        if limit is not None and len(terms) >= limit:
            break
    return terms


def path_terms(path: str) -> list[str]:
    stem = path.rsplit(".", 1)[0] if "." in path.rsplit("/", 1)[-1] else path
    return text_terms(stem.replace("/", " ").replace("-", " ").replace(".", " "))


def file_terms(path: str, defined: Iterable[str], referenced: Iterable[str], doc: str) -> str:
    """The file as one space-separated bag of terms (stored in the index, so that a warm run
    does not re-tokenise). The path counts three times and definitions twice: they say what
    the file *is*; references and comments say what it talks about."""
    terms = path_terms(path) * 3
    for name in defined:
        terms.extend(_kept_words(name) * 2)
    for name in referenced:
        terms.extend(_kept_words(name))
    terms.extend(text_terms(doc, MAX_DOC_TERMS))
    return " ".join(terms)  # every part is already free of stop words


class Bm25:
    """A BM25 index over the documents given, in the order given."""

    def __init__(self, documents: Sequence[str]) -> None:
        import bm25s

        self.size = len(documents)
        self._retriever = bm25s.BM25()
        tokenized = [doc.split() or ["\0"] for doc in documents]
        if tokenized:
            self._retriever.index(tokenized, show_progress=False)
        self._vocabulary: dict[str, int] = dict(self._retriever.vocab_dict or {})

    def scores(self, query: str) -> np.ndarray:
        """One score per document (zeros when no query term is known)."""
        import numpy as np

        terms = [t for t in dict.fromkeys(text_terms(query)) if t in self._vocabulary]
        if not terms or self.size == 0:
            return np.zeros(self.size, dtype=np.float64)
        return np.asarray(self._retriever.get_scores(terms), dtype=np.float64)
