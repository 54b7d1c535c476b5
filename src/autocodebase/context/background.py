"""The start-of-run repo map, built by a child process (`map_worker`) while the run sets up."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

MAP_WAIT_S = 1.0
"""How long the first request waits for the start-of-run map (a cold index of a very large
repository takes longer; the run goes on without the map rather than keep the user waiting)."""


_DETACHED: list[subprocess.Popen[bytes]] = []
"""Map builders a run stopped waiting for; kept referenced so they finish undisturbed."""


class BackgroundMap:
    """The map for the start of a run, built in a child process while the run sets up
    everything else (imports, git checkpoint, sandbox probe). A thread would fight those for
    the interpreter's lock; a process gets the machine's other core, so on a small repository
    the map costs the first request almost nothing. `acb exec` starts it before importing the
    rest of acb, which is why this module imports next to nothing."""

    def __init__(self, root: Path, budget: int, query: str) -> None:
        self.text = ""
        self.error: str | None = None
        self._child: subprocess.Popen[bytes] | None = None
        if budget > 0:
            # -P: the repository is our cwd, and must not shadow acb's own modules.
            command = [sys.executable, "-P", "-m", "autocodebase.context.map_worker", str(root)]
            self._child = subprocess.Popen(
                [*command, str(budget), query],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )

    def wait(self, timeout: float = MAP_WAIT_S) -> BackgroundMap:
        """Wait up to `timeout` for the map. Not ready by then: `pending` stays True and the
        builder goes on (`poll` picks its map up later, `detach` lets it finish the index)."""
        if self._child is not None:
            try:
                out, err = self._child.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                return self
            self._collect(out, err)
        return self

    @property
    def pending(self) -> bool:
        return self._child is not None

    def poll(self) -> str | None:
        """The map, once, as soon as the builder has finished (None until then, and after)."""
        if self._child is None or self._child.poll() is None:
            return None
        out, err = self._child.communicate()
        self._collect(out, err)
        return self.text or None

    def detach(self) -> None:
        """Stop waiting; the builder finishes the index for the next run undisturbed."""
        if self._child is not None:
            _DETACHED.append(self._child)
            self._child = None

    def _collect(self, out: bytes, err: bytes) -> None:
        assert self._child is not None
        if self._child.returncode == 0:
            self.text = out.decode("utf-8", "replace")
        else:
            last = err.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
            self.error = f"repo map unavailable: {last[0]}"
        self._child = None
