"""Parsing one file for the index, kept apart from `index` so that a worker process
(`parse_worker`) imports only this, the extractor and the lexer: not sqlite, subprocess or
git, which made up half of each worker's start-up (~0.3 s) on a cold build."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from autocodebase.context.lexical import file_terms
from autocodebase.context.symbols import extract, readable


@dataclass(frozen=True)
class _Parsed:
    """A worker's answer for one file, in plain tuples so that pickling stays cheap."""

    path: str
    mtime_ns: int
    size: int
    sha1: str
    language: str
    doc: str
    terms: str
    definitions: list[tuple[str, str, int, int, str]]
    references: list[tuple[str, int, str]]
    unchanged: bool = False


def _parse_one(root: str, path: str, mtime_ns: int, size: int, known_sha1: str) -> _Parsed | None:
    try:
        data = Path(root, path).read_bytes()
    except OSError:
        return None
    sha1 = hashlib.sha1(data, usedforsecurity=False).hexdigest()
    if sha1 == known_sha1:
        return _Parsed(path, mtime_ns, size, sha1, "", "", "", [], [], unchanged=True)
    symbols = extract(path, data)
    if symbols is None:
        return None
    content = data.decode("utf-8", "replace") if readable(data) else ""
    return _Parsed(
        path=path,
        mtime_ns=mtime_ns,
        size=size,
        sha1=sha1,
        language=symbols.language,
        doc=symbols.doc,
        terms=file_terms(path, (d.name for d in symbols.definitions), content),
        definitions=[
            (d.name, d.kind, d.line, d.end_line, d.signature) for d in symbols.definitions
        ],
        references=[
            (name, len(rows), ",".join(map(str, rows))) for name, rows in symbols.references.items()
        ],
    )


def _parse_chunk(root: str, jobs: list[tuple[str, int, int, str]]) -> list[_Parsed | None]:
    return [_parse_one(root, *job) for job in jobs]
