"""Line normalisations the locator falls back through, from strict to lenient.

Each grade forgives one more kind of drift that models introduce when they copy code: trailing
whitespace, indentation, typographic punctuation (smart quotes, dashes, non-breaking spaces).
"""

from __future__ import annotations

from collections.abc import Callable

Normalizer = Callable[[str], str]

PUNCTUATION = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2033": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
        "\u00a0": " ",
        "\u2002": " ",
        "\u2003": " ",
        "\u2009": " ",
        "\u202f": " ",
        "\u200b": None,
        "\ufeff": None,
        "\u2026": "...",
    }
)


def exact(line: str) -> str:
    return line


def trailing(line: str) -> str:
    return line.rstrip()


def indentation(line: str) -> str:
    return line.strip()


def punctuation(line: str) -> str:
    return " ".join(line.translate(PUNCTUATION).split())


GRADES: tuple[tuple[str, Normalizer], ...] = (
    ("exact", exact),
    ("trailing-whitespace", trailing),
    ("indentation", indentation),
    ("unicode-punctuation", punctuation),
)
"""Tried in order; the first grade with any match decides (one match applies, several refuse)."""

LENIENT: Normalizer = punctuation
"""The most forgiving comparison, used by the elision and stale-context fallbacks."""


def leading_whitespace(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]
