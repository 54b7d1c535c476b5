"""Small, dependency-free text statistics."""

from wordstats.core import unique_words, word_count, words

__all__ = ["unique_words", "word_count", "words"]
