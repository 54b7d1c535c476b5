"""Recognise which edit format a text is in and parse it into `FileEdit`s."""

from __future__ import annotations

from autocodebase.edits.codex_patch import looks_like_codex_patch, parse_codex_patch
from autocodebase.edits.model import FileEdit, PatchError
from autocodebase.edits.search_replace import looks_like_search_replace, parse_search_replace


def parse_edits(text: str) -> list[FileEdit]:
    """Codex patch or SEARCH/REPLACE blocks, whichever the text holds."""
    if looks_like_codex_patch(text):
        return parse_codex_patch(text)
    if looks_like_search_replace(text):
        return parse_search_replace(text)
    raise PatchError(
        "no edit found: send a patch from '*** Begin Patch' to '*** End Patch' "
        "(or SEARCH/REPLACE blocks after the file's path)"
    )
