"""One timed build of acb's index and map in a fresh process, for `bench/context/speed.py`.

python bench/context/acb_build.py ROOT INDEX_PATH
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

from autocodebase.context.engine import ContextEngine


def main() -> None:
    root, location = Path(sys.argv[1]), Path(sys.argv[2])
    started = time.perf_counter()
    with ContextEngine(root, location) as engine:
        stats = engine.refresh()
        text = engine.repo_map(budget=1024).text
    seconds = time.perf_counter() - started
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_mb": own,
                "worker_peak_mb": worker,
                "workers": stats.workers,
                "files": stats.files,
                "parsed": stats.parsed,
                "map_chars": len(text),
            }
        )
    )


if __name__ == "__main__":
    main()
