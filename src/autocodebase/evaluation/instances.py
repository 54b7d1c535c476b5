"""SWE-bench task instances: read from the official JSON/JSONL format, and chosen by id or slice.

An instance may carry an `environment` of its own (python, pip packages, install and test
commands, the log parser to use) for repositories outside SWE-bench's specs: that is how a team's
tasks, and the CI-sized tests, use the same official grading.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from autocodebase.errors import UsageError

REQUIRED = ("instance_id", "repo", "base_commit", "problem_statement")


@dataclass(frozen=True)
class Instance:
    """One task: a repository at a commit, a problem statement, and the tests that judge it."""

    instance_id: str
    repo: str
    """`owner/name`, as SWE-bench spells it."""
    base_commit: str
    problem_statement: str
    version: str = ""
    patch: str = ""
    """The upstream fix (the gold patch)."""
    test_patch: str = ""
    fail_to_pass: tuple[str, ...] = ()
    pass_to_pass: tuple[str, ...] = ()
    environment: dict[str, Any] | None = field(default=None, compare=False)
    """Install and test commands stated by the instance itself (outside SWE-bench's specs)."""
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    """The record as read, which the official harness functions take."""


def _tests(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = json.loads(value) if value.strip() else []
    return tuple(str(v) for v in value or ())


SAFE_ID = re.compile(r"[A-Za-z0-9_+-][A-Za-z0-9_.+-]{0,199}")
"""Ids and repository names become folder names (`OUT/work/<id>`, which is deleted and
re-created): nothing that could climb out of the folder or hide in it."""


def checked_name(value: str, what: str, where: str) -> str:
    """`value` if it is safe as one path component, else a `UsageError`."""
    if not SAFE_ID.fullmatch(value) or ".." in value:
        raise UsageError(f"{where}: {what} {value!r} may hold only letters, digits and _.+-")
    return value


def instance_from_record(record: dict[str, Any], where: str) -> Instance:
    missing = [key for key in REQUIRED if not record.get(key)]
    if missing:
        raise UsageError(f"{where}: instance lacks {', '.join(missing)}")
    checked_name(str(record["instance_id"]), "instance_id", where)
    owner, slash, name = str(record["repo"]).partition("/")
    if not slash:
        raise UsageError(f"{where}: repo must be owner/name, not {record['repo']!r}")
    checked_name(owner, "repo owner", where)
    checked_name(name, "repo name", where)
    if record.get("version"):
        checked_name(str(record["version"]), "version", where)  # part of a folder name
    environment = record.get("environment")
    if environment is not None and not isinstance(environment, dict):
        raise UsageError(f"{where}: 'environment' must be an object")
    stated = (environment or {}).get("packages_before")
    if stated:
        try:
            date.fromisoformat(str(stated))
        except ValueError:
            raise UsageError(
                f"{where}: environment.packages_before {stated!r} must be a date (YYYY-MM-DD)"
            ) from None
    return Instance(
        instance_id=str(record["instance_id"]),
        repo=str(record["repo"]),
        base_commit=str(record["base_commit"]),
        problem_statement=str(record["problem_statement"]),
        version=str(record.get("version") or ""),
        patch=str(record.get("patch") or ""),
        test_patch=str(record.get("test_patch") or ""),
        fail_to_pass=_tests(record.get("FAIL_TO_PASS")),
        pass_to_pass=_tests(record.get("PASS_TO_PASS")),
        environment=environment,
        raw=record,
    )


def load_instances(path: Path) -> list[Instance]:
    """Every instance in a SWE-bench file: a JSON list, or JSON Lines."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        if text.lstrip().startswith("["):
            records = json.loads(text)
        else:
            records = [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path} is not SWE-bench JSON or JSONL: {exc}") from exc
    if not all(isinstance(r, dict) for r in records):
        raise UsageError(f"{path}: every instance must be a JSON object")
    instances = [instance_from_record(r, f"{path} #{i + 1}") for i, r in enumerate(records)]
    seen: set[str] = set()
    for instance in instances:
        if instance.instance_id in seen:
            raise UsageError(f"{path}: instance {instance.instance_id} appears twice")
        seen.add(instance.instance_id)
    return instances


def select(
    instances: Sequence[Instance], ids: Sequence[str] = (), slice_spec: str | None = None
) -> list[Instance]:
    """The instances named by id (in the file's order), or those in `A:B` (Python's slice)."""
    chosen = list(instances)
    if ids:
        known = {i.instance_id for i in instances}
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise UsageError(f"no such instance in the dataset: {', '.join(unknown)}")
        wanted = set(ids)
        chosen = [i for i in chosen if i.instance_id in wanted]
    if slice_spec:
        try:
            start, _, stop = slice_spec.partition(":")
            chosen = chosen[slice(int(start) if start else None, int(stop) if stop else None)]
        except ValueError as exc:
            raise UsageError(f"--slice must look like A:B (e.g. 0:30), not {slice_spec!r}") from exc
    return chosen
