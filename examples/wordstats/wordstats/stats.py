"""Summary statistics of a text's words."""

from __future__ import annotations

from wordstats.core import unique_words, words


def average_word_length(text: str) -> float:
    """Mean length of the words of `text`; 0.0 when it has none."""
    found = words(text)
    if not found:
        return 0.0
    return sum(len(word) for word in found) / len(found)


def lexical_diversity(text: str) -> float:
    """Distinct words over all words (1.0 means no word repeats); 0.0 for an empty text."""
    total = len(words(text))
    if total == 0:
        return 0.0
    return len(unique_words(text)) / total
