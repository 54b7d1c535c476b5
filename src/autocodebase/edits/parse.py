"""Recognise which edit format a text is in and parse it into `FileEdit`s."""

from __future__ import annotations

from autocodebase.edits.codex_patch import (
    EXAMPLE,
    FILE_HEADERS,
    looks_like_codex_patch,
    parse_codex_patch,
)
from autocodebase.edits.model import FileEdit, PatchError
from autocodebase.edits.search_replace import looks_like_search_replace, parse_search_replace
from autocodebase.edits.unified_diff import looks_like_unified_diff, parse_unified_diff


def parse_edits(text: str) -> list[FileEdit]:
    """Codex patch, unified diff (`git diff`, also inside Codex's envelope) or SEARCH/REPLACE
    blocks, whichever the text holds."""
    codex = looks_like_codex_patch(text)
    if codex and any(line.startswith(FILE_HEADERS) for line in text.splitlines()):
        return parse_codex_patch(text)
    if looks_like_unified_diff(text):
        return parse_unified_diff(text)
    if codex:
        return parse_codex_patch(text)
    if looks_like_search_replace(text):
        return parse_search_replace(text)
    raise PatchError(
        "no edit found: send a patch from '*** Begin Patch' to '*** End Patch' "
        f"(or a unified diff, or SEARCH/REPLACE blocks after the file's path).\n{EXAMPLE}"
    )
