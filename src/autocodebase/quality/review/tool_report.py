"""Run one review tool and read its JSON report, or say that it gave none.

Every gate's tool prints a JSON report even when it finds nothing (`[]`, `{"results": []}`).
No report means the tool did not look at the files: it crashed (semgrep whose OpenTelemetry
needs a pkg_resources setuptools no longer ships), ran out of time, or its module is missing.
Reading that as "no findings" would pass a change no gate saw, and a change (or a cloned
repository) that makes a scanner crash would get through unreviewed; so it raises
`GateFailed`, which the review reports next to its findings.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from autocodebase.errors import AcbError


class GateFailed(AcbError):
    """A gate's tool ran and produced no report: the files went unchecked by it. Where no
    review collects it (`acb ci` validating a workflow), it ends the command in one line."""

    def __init__(self, tool: str, why: str) -> None:
        super().__init__(f"{tool} failed ({why}), so its checks were not applied")
        self.tool = tool


def json_report(
    tool: str,
    command: list[str],
    cwd: Path,
    timeout: float = 600,
    env: Mapping[str, str] | None = None,
) -> Any:
    """`command`'s standard output as JSON; `GateFailed` when there is none to read."""
    try:
        done = subprocess.run(
            command,
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
            env=None if env is None else dict(env),
        )
    except subprocess.TimeoutExpired:
        raise GateFailed(tool, f"no answer within {timeout:.0f} s") from None
    except OSError as exc:
        raise GateFailed(tool, f"cannot start: {exc.strerror or exc}") from None
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError:
        raise GateFailed(tool, _why(done)) from None


def _why(done: subprocess.CompletedProcess[str]) -> str:
    """The exit status and the last line the tool wrote on stderr (its error, usually)."""
    lines = [line.strip() for line in (done.stderr or "").splitlines() if line.strip()]
    said = f": {lines[-1][:200]}" if lines else ""
    if done.returncode < 0:
        return f"killed by signal {-done.returncode}{said}"
    if done.stdout.strip():
        return f"exit {done.returncode}, output that is not its JSON report{said}"
    return f"exit {done.returncode}, no report{said}"
