"""How long a project's whole test suite takes, learned from the runs that finished it.

The test gate runs the whole suite only when it is known to fit the time it may spend; this is
where it knows from. One small JSON file in acb's state directory, keyed by the workspace's
real path and the test command, so a changed command starts learning afresh. A run that timed
out leaves a lower bound ("more than N s"), which is as useful: it says not to try again
within a smaller budget.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from autocodebase.config import default_state_dir

FILE_NAME = "suite-times.json"


@dataclass(frozen=True)
class SuiteTime:
    seconds: float
    complete: bool
    """True: the suite finished in `seconds`; False: it was stopped after `seconds`."""

    def fits(self, budget_s: float) -> bool | None:
        """Whether the suite runs within `budget_s`: True, False, or None when not known."""
        if self.complete:
            return self.seconds <= budget_s
        return False if self.seconds >= budget_s else None


def _key(workspace: Path, command: str) -> str:
    return f"{workspace.resolve()}\n{command}"


def _path() -> Path:
    return default_state_dir() / FILE_NAME


def _load() -> dict[str, dict[str, float | bool]]:
    try:
        data = json.loads(_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def known(workspace: Path, command: str) -> SuiteTime | None:
    entry = _load().get(_key(workspace, command))
    if not isinstance(entry, dict):
        return None
    try:
        return SuiteTime(float(entry["seconds"]), bool(entry["complete"]))
    except (KeyError, TypeError, ValueError):
        return None


def learn(workspace: Path, command: str, seconds: float, complete: bool) -> None:
    """Remember a whole-suite run: its time if it finished, else that it took longer."""
    data = _load()
    previous = known(workspace, command)
    if not complete and previous is not None and previous.complete and previous.seconds > seconds:
        return  # a finished run that took longer still says more than this cut-off
    data[_key(workspace, command)] = {"seconds": round(seconds, 1), "complete": complete}
    target = _path()
    with contextlib.suppress(OSError):
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".suite-times.")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=1, sort_keys=True)
        Path(temporary).replace(target)
