"""Whether a path names a file of the workspace, and not something a symlink leads to.

Commands in the sandbox may leave symlinks in the workspace (`leak.py -> ~/.ssh/id_rsa`, a
directory `pkg -> /root`): the sandbox hides their targets from the command, but acb's own
host-side readers (the repo map, AGENTS.md, the review tools) would follow them and put the
target's text in the model's prompt, the ledger or a report. Every such reader asks here first.
"""

from __future__ import annotations

import os
from pathlib import Path


def inside(root: Path, path: Path | str) -> bool:
    """True when `path` (relative to `root`, or absolute), symlinks followed, is in `root`."""
    real_root = os.path.realpath(root)
    real = os.path.realpath(Path(root, path))
    return real == real_root or real.startswith(real_root.rstrip("/") + "/")
