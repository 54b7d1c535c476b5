"""Packages as of the instance's era: what an environment built today downgrades.

SWE-bench's specs pin a few packages per (repository, version) and leave the rest to the index
of the day the environment is built. Built today, sphinx 3.5 gets docutils 0.23, which removed
`docutils.utils.roman`, and its gold patch fails tests that passed when the specs were written.
So an environment may be given a date: once built, every installed distribution whose version
was uploaded on or after that date is replaced by the newest earlier release that supports the
environment's Python, and pip resolves the replacements together. The spec's own `==` pins and
pip itself are left alone; a distribution the index does not know (the project's own) is too.

Upload dates come from the index's JSON API (PyPI's `/pypi/NAME/json`): this machine's local
file indexes carry none, which is why pip's `--uploaded-prior-to` cannot do this here (and the
venvs' pip predates it). Answers are cached in the environment cache, per project.
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from autocodebase.errors import UsageError

SPECS_ERA = date(2024, 8, 1)
"""The default for instances graded with SWE-bench's specs: the newest pins in swebench 4.1.0's
specs are from July 2024 (tox 4.16.0, 2024-07-02), so nothing released later was ever tested
with these instances. An instance created later gets its own creation date instead."""
UNTOUCHED = frozenset({"pip"})
"""The installer stays as the venv was made (SWE-bench keeps its conda's pip)."""
INDEX_JSON = os.environ.get("ACB_EVAL_INDEX_JSON", "https://pypi.org/pypi")
FETCH_ATTEMPTS = 3
ROUNDS = 3
"""Downgrades bring older dependencies, which are checked again: a few rounds settle."""


class UploadDatesUnavailable(Exception):
    """The index's upload dates could not be read (offline, or an index without a JSON API)."""


def parse_packages_before(value: str | None) -> date | str | None:
    """`--packages-before`: a date, `none` (today's packages), or absent (each instance's own
    default, returned as the string "default")."""
    if value is None:
        return "default"
    if value.lower() == "none":
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--packages-before {value!r}: a date (YYYY-MM-DD) or none") from None


def era_of(spec: Mapping[str, Any], own_environment: bool, created_at: str) -> date | None:
    """The default date for an instance: its own environment's `packages_before` (none when it
    states none), SWE-bench's era for the specs, or the instance's creation if later."""
    if own_environment:
        stated = spec.get("packages_before")
        return date.fromisoformat(str(stated)) if stated else None
    created = _day(created_at)
    return max(SPECS_ERA, created) if created else SPECS_ERA


def _day(text: str) -> date | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date() if text else None
    except ValueError:
        return None


@dataclass(frozen=True)
class Release:
    version: str
    uploaded: datetime
    requires_python: str


VALID_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
"""A distribution name as the packaging specifications allow it."""


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


class UploadDates:
    """The releases of each project on the index, with their first upload time, cached."""

    def __init__(self, cache: Path, index_json: str = INDEX_JSON) -> None:
        self.folder = cache / "index-json"
        self.index_json = index_json.rstrip("/")

    def releases(self, name: str, must_have: str | None = None) -> list[Release] | None:
        """None when the index does not know `name`. Fetched again when the cached answer
        predates `must_have` (a version installed since)."""
        path = self.folder / f"{_normal(name)}.json"
        try:
            cached = json.loads(path.read_text())
        except (OSError, ValueError):
            cached = None
        known = cached.get("releases", {}) if cached else {}
        if cached is None or (
            must_have is not None and must_have not in known and not cached.get("unknown")
        ):
            cached = self._fetch(name)
            self.folder.mkdir(parents=True, exist_ok=True)
            temporary = path.with_suffix(f".{os.getpid()}.tmp")
            temporary.write_text(json.dumps(cached))
            temporary.replace(path)
        if cached.get("unknown"):
            return None
        return _releases(cached.get("releases", {}))

    def _fetch(self, name: str) -> dict[str, Any]:
        url = f"{self.index_json}/{_normal(name)}/json"
        for attempt in range(FETCH_ATTEMPTS):
            try:
                with urllib.request.urlopen(url, timeout=30) as answer:  # noqa: S310 - https or a test's loopback
                    data = json.load(answer)
                return {"releases": data.get("releases", {})}
            except urllib.error.HTTPError as exc:
                if exc.code == 404:
                    return {"unknown": True}
                error: Exception = exc
            except (OSError, ValueError) as exc:
                error = exc
            time.sleep(0.5 * 2**attempt)
        raise UploadDatesUnavailable(f"{url}: {error}")


def _releases(raw: Mapping[str, Any]) -> list[Release]:
    """Each version's first upload; yanked files and versions with no file left out."""
    found = []
    for version, files in raw.items():
        kept = [f for f in files if not f.get("yanked")]
        times = [f["upload_time_iso_8601"] for f in kept if f.get("upload_time_iso_8601")]
        if not times:
            continue
        requires = next((f.get("requires_python") or "" for f in kept), "")
        uploaded = min(datetime.fromisoformat(t.replace("Z", "+00:00")) for t in times)
        found.append(Release(version, uploaded, requires))
    return found


def downgrades(
    installed: Mapping[str, str],
    before: date,
    python: str,
    dates: UploadDates,
    keep: frozenset[str] = frozenset(),
) -> dict[str, str]:
    """`{name: version}` for each installed distribution uploaded on or after `before`: the
    newest final release uploaded earlier that supports `python` (an `X.Y.Z` version). Raises
    `UploadDatesUnavailable` when the index cannot be read."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version

    cutoff = datetime(before.year, before.month, before.day, tzinfo=UTC)
    skipped = UNTOUCHED | {_normal(k) for k in keep}
    # Names come from the built venv, which the checkout's own build wrote: one that is not a
    # project name (`/etc/x`, `../y`) would become a path in the cache and in the URL.
    candidates = {
        n: v for n, v in installed.items() if VALID_NAME.fullmatch(n) and _normal(n) not in skipped
    }

    def supports(release: Release) -> bool:
        try:
            return not release.requires_python or python in SpecifierSet(release.requires_python)
        except InvalidSpecifier:
            return True

    def older(item: tuple[str, str]) -> tuple[str, str] | None:
        name, version = item
        releases = dates.releases(name, must_have=version)
        if releases is None:
            return None  # not on the index: the project itself, or a local build
        current = next((r for r in releases if r.version == version), None)
        if current is None or current.uploaded < cutoff:
            return None
        earlier = []
        for release in releases:
            try:
                parsed = Version(release.version)
            except InvalidVersion:
                continue
            if release.uploaded < cutoff and not parsed.is_prerelease and supports(release):
                earlier.append((parsed, release.version))
        return (name, max(earlier)[1]) if earlier else None

    with ThreadPoolExecutor(max_workers=8) as pool:
        found = list(pool.map(older, sorted(candidates.items())))
    return dict(item for item in found if item is not None)


def pin_to_era(
    before: date,
    python: str,
    dates: UploadDates,
    list_installed: Callable[[], dict[str, str]],
    install: Callable[[list[str]], None],
    keep: frozenset[str] = frozenset(),
) -> dict[str, str]:
    """Downgrade what is newer than `before`, round after round until nothing is; the
    versions installed by it, by name."""
    pinned: dict[str, str] = {}
    for _ in range(ROUNDS):
        older = downgrades(list_installed(), before, python, dates, keep)
        older = {n: v for n, v in older.items() if pinned.get(n) != v}
        if not older:
            break
        install([f"{name}=={version}" for name, version in sorted(older.items())])
        pinned.update(older)
    return pinned


def exact_pins(requirements: list[list[str]]) -> frozenset[str]:
    """The names a spec pins with `==`: the spec wins over the era."""
    names = set()
    for group in requirements:
        for requirement in group:
            match = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*==", requirement)
            if match:
                names.add(_normal(match.group(1)))
    return frozenset(names)
