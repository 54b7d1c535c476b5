"""A real MCP server for the tests, written with the official SDK (FastMCP).

Usage: python -m tests.fakes.mcp_server [--http PORT] [--garbage] [--slow-start SECONDS]
`--garbage` writes lines that are not JSON-RPC before serving; `--slow-start` sleeps first.
Its tools: add, shout, note (writes a file where the server runs: proof a call ran), picture
(an image), fail (an error result), crash (the process dies), hang (never answers).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from mcp.server.fastmcp import FastMCP, Image

PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154"
    "789c6360f80f000001010000a7f3b1a40000000049454e44ae426082"
)


def build(port: int = 8000) -> FastMCP:
    server = FastMCP("acb-test", port=port, log_level="WARNING")

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool()
    def shout(text: str) -> str:
        """The text in capitals."""
        return text.upper()

    @server.tool()
    def note(text: str) -> str:
        """Write text to mcp-note.txt in the server's folder."""
        Path("mcp-note.txt").write_text(text)
        return f"wrote {len(text)} characters"

    @server.tool()
    def picture() -> Image:
        """A one-pixel image."""
        return Image(data=PIXEL, format="png")

    @server.tool()
    def fail() -> str:
        """Always fails."""
        raise ValueError("this tool always fails")

    @server.tool()
    def crash() -> str:
        """The server process dies."""
        os._exit(3)

    @server.tool()
    def hang() -> str:
        """Never answers."""
        time.sleep(3600)
        return "never"

    return server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--http", type=int, default=0)
    parser.add_argument("--garbage", action="store_true")
    parser.add_argument("--slow-start", type=float, default=0.0)
    args = parser.parse_args()
    if args.slow_start:
        time.sleep(args.slow_start)
    if args.garbage:
        sys.stdout.write('this is not JSON-RPC\n{"neither": \n')
        sys.stdout.flush()
        time.sleep(3600)
    if args.http:
        build(args.http).run(transport="streamable-http")
    else:
        build().run()


if __name__ == "__main__":
    main()
