"""What an evaluation leaves in its output folder, written so that a crash loses nothing.

- `instances/<id>.json`: one file per finished instance, written atomically by whoever ran it
  (a local worker or a Ray task). Its presence is what makes a re-run skip the instance.
- `preds.jsonl`: the official predictions format (instance_id, model_name_or_path,
  model_patch), which `swebench.harness.run_evaluation` can re-grade.
- `report.json` and `report.md`: resolved, unresolved and error ids, the environment of each
  instance, and per instance steps, tokens, cost, wall time, exit status and run id.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

Status = Literal["resolved", "unresolved", "environment_error", "error", "completed", "failed"]
"""SWE-bench instances are resolved or unresolved once graded; batch tasks (`acb batch`, which
have no grading) completed or failed, as their run ended."""


@dataclass(frozen=True)
class InstanceResult:
    instance_id: str
    status: Status
    model: str
    patch: str = ""
    environment: str = ""
    """How the tests ran: `venv <name> (Python X.Y)`, or why no environment could be built."""
    exit_status: str = ""
    steps: int = 0
    tokens: dict[str, int] = field(default_factory=dict)
    cost_usd: float | None = None
    wall_s: float = 0.0
    run_id: str | None = None
    error: str | None = None
    tests_status: dict[str, Any] = field(default_factory=dict)


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.write_text(text)
    partial.replace(path)


def result_path(out: Path, instance_id: str) -> Path:
    return out / "instances" / f"{instance_id}.json"


def save_result(out: Path, result: InstanceResult) -> None:
    _atomic_write(result_path(out, result.instance_id), json.dumps(asdict(result), indent=2))


def load_result(out: Path, instance_id: str) -> InstanceResult | None:
    try:
        return InstanceResult(**json.loads(result_path(out, instance_id).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def load_results(out: Path) -> dict[str, InstanceResult]:
    """Every finished instance in `out` (a half-written file never counts: writes are atomic)."""
    found: dict[str, InstanceResult] = {}
    for path in sorted((out / "instances").glob("*.json")):
        try:
            record = json.loads(path.read_text())
            result = InstanceResult(**record)
        except (ValueError, TypeError):
            continue
        found[result.instance_id] = result
    return found


def write_reports(out: Path, results: Iterable[InstanceResult], model: str) -> dict[str, Any]:
    """preds.jsonl, report.json and report.md from the finished instances."""
    done = sorted(results, key=lambda r: r.instance_id)
    preds = "".join(
        json.dumps(
            {"instance_id": r.instance_id, "model_name_or_path": model, "model_patch": r.patch}
        )
        + "\n"
        for r in done
        if r.status in ("resolved", "unresolved")
    )
    _atomic_write(out / "preds.jsonl", preds)
    by_status = {
        status: [r.instance_id for r in done if r.status == status]
        for status in ("resolved", "unresolved", "environment_error", "error")
    }
    report = {
        "model": model,
        "total": len(done),
        "resolved": by_status["resolved"],
        "unresolved": by_status["unresolved"],
        # Not graded, for whatever reason; `environment_error` names those whose environment
        # could not be built (never counted as unresolved).
        "error": sorted(by_status["environment_error"] + by_status["error"]),
        "environment_error": by_status["environment_error"],
        "environment": {r.instance_id: r.environment for r in done},
        "instances": {r.instance_id: _summary(r) for r in done},
    }
    _atomic_write(out / "report.json", json.dumps(report, indent=2))
    _atomic_write(out / "report.md", _markdown(done, model, by_status))
    return report


def _summary(result: InstanceResult) -> dict[str, Any]:
    record = asdict(result)
    record.pop("patch")
    record.pop("tests_status")
    return record


def _markdown(done: list[InstanceResult], model: str, by_status: dict[str, list[str]]) -> str:
    resolved = len(by_status["resolved"])
    graded = resolved + len(by_status["unresolved"])
    lines = [
        f"# SWE-bench evaluation: {model}",
        "",
        f"Resolved {resolved} of {graded} graded instances; "
        f"{len(by_status['environment_error'])} environment errors, "
        f"{len(by_status['error'])} other errors.",
        "",
        "| instance | status | environment | exit | steps | tokens | cost | wall s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in done:
        tokens = sum(r.tokens.values()) if r.tokens else 0
        cost = f"${r.cost_usd:.4f}" if r.cost_usd is not None else "-"
        lines.append(
            f"| {r.instance_id} | {r.status} | {r.environment} | {r.exit_status} | {r.steps} "
            f"| {tokens} | {cost} | {r.wall_s:.1f} |"
        )
    errors = [r for r in done if r.error]
    if errors:
        lines += ["", "## Errors", ""]
        lines += [f"- {r.instance_id}: {r.error}" for r in errors]
    return "\n".join(lines) + "\n"
