"""Bounded capture of command output: keep the head and the tail, count what was dropped.

Models need the start of an output (the command's first complaint) and its end (the summary,
the exit status); the middle of a 50 MB log is noise that would only burn context.
"""

from __future__ import annotations

from collections import deque
from typing import IO


class HeadTailBuffer:
    """Collects bytes, retaining at most `limit` of them: half from the start, half from the end."""

    def __init__(self, limit: int):
        self.head_limit = limit // 2
        self.tail_limit = limit - self.head_limit
        self.head = bytearray()
        self.tail: deque[bytes] = deque()
        self.tail_size = 0
        self.total = 0

    def write(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.head_limit - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if not chunk:
            return
        self.tail.append(chunk)
        self.tail_size += len(chunk)
        while self.tail and self.tail_size - len(self.tail[0]) >= self.tail_limit:
            self.tail_size -= len(self.tail.popleft())

    def drain(self, stream: IO[bytes]) -> None:
        """Read `stream` to its end (run in a thread while the process lives)."""
        while chunk := stream.read(65536):
            self.write(chunk)

    def render(self, advice: str = "") -> str:
        """The head and the tail; where bytes were dropped, a mark saying how many, and
        `advice` on how to see them (a model told only that output was cut reruns the same
        command, or gives up on what it needed)."""
        tail = b"".join(self.tail)
        if len(tail) > self.tail_limit:
            tail = tail[-self.tail_limit :]
        omitted = self.total - len(self.head) - len(tail)
        head_text = self.head.decode("utf-8", errors="replace")
        tail_text = tail.decode("utf-8", errors="replace")
        if omitted <= 0:
            return head_text + tail_text
        how = f"; {advice}" if advice else ""
        return f"{head_text}\n[... {omitted} bytes omitted{how} ...]\n{tail_text}"


def truncate_text(text: str, limit: int, advice: str = "") -> str:
    """Head+tail truncation for text we already hold in memory."""
    buffer = HeadTailBuffer(limit)
    buffer.write(text.encode("utf-8"))
    return buffer.render(advice)
