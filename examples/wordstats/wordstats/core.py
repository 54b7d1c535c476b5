"""Counting words in plain text."""

from __future__ import annotations

import re

WORD = re.compile(r"[a-z0-9']+")


def words(text: str) -> list[str]:
    """The words of `text`, lower-cased, with punctuation dropped."""
    return WORD.findall(text.lower())


def word_count(text: str) -> int:
    """How many words `text` holds."""
    return len(words(text))


def unique_words(text: str) -> set[str]:
    """The distinct words of `text`, case-insensitively."""
    return set(words(text))
