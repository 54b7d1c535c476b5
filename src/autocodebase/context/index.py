"""The persistent symbol index of a repository, `.acb/index/symbols.db`.

Kept current incrementally: a file whose mtime and size are unchanged is trusted; one whose
stat changed is hashed, and re-parsed only if its bytes changed (a `git checkout` that
rewrites identical content costs a hash, not a parse). A cold build parses in a process pool
over all cores. The extractor's version is stored, so changing a query re-parses everything
instead of mixing old and new symbols.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import queue
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from autocodebase.context.languages import spec_for
from autocodebase.context.parsing import _parse_one, _Parsed
from autocodebase.context.symbols import Definition
from autocodebase.vcs.git import worktree_files

EXTRACTOR_VERSION = "4"
"""Bump when a query or the extractor changes what it stores."""
INDEX_DIR = Path(".acb") / "index"
PARALLEL_THRESHOLD = 150
"""Below this many files to parse, starting worker processes costs more than it saves."""
_SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".acb",
        "node_modules",
        "__pycache__",
        ".venv",
        "venv",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
        "build",
        "dist",
        "target",
    }
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files(
    id INTEGER PRIMARY KEY, path TEXT UNIQUE NOT NULL, mtime_ns INTEGER NOT NULL,
    size INTEGER NOT NULL, sha1 TEXT NOT NULL, language TEXT NOT NULL, doc TEXT NOT NULL,
    terms TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS defs(
    file_id INTEGER NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL, line INTEGER NOT NULL,
    end_line INTEGER NOT NULL, signature TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS refs(
    file_id INTEGER NOT NULL, name TEXT NOT NULL, count INTEGER NOT NULL, lines TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS defs_by_file ON defs(file_id);
CREATE INDEX IF NOT EXISTS refs_by_file ON refs(file_id);
CREATE TABLE IF NOT EXISTS memo(
    key TEXT PRIMARY KEY, generation INTEGER NOT NULL, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class RefreshStats:
    """What one refresh did, for `acb map --stats` and the benchmarks."""

    files: int
    parsed: int
    rehashed: int
    removed: int
    seconds: float
    workers: int


def source_files(root: Path) -> list[str]:
    """Files of the repository that we can parse: git's view when it is a repository (tracked
    and untracked-not-ignored), else a walk that skips the usual vendored and build folders."""
    listed = worktree_files(root)
    if listed is None:
        listed = list(_walk(root))
    return _inside_all(root, [p for p in listed if spec_for(p) is not None])


def _inside_all(root: Path, paths: list[str]) -> list[str]:
    """Those of `paths` that are in `root`, symlinks followed: `paths.inside` for each, with
    each directory resolved once instead of once per file (two `realpath`s per file were a
    tenth of a warm build). realpath(dir/name) is realpath(dir)/name unless name is a link."""
    real_root = os.path.realpath(root)
    prefix = real_root.rstrip("/") + "/"
    real_dirs: dict[str, str] = {}
    kept: list[str] = []
    for path in paths:
        directory, _, name = path.rpartition("/")
        real_dir = real_dirs.get(directory)
        if real_dir is None:
            real_dir = real_dirs[directory] = os.path.realpath(root / directory).rstrip("/")
        real = f"{real_dir}/{name}"
        if os.path.islink(real):  # noqa: PTH114 - a Path per file costs more than the check
            real = os.path.realpath(real)
        if real == real_root or real.startswith(prefix):
            kept.append(path)
    return kept


def _walk(root: Path) -> Iterator[str]:
    for directory, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in _SKIP_DIRS and not d.startswith(".")]
        base = os.path.relpath(directory, root)
        for name in files:
            yield name if base == "." else f"{base}/{name}"


def _parse_in_workers(
    root: str, jobs: list[tuple[str, int, int, str]], count: int
) -> Iterator[_Parsed | None]:
    """Parse in `count` child interpreters (`python -m autocodebase.context.parse_worker`),
    yielding results as they arrive so that memory stays flat however big the repository.

    Not multiprocessing: its spawn mode re-runs the caller's main script, which breaks any
    script without a `__main__` guard, and fork is unsafe while a run has a thread importing
    an SDK. Jobs are dealt biggest first, round robin, so no worker gets all the big files.
    One reader thread per child keeps every pipe drained, so no worker stalls on a full pipe."""
    ordered = sorted(jobs, key=lambda job: -job[2])
    shares = [ordered[i::count] for i in range(count)]
    children = [
        subprocess.Popen(
            # -P: the repository is our cwd, and must not shadow acb's own modules.
            [sys.executable, "-P", "-m", "autocodebase.context.parse_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        for _ in shares
    ]
    arrived: queue.Queue[list[_Parsed | None] | None] = queue.Queue(maxsize=4 * count)

    def drain(stream: IO[bytes]) -> None:
        try:
            while True:
                arrived.put(pickle.load(stream))  # noqa: S301 - our own child's output
        except (EOFError, pickle.UnpicklingError, ValueError, OSError):
            pass  # end of stream; a worker that died is caught by its exit status
        finally:
            arrived.put(None)

    try:
        for child, share in zip(children, shares, strict=True):
            assert child.stdin is not None and child.stdout is not None
            child.stdin.write(pickle.dumps((root, share)))
            child.stdin.close()
            threading.Thread(target=drain, args=(child.stdout,), daemon=True).start()
        finished = 0
        while finished < len(children):
            batch = arrived.get()
            if batch is None:
                finished += 1
            else:
                yield from batch
        for child in children:
            if child.wait() != 0:
                raise RuntimeError(f"index worker exited with status {child.returncode}")
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
            if child.stdout is not None:
                child.stdout.close()


def default_location(root: Path) -> Path:
    """In a git work tree, `.acb/index/` beside the sources (git ignores it, and a fresh clone
    starts cold). Elsewhere the user's cache: a folder that is not a project does not get a
    30 MB directory it never asked for."""
    if any((folder / ".git").exists() for folder in (root, *root.parents)):
        return root / INDEX_DIR / "symbols.db"
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    digest = hashlib.sha1(str(root).encode(), usedforsecurity=False).hexdigest()[:16]
    return cache / "acb" / "index" / f"{root.name or 'root'}-{digest}" / "symbols.db"


class SymbolIndex:
    """Definitions and references of every parseable file of one repository, on disk."""

    def __init__(self, root: Path, location: Path | None = None) -> None:
        self.root = root.resolve()
        self.path = location or default_location(self.root)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        ignore = self.path.parent / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# acb's symbol index: a cache, rebuilt from the sources\n*\n")
        # Built in a background thread at the start of a run, then used by the run's tools.
        self.db = sqlite3.connect(self.path, timeout=10, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self._migrate()

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> SymbolIndex:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _migrate(self) -> None:
        """A cache needs no migrations: if the stored extractor differs, start over."""
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)"
        )
        row = self.db.execute("SELECT value FROM meta WHERE key='extractor'").fetchone()
        if row is None or row[0] != EXTRACTOR_VERSION:
            with self.db:
                for table in ("files", "defs", "refs", "memo"):
                    self.db.execute(f"DROP TABLE IF EXISTS {table}")
                self.db.execute(
                    "INSERT OR REPLACE INTO meta(key, value) VALUES('extractor', ?)",
                    (EXTRACTOR_VERSION,),
                )
        self.db.executescript(_SCHEMA)

    def generation(self) -> int:
        """A number that changes whenever the indexed content does (see `memo`)."""
        row = self.db.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
        return int(row[0]) if row else 0

    def _next_generation(self) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO meta(key, value) VALUES('generation', ?)",
            (str(self.generation() + 1),),
        )
        self.db.execute("DELETE FROM memo")

    def recall(self, key: str, generation: int) -> str | None:
        """What `remember` stored under `key` for this `generation` of the content, if anything."""
        row = self.db.execute(
            "SELECT value FROM memo WHERE key=? AND generation=?", (key, generation)
        ).fetchone()
        return None if row is None else str(row[0])

    def remember(self, key: str, generation: int, value: str) -> None:
        """Keep `value`, a pure function of the content at `generation` (a rendered map), so
        that a warm run with nothing changed answers without ranking again. Stored only if
        the content is still at that generation: another process may have refreshed since."""
        with self.db:
            if self.generation() == generation:
                self.db.execute(
                    "INSERT OR REPLACE INTO memo(key, generation, value) VALUES(?,?,?)",
                    (key, generation, value),
                )

    def refresh(
        self,
        files: Iterable[str] | None = None,
        workers: int | None = None,
        while_parsing: Callable[[], None] | None = None,
    ) -> RefreshStats:
        """Bring the index up to date with the working tree; cheap when nothing changed.

        `while_parsing` runs in a thread while worker processes parse (this process is idle
        then), e.g. to load what the map will need next."""
        started = time.perf_counter()
        listed = source_files(self.root) if files is None else list(files)
        known = {
            path: (file_id, mtime_ns, size, sha1)
            for file_id, path, mtime_ns, size, sha1 in self.db.execute(
                "SELECT id, path, mtime_ns, size, sha1 FROM files"
            )
        }
        jobs: list[tuple[str, int, int, str]] = []
        present: set[str] = set()
        for path in listed:
            try:
                stat = (self.root / path).stat()
            except OSError:
                continue
            present.add(path)
            entry = known.get(path)
            if entry is not None and entry[1] == stat.st_mtime_ns and entry[2] == stat.st_size:
                continue
            jobs.append((path, stat.st_mtime_ns, stat.st_size, entry[3] if entry else ""))
        gone = [known[p][0] for p in known.keys() - present]
        results, used = self._parse(jobs, workers)
        helper = None
        if used > 1 and while_parsing is not None:
            helper = threading.Thread(target=while_parsing, daemon=True)
            helper.start()
        parsed = rehashed = 0
        with self.db:
            self._forget(gone)
            for result in results:
                if result is None:
                    continue
                if result.unchanged:
                    rehashed += 1
                    self.db.execute(
                        "UPDATE files SET mtime_ns=?, size=? WHERE path=?",
                        (result.mtime_ns, result.size, result.path),
                    )
                else:
                    parsed += 1
                    self._store(result, known.get(result.path, (None,))[0])
            if parsed or gone:
                self._next_generation()
        if helper is not None:
            helper.join()
        return RefreshStats(
            files=len(present),
            parsed=parsed,
            rehashed=rehashed,
            removed=len(gone),
            seconds=time.perf_counter() - started,
            workers=used,
        )

    def _parse(
        self, jobs: list[tuple[str, int, int, str]], workers: int | None
    ) -> tuple[Iterable[_Parsed | None], int]:
        root = str(self.root)
        count = workers or os.cpu_count() or 1
        if count <= 1 or len(jobs) < PARALLEL_THRESHOLD:
            return (_parse_one(root, *job) for job in jobs), 1
        return _parse_in_workers(root, jobs, count), count

    def _forget(self, file_ids: list[int]) -> None:
        for file_id in file_ids:
            self.db.execute("DELETE FROM defs WHERE file_id=?", (file_id,))
            self.db.execute("DELETE FROM refs WHERE file_id=?", (file_id,))
            self.db.execute("DELETE FROM files WHERE id=?", (file_id,))

    def _store(self, parsed: _Parsed, old_id: int | None) -> None:
        if old_id is not None:
            self._forget([old_id])
        cursor = self.db.execute(
            "INSERT INTO files(path, mtime_ns, size, sha1, language, doc, terms) "
            "VALUES(?,?,?,?,?,?,?)",
            (
                parsed.path,
                parsed.mtime_ns,
                parsed.size,
                parsed.sha1,
                parsed.language,
                parsed.doc,
                parsed.terms,
            ),
        )
        file_id = cursor.lastrowid
        self.db.executemany(
            "INSERT INTO defs(file_id, name, kind, line, end_line, signature) VALUES(?,?,?,?,?,?)",
            [(file_id, *d) for d in parsed.definitions],
        )
        self.db.executemany(
            "INSERT INTO refs(file_id, name, count, lines) VALUES(?,?,?,?)",
            [(file_id, *r) for r in parsed.references],
        )

    # Queries used by ranking and rendering -------------------------------------------------

    def paths(self) -> dict[int, str]:
        return dict(self.db.execute("SELECT id, path FROM files"))

    def files(self) -> Iterator[tuple[int, str]]:
        yield from self.db.execute("SELECT id, path FROM files ORDER BY id")

    def documents(self) -> Iterator[str]:
        """Each file's bag of terms for lexical retrieval, in the order of `files()`."""
        for (terms,) in self.db.execute("SELECT terms FROM files ORDER BY id"):
            yield terms

    def all_definitions(self) -> Iterator[tuple[int, str]]:
        yield from self.db.execute("SELECT file_id, name FROM defs")

    def all_references(self) -> Iterator[tuple[int, str, int]]:
        """References to names that some indexed file defines: the only ones that link files."""
        yield from self.db.execute(
            "SELECT file_id, name, count FROM refs WHERE name IN (SELECT name FROM defs)"
        )

    def definitions_of(self, path: str) -> list[Definition]:
        return [
            Definition(*row)
            for row in self.db.execute(
                "SELECT d.name, d.kind, d.line, d.end_line, d.signature FROM defs d "
                "JOIN files f ON f.id = d.file_id WHERE f.path = ? ORDER BY d.line",
                (path,),
            )
        ]

    def references_in(self, path: str) -> dict[str, list[int]]:
        return {
            name: [int(x) for x in lines.split(",")]
            for name, lines in self.db.execute(
                "SELECT r.name, r.lines FROM refs r JOIN files f ON f.id = r.file_id "
                "WHERE f.path = ?",
                (path,),
            )
        }
