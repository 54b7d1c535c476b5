"""What a model wrote, without what it wrapped it in.

acb's secondary calls (the commit message, the model review, test generation) ask for one
thing and get it the way real models write: after a `<think>` block (Qwen, DeepSeek and other
reasoning models served locally put their reasoning in the text), inside a fence in any
spelling, or inside prose. These helpers find the part that was asked for; each caller decides
what to do when nothing is left.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

MAX_TEXT_CHARS = 200_000
"""More than any answer acb asks for: a model that writes megabytes is cut before parsing, so
parsing stays quick whatever it sent."""

_THINK_TAGS = "think|thinking|reasoning|thought"
_THINK_BLOCK = re.compile(rf"<({_THINK_TAGS})>.*?</\1>", re.S | re.I)
_THINK_CLOSE = re.compile(rf"</(?:{_THINK_TAGS})>", re.I)
_THINK_OPEN = re.compile(rf"<(?:{_THINK_TAGS})>", re.I)


def strip_thinking(text: str) -> str:
    """`text` without reasoning blocks. A closing tag with no opening one (the chat template
    opened it in the prompt) ends reasoning that started at the top; an opening tag never
    closed (the answer was cut while thinking) starts reasoning that runs to the end."""
    text = _THINK_BLOCK.sub("", text[:MAX_TEXT_CHARS])
    closes = list(_THINK_CLOSE.finditer(text))
    if closes:
        text = text[closes[-1].end() :]
    opened = _THINK_OPEN.search(text)
    if opened:
        text = text[: opened.start()]
    return text.strip()


@dataclass(frozen=True)
class Fence:
    language: str
    """The info string's first word, lower case ('' when the fence has none)."""
    body: str
    start: int
    """Where the opening fence starts in the text, so a caller can see what came before."""


_FENCE_OPEN = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([^\n`]*)$", re.M)


def fences(text: str) -> list[Fence]:
    """Every fenced block, ``` or ~~~ of any length, with or without a language; a block left
    open at the end (the answer was cut) runs to the end of the text."""
    found: list[Fence] = []
    position = 0
    while match := _FENCE_OPEN.search(text, position):
        marker, info = match.group(1), match.group(2).strip()
        closing = re.compile(rf"^[ \t]*{re.escape(marker[0])}{{{len(marker)},}}[ \t]*$", re.M)
        end = closing.search(text, match.end())
        body_end = end.start() if end else len(text)
        body = text[match.end() + 1 : body_end] if match.end() < len(text) else ""
        language = info.split()[0].lower() if info else ""
        found.append(Fence(language, body, match.start()))
        position = end.end() if end else len(text)
    return found


_TRAILING_COMMA = re.compile(r",(\s*[}\]])")
_JSON_START = re.compile(r"[\[{]")


def json_values(text: str, limit: int = 50) -> list[Any]:
    """The JSON values in a model's answer, best candidates first: fenced blocks, the whole
    answer, then each object or array found inside prose (a trailing comma, which models
    write and JSON refuses, is forgiven). At most `limit` are decoded, so prose full of braces
    costs little."""
    text = strip_thinking(text)
    decoder = json.JSONDecoder()
    values: list[Any] = []

    def decode(candidate: str) -> bool:
        for attempt in (candidate, _TRAILING_COMMA.sub(r"\1", candidate)):
            try:
                values.append(json.loads(attempt))
            except (ValueError, RecursionError):  # a thousand "[" is not an answer
                continue
            return True
        return False

    for fence in fences(text):
        if fence.language in ("", "json", "jsonc", "json5", "javascript", "js"):
            decode(fence.body.strip())
    decode(text)
    position, tries = 0, 0
    while tries < limit and (match := _JSON_START.search(text, position)):
        tries += 1
        try:
            value, end = decoder.raw_decode(text, match.start())
        except (ValueError, RecursionError):
            closer = "}" if match.group() == "{" else "]"
            last = text.rfind(closer)
            if last > match.start():
                decode(text[match.start() : last + 1])
            position = match.end()
            continue
        if isinstance(value, dict | list) and value:
            values.append(value)
        position = end if isinstance(value, dict | list) and value else match.end()
    return values
