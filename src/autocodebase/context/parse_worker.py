"""A child process of the index builder: reads (root, jobs) pickled on stdin, parses those
files and writes the pickled results to stdout. See `index._parse_in_workers`."""

from __future__ import annotations

import pickle
import sys

from autocodebase.context.index import _parse_chunk


def main() -> None:
    root, jobs = pickle.loads(sys.stdin.buffer.read())  # noqa: S301 - sent by our own parent
    sys.stdout.buffer.write(pickle.dumps(_parse_chunk(root, jobs)))


if __name__ == "__main__":
    main()
