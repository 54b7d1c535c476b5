"""A child process of the index builder: reads (root, jobs) pickled on stdin, parses those
files and writes the results to stdout as a stream of pickled batches (see
`index._parse_in_workers`), so the parent can store them while the rest are parsed."""

from __future__ import annotations

import pickle
import sys

from autocodebase.context.parsing import _parse_chunk

BATCH = 32


def main() -> None:
    root, jobs = pickle.loads(sys.stdin.buffer.read())  # noqa: S301 - sent by our own parent
    out = sys.stdout.buffer
    for start in range(0, len(jobs), BATCH):
        pickle.dump(_parse_chunk(root, jobs[start : start + BATCH]), out)
        out.flush()


if __name__ == "__main__":
    main()
