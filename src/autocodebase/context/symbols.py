"""Symbols of one source file: its definitions (with a one-line signature), the names it
refers to with their lines, and its comments and docstrings.

A pure function of the file's bytes, so that a process pool can run it on many files at
once and the index can store its result keyed by the file's content hash.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING

from autocodebase.context.languages import LanguageSpec, spec_for

if TYPE_CHECKING:
    from tree_sitter import Node, Parser, Query

MAX_FILE_BYTES = 1_000_000
"""Bigger files are generated or minified in practice; parsing them costs more than they tell."""
MAX_DOC_CHARS = 4_000
MAX_SIGNATURE_CHARS = 200
_SIGNATURE_LINES = 3


@dataclass(frozen=True, slots=True)
class Definition:
    name: str
    kind: str
    line: int
    """1-based, like an editor."""
    end_line: int
    signature: str
    """The header as written (first line's indentation kept, continuation lines joined)."""


@dataclass(slots=True)
class FileSymbols:
    path: str
    language: str
    definitions: list[Definition] = field(default_factory=list)
    references: dict[str, list[int]] = field(default_factory=dict)
    """Referenced name → 1-based lines where it occurs."""
    doc: str = ""


@dataclass(frozen=True)
class _Compiled:
    parser: Parser
    query: Query
    """Definitions, references and docs in one query: one walk of the tree instead of three."""


@cache
def _compiled(spec: LanguageSpec) -> _Compiled:
    from tree_sitter import Query
    from tree_sitter_language_pack import get_language, get_parser

    language = get_language(spec.grammar)  # type: ignore[arg-type]
    source = "\n".join((spec.definitions, spec.references, spec.docs))
    return _Compiled(parser=get_parser(spec.grammar), query=Query(language, source))  # type: ignore[arg-type]


def looks_binary(data: bytes) -> bool:
    return b"\0" in data[:8192]


def readable(data: bytes) -> bool:
    """Whether a file's bytes are worth reading as text: not too big, not binary."""
    return len(data) <= MAX_FILE_BYTES and not looks_binary(data)


def extract(path: str, data: bytes) -> FileSymbols | None:
    """Symbols of `data` read from `path`, or None when the language is not one we parse."""
    spec = spec_for(path)
    if spec is None:
        return None
    symbols = FileSymbols(path=path, language=spec.grammar)
    if not readable(data):
        return symbols
    from tree_sitter import QueryCursor

    compiled = _compiled(spec)
    root = compiled.parser.parse(data).root_node
    captures = QueryCursor(compiled.query).captures(root)
    names = sorted(captures.get("name", []), key=lambda n: n.start_byte)
    defined_at = {n.start_byte for n in names}
    lines = data.split(b"\n")
    symbols.definitions = _definitions(captures, names, lines)
    symbols.references = _references(captures.get("ref", []), defined_at, data)
    symbols.doc = _docs(captures.get("doc", []))
    return symbols


def _references(nodes: list[Node], defined_at: set[int], data: bytes) -> dict[str, list[int]]:
    """Referenced name → sorted 1-based lines. The hot loop of a cold build (one pass per
    identifier in the repository): names are grouped by their bytes and decoded once each."""
    # Captures of different patterns do not come in source order: collect, then sort.
    rows_of: dict[bytes, set[int]] = {}
    for node in nodes:
        start, end = node.byte_range
        if end - start < 2 or start in defined_at:
            continue
        key = data[start:end]
        rows = rows_of.get(key)
        if rows is None:
            rows = rows_of[key] = set()
        rows.add(node.start_point.row + 1)
    references: dict[str, list[int]] = {}
    for key, rows in rows_of.items():
        name = key.decode("utf-8", "replace")
        if name in references:  # two invalid byte strings that both decode to U+FFFD
            rows = rows.union(references[name])
        references[name] = sorted(rows)
    return references


def _definitions(
    captures: dict[str, list[Node]], names: list[Node], lines: list[bytes]
) -> list[Definition]:
    """Pair each definition node with its name: the first captured name inside the node, since
    a definition's own name comes before anything nested in its body."""
    starts = [n.start_byte for n in names]
    found: dict[tuple[int, str], Definition] = {}
    for key, nodes in captures.items():
        if not key.startswith("def."):
            continue
        for node in nodes:
            i = bisect_left(starts, node.start_byte)
            if i == len(names) or names[i].start_byte >= node.end_byte:
                continue
            found.setdefault(
                (node.start_byte, key),
                Definition(
                    name=_text(names[i]),
                    kind=key[4:],
                    line=node.start_point.row + 1,
                    end_line=node.end_point.row + 1,
                    signature=_signature(node, lines),
                ),
            )
    return _without_locals(sorted(found.values(), key=lambda d: (d.line, -d.end_line, d.name)))


_CALLABLE_KINDS = frozenset({"function", "method"})


def _without_locals(definitions: list[Definition]) -> list[Definition]:
    """Drop definitions inside a function's body: helpers local to one function are not part
    of what the rest of the code can use, and they crowd the map."""
    kept: list[Definition] = []
    open_end = 0
    for definition in definitions:
        if definition.line <= open_end:
            continue
        kept.append(definition)
        if definition.kind in _CALLABLE_KINDS:
            open_end = definition.end_line
    return kept


def _text(node: Node) -> str:
    return (node.text or b"").decode("utf-8", "replace")


def _signature(node: Node, lines: list[bytes]) -> str:
    """The definition's header: from its first line to where its body starts (at most three
    lines), so a parameter list split over lines still reads as one signature."""
    first = node.start_point.row
    body = node.child_by_field_name("body")
    # A body opening on a later line (Python's block starts at its first statement) is not
    # part of the header; one that opens on the header's own line (`{`) is cut by the cap.
    last = body.start_point.row - 1 if body is not None and body.start_point.row > first else first
    last = min(last, first + _SIGNATURE_LINES - 1, len(lines) - 1)
    head = lines[first].decode("utf-8", "replace").rstrip()
    rest = [lines[i].decode("utf-8", "replace").strip() for i in range(first + 1, last + 1)]
    text = " ".join([head, *rest]) if rest else head
    return text if len(text) <= MAX_SIGNATURE_CHARS else text[: MAX_SIGNATURE_CHARS - 1] + "…"


def _docs(nodes: list[Node]) -> str:
    parts: list[str] = []
    size = 0
    for node in sorted(nodes, key=lambda n: n.start_byte):
        text = _text(node)
        parts.append(text)
        size += len(text)
        if size >= MAX_DOC_CHARS:
            break
    return "\n".join(parts)[:MAX_DOC_CHARS]
