"""HTTP/1.1 request framing for the deploy proxy (RFC 9112 §6-7): how long a client's body
is, and reading it so that the next request on a kept-alive connection starts where it should.

A sized body (Content-Length) is streamed to the release as it arrives. A chunked body is
decoded into a spooled file (memory up to 1 MiB, then disk) and sent with a Content-Length,
as nginx does by default: many app servers, wsgiref among them, read only sized bodies.
Anything ambiguous (Transfer-Encoding with Content-Length, conflicting lengths) is refused,
since a proxy and a release that frame one request differently can be made to smuggle another.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from email.message import Message
from http import HTTPStatus
from io import BufferedIOBase
from typing import BinaryIO

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "proxy-connection",
    }
)
"""Headers about one connection, never forwarded (RFC 9110 §7.6.1)."""

PIECE = 64 * 1024
MAX_CHUNKED_BODY = 256 * 2**20
"""A chunked body is spooled to disk past 1 MiB; this bounds how much."""
_MAX_LINE = 8192
_MAX_TRAILERS = 100
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")
_LENGTH = re.compile(r"[0-9]{1,18}")

Body = Iterator[bytes] | BinaryIO | None
"""What http.client sends: pieces of a sized body, a spooled file, or nothing."""


class RequestError(Exception):
    """A request the proxy answers itself (and then closes the connection, since the rest of
    the client's body may still be unread)."""

    def __init__(self, status: HTTPStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def request_body(headers: Message, rfile: BufferedIOBase) -> tuple[int | None, Body]:
    """The body's length as the release will be told it (None: no body) and its source."""
    codings = _transfer_codings(headers)
    length = _content_length(headers)
    if codings and length is not None:
        raise RequestError(HTTPStatus.BAD_REQUEST, "both Transfer-Encoding and Content-Length")
    if codings:
        spool = _dechunked(rfile)
        return spool.seek(0, 2), _rewound(spool)
    if length is None:
        return None, None
    return length, _sized(rfile, length)


def forwarded_headers(headers: Message, length: int | None) -> dict[str, str]:
    """The client's end-to-end headers, with the framing the release gets. `Expect` is
    dropped: the proxy already answered 100-continue itself. http.client takes a mapping, so
    a repeated field is sent as one line, its values joined by commas (RFC 9110 §5.3)."""
    named = {t.strip().lower() for v in headers.get_all("Connection", []) for t in v.split(",")}
    dropped = HOP_BY_HOP | named | {"content-length", "expect"}
    kept: dict[str, tuple[str, str]] = {}
    for key, value in headers.items():
        if key.lower() not in dropped:
            name, before = kept.get(key.lower(), (key, ""))
            kept[key.lower()] = (name, f"{before}, {value}" if before else value)
    if length is not None:
        kept["content-length"] = ("Content-Length", str(length))
    return dict(kept.values())


def end_to_end(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """A release's response headers minus those about its connection to the proxy."""
    named = {
        t.strip().lower() for k, v in headers if k.lower() == "connection" for t in v.split(",")
    }
    return [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP | named]


def _transfer_codings(headers: Message) -> list[str]:
    values = headers.get_all("Transfer-Encoding", [])
    codings = [c.strip().lower() for v in values for c in v.split(",") if c.strip()]
    if codings and codings[-1] != "chunked":  # the body's end cannot be known (RFC 9112 §6.3)
        raise RequestError(HTTPStatus.BAD_REQUEST, "chunked is not the final transfer coding")
    if len(codings) > 1:
        raise RequestError(HTTPStatus.NOT_IMPLEMENTED, f"transfer coding {codings[0]!r}")
    return codings


def _content_length(headers: Message) -> int | None:
    values = {v.strip() for f in headers.get_all("Content-Length", []) for v in f.split(",")}
    if not values:
        return None
    if len(values) > 1 or not _LENGTH.fullmatch(next(iter(values))):
        raise RequestError(HTTPStatus.BAD_REQUEST, f"Content-Length {sorted(values)}")
    return int(values.pop())


def _sized(rfile: BufferedIOBase, length: int) -> Iterator[bytes]:
    """The body in pieces as they arrive (read1), so a large upload is never held whole and
    a slow one reaches the release as it comes."""
    while length:
        piece = _read(rfile, min(PIECE, length), exactly=False)
        length -= len(piece)
        yield piece


def _rewound(spool: BinaryIO) -> BinaryIO:
    spool.seek(0)
    return spool


def _dechunked(rfile: BufferedIOBase) -> BinaryIO:
    """The chunked body decoded into a spooled file; chunk extensions and trailer fields
    are read and dropped (a proxy may drop trailers when it sends a sized body)."""
    spool = tempfile.SpooledTemporaryFile(max_size=2**20)  # noqa: SIM115 - the caller's to close
    try:
        _dechunk(rfile, spool)
    except BaseException:
        spool.close()
        raise
    return spool  # type: ignore[return-value]  # a SpooledTemporaryFile is a binary file


def _dechunk(rfile: BufferedIOBase, sink: BinaryIO | tempfile.SpooledTemporaryFile[bytes]) -> None:
    total = 0
    while size := _chunk_size(_line(rfile)):
        total += size
        if total > MAX_CHUNKED_BODY:
            raise RequestError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "chunked body too large")
        while size:
            piece = _read(rfile, min(PIECE, size))
            sink.write(piece)
            size -= len(piece)
        if _read(rfile, 2) != b"\r\n":
            raise RequestError(HTTPStatus.BAD_REQUEST, "chunk not followed by CRLF")
    for _ in range(_MAX_TRAILERS):
        if _line(rfile) in (b"\r\n", b"\n"):
            return
    raise RequestError(HTTPStatus.BAD_REQUEST, "too many trailer fields")


def _chunk_size(line: bytes) -> int:
    size = line.split(b";", 1)[0].strip()
    if not _CHUNK_SIZE.fullmatch(size):
        raise RequestError(HTTPStatus.BAD_REQUEST, f"bad chunk size {size[:20]!r}")
    return int(size, 16)


def _line(rfile: BufferedIOBase) -> bytes:
    try:
        line = rfile.readline(_MAX_LINE + 1)
    except TimeoutError:
        raise RequestError(HTTPStatus.REQUEST_TIMEOUT, "the body stalled") from None
    if len(line) > _MAX_LINE or not line.endswith(b"\n"):
        raise RequestError(HTTPStatus.BAD_REQUEST, "chunk line too long or cut short")
    return line


def _read(rfile: BufferedIOBase, size: int, exactly: bool = True) -> bytes:
    """`size` bytes, or (not `exactly`) what has arrived, at least one."""
    try:
        data = rfile.read(size) if exactly else rfile.read1(size)
    except TimeoutError:
        raise RequestError(HTTPStatus.REQUEST_TIMEOUT, "the body stalled") from None
    if not data or (exactly and len(data) < size):
        raise RequestError(HTTPStatus.BAD_REQUEST, "the body ended early")
    return data
