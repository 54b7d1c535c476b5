"""Checkpoints: the exact bytes of a working tree, kept in private refs, and restored on undo.

A checkpoint hashes every tracked and untracked-not-ignored file *raw* (`--no-filters`: no
CRLF conversion, no LFS clean filter), so what comes back on undo is byte-identical. It is
built in a private index file and stored as a commit under `refs/acb/checkpoints/<run>/<name>`:
the user's index, stash, branch and HEAD never move. File stats are cached between snapshots of
one process and, in `<git dir>/acb/snapshot-cache.json`, across processes, so only files that
changed are hashed again: a new run on a large unchanged tree reads stats, not contents.
"""

from __future__ import annotations

import json
import stat
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autocodebase.vcs.git import (
    UNTRACKED_LITTER_EXCLUDED,
    GitError,
    git,
    git_invocation,
    git_run,
    git_text,
    head_commit,
)
from autocodebase.vcs.protected import nested_repositories

REF_PREFIX = "refs/acb/checkpoints"


@dataclass(frozen=True)
class Entry:
    mode: str
    blob: str


Tree = dict[str, Entry]


StatKey = tuple[int, int, int, int]
RACY_WINDOW_NS = 2_000_000_000
"""Files modified this recently are not cached: a coarse clock could hide a second change."""


@dataclass
class Snapshotter:
    root: Path
    _stat_cache: dict[str, tuple[StatKey, Entry]] = field(default_factory=dict)
    hashed: int = 0
    """Files hashed by this snapshotter (what the cache saves shows here)."""
    _loaded: bool = False
    _dirty: bool = False

    _cache_file: Path | None = None
    nested: list[str] = field(default_factory=list)
    """Repositories inside the work tree at the last snapshot (`nested_repositories`). Git
    itself keeps a nested repository (`sub/`) and `.git` look-alikes out of every tree; a bare
    repository's files are ordinary files to it, so they are in checkpoints (undo removes them)."""

    @property
    def cache_file(self) -> Path:
        if self._cache_file is None:
            git_dir = Path(git_text(self.root, "rev-parse", "--absolute-git-dir"))
            self._cache_file = git_dir / "acb" / "snapshot-cache.json"
        return self._cache_file

    def _load_cache(self) -> None:
        self._loaded = True
        try:
            data = json.loads(self.cache_file.read_text())
            self._stat_cache = {
                path: ((row[0], row[1], row[2], row[3]), Entry(row[4], row[5]))
                for path, row in data["entries"].items()
            }
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            self._stat_cache = {}

    def save_cache(self) -> None:
        if not self._dirty:
            return
        entries = {p: [*key, e.mode, e.blob] for p, (key, e) in self._stat_cache.items()}
        target = self.cache_file
        target.parent.mkdir(parents=True, exist_ok=True)
        scratch = target.with_suffix(".tmp")
        scratch.write_text(json.dumps({"version": 1, "entries": entries}))
        scratch.replace(target)
        self._dirty = False

    def _paths(self) -> tuple[list[str], dict[str, Entry]]:
        paths, staged = listed_files(self.root)
        gitlinks = {p: e for p, e in staged.items() if e.mode == "160000"}
        self.nested = nested_repositories(self.root, paths)
        return paths, gitlinks

    def entries(self) -> Tree:
        """The working tree as {path: (mode, raw blob id)}, hashing only what changed."""
        if not self._loaded:
            self._load_cache()
        paths, gitlinks = self._paths()
        tree: Tree = {}
        checked: dict[str, bool] = {}
        to_hash: list[tuple[str, StatKey]] = []
        links: dict[str, bytes] = {}
        for path in paths:
            if path in gitlinks:
                tree[path] = gitlinks[path]  # a submodule: recorded by commit, never rewritten
                continue
            full = self.root / path
            if "\n" in path or not real_dirs(self.root, path, checked):
                continue  # behind a symlinked directory (or unspeakable to git): not a file here
            try:
                info = full.lstat()
            except FileNotFoundError:
                continue  # tracked but deleted in the working tree
            key = (info.st_mtime_ns, info.st_size, info.st_ino, info.st_mode)
            cached = self._stat_cache.get(path)
            if cached and cached[0] == key:
                tree[path] = cached[1]
            elif stat.S_ISLNK(info.st_mode):
                links[path] = str(full.readlink()).encode("utf-8", "surrogateescape")
            elif stat.S_ISREG(info.st_mode):
                to_hash.append((path, key))
        if to_hash:
            ids = (
                git(
                    self.root,
                    "hash-object",
                    "-w",
                    "--no-filters",
                    "--stdin-paths",
                    # Absolute paths: git C-unquotes a line that starts with '"', so a file
                    # named '"\\057etc\\057shadow"' would otherwise hash /etc/shadow.
                    input="\n".join(str(self.root / p) for p, _ in to_hash).encode(
                        "utf-8", "surrogateescape"
                    )
                    + b"\n",
                )
                .decode()
                .split()
            )
            settled = time.time_ns() - RACY_WINDOW_NS
            for (path, key), blob in zip(to_hash, ids, strict=True):
                # The key is the stat taken before hashing: a change during hashing shows next time.
                entry = Entry("100755" if key[3] & 0o111 else "100644", blob)
                tree[path] = entry
                if key[0] < settled:
                    self._stat_cache[path] = (key, entry)
                    self._dirty = True
            self.hashed += len(to_hash)
        for path, target in links.items():
            blob = git(self.root, "hash-object", "-w", "--stdin", input=target).decode().strip()
            tree[path] = Entry("120000", blob)
        return tree

    def write_tree(self, tree: Tree) -> str:
        with tempfile.TemporaryDirectory(prefix="acb-index-") as scratch:
            env = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
            lines = "".join(f"{e.mode} {e.blob}\t{p}\0" for p, e in sorted(tree.items()))
            git(
                self.root,
                "update-index",
                "-z",
                "--add",
                "--index-info",
                input=lines.encode("utf-8", "surrogateescape"),
                env=env,
            )
            return git_text(self.root, "write-tree", env=env)

    def checkpoint(self, run_id: str, name: str) -> str:
        """Store the working tree now as `refs/acb/checkpoints/<run>/<name>`; return the ref."""
        try:
            tree_id = self.write_tree(self.entries())
        except GitError:
            # A cached blob may have been pruned by `git gc`: forget the cache, hash afresh.
            self._stat_cache.clear()
            tree_id = self.write_tree(self.entries())
        self.save_cache()
        parents = ["-p", head] if (head := head_commit(self.root)) else []
        commit = git_text(
            self.root,
            "commit-tree",
            tree_id,
            *parents,
            "-m",
            f"acb checkpoint {run_id} {name}",
            env=IDENTITY,
        )
        ref = f"{REF_PREFIX}/{run_id}/{name}"
        git(self.root, "update-ref", ref, commit)
        return ref


IDENTITY = {
    "GIT_AUTHOR_NAME": "acb",
    "GIT_AUTHOR_EMAIL": "acb@localhost",
    "GIT_COMMITTER_NAME": "acb",
    "GIT_COMMITTER_EMAIL": "acb@localhost",
}
"""Only for private checkpoint objects, which never appear in the user's history."""


def listed_files(root: Path) -> tuple[list[str], dict[str, Entry]]:
    """Tracked and untracked-not-ignored files under `root` (as `worktree_files` lists them),
    with the index entries (stage 0) of the tracked ones, from one `git ls-files`: a snapshot
    is taken around every command that may change files, and a second git process was a
    third of its time. `-t` tags each record, so an untracked file whose name looks like an
    index entry ("160000 <id> 0<TAB>src/app.py") is still read as the name it is."""
    listing = ("ls-files", "-z", "-t", "--cached", "--others", "--exclude-standard", "--stage")
    done = git_run(root, *listing, *UNTRACKED_LITTER_EXCLUDED)
    if done.returncode != 0:
        # Never an empty listing instead: a checkpoint of nothing is an undo point that
        # deletes every file (found by an attack on issue 23's background checkpoint).
        how = f"stopped by signal {-done.returncode}" if done.returncode < 0 else "failed"
        raise GitError(f"git cannot list the files of {root} (git ls-files {how})")
    paths: set[str] = set()
    staged: dict[str, Entry] = {}
    for record in done.stdout.decode("utf-8", "surrogateescape").split("\0"):
        if not record:
            continue
        tag, _, rest = record.partition(" ")
        if tag == "?":
            paths.add(rest)
            continue
        meta, tab, path = rest.partition("\t")
        fields = meta.split()
        if not tab or len(fields) != 3 or len(tag) != 1:
            raise GitError(f"git ls-files: unexpected record {record[:80]!r}")
        paths.add(path)
        if fields[2] == "0":
            staged[path] = Entry(fields[0], fields[1])
    return sorted(paths), staged


def index_entries(root: Path, paths: list[str] | None = None) -> dict[str, Entry]:
    """The user's index entries (stage 0): for `paths`, or all of them when None."""
    if paths is not None and not paths:
        return {}
    staged = git(root, "ls-files", "-z", "--stage", "--", *(paths or []))
    found: dict[str, Entry] = {}
    for record in staged.decode("utf-8", "surrogateescape").split("\0"):
        if record:
            meta, path = record.split("\t", 1)
            mode, blob, _stage = meta.split()
            found[path] = Entry(mode, blob)
    return found


def read_tree(root: Path, treeish: str) -> Tree:
    listing = git(root, "ls-tree", "-r", "-z", "--full-tree", treeish).decode(
        "utf-8", "surrogateescape"
    )
    tree: Tree = {}
    for record in listing.split("\0"):
        if not record:
            continue
        meta, path = record.split("\t", 1)
        mode, _kind, blob = meta.split()
        tree[path] = Entry(mode, blob)
    return tree


def changed_paths(before: Tree, after: Tree) -> list[str]:
    return sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))


def real_parents(root: Path, path: str) -> bool:
    """Whether every directory between `root` and `path` is a real directory, not a symlink.

    A command may replace a tracked directory by a symlink (`pkg -> /root`, or to acb's own
    site-packages): reading `pkg/x` would then read a file the sandbox hides, and writing it
    (undo) would write outside the workspace."""
    return real_dirs(root, path, {})


def real_dirs(root: Path, path: str, checked: dict[str, bool]) -> bool:
    """`real_parents`, remembering each directory's answer in `checked` (a snapshot of a large
    tree asks about the same few thousand directories for every file)."""
    parent = path.rpartition("/")[0]
    if not parent:
        return True
    known = checked.get(parent)
    if known is None:
        known = not (root / parent).is_symlink() and real_dirs(root, parent, checked)
        checked[parent] = known
    return known


def _unlink_symlinked_parents(root: Path, path: str) -> None:
    """Turn symlinks standing where `path`'s directories were back into nothing, so the
    directories can be made again inside the workspace (the symlinks are the run's doing)."""
    current = root
    for part in Path(path).parts[:-1]:
        current = current / part
        if current.is_symlink():
            current.unlink()
            return


def write_entry(root: Path, path: str, entry: Entry | None) -> None:
    """Make `path` hold exactly `entry`'s bytes and mode (or not exist, for None), never
    through a symlinked directory."""
    target = root / path
    if entry is not None and entry.mode == "160000":
        return  # submodules are never rewritten
    while not real_parents(root, path):
        _unlink_symlinked_parents(root, path)
    if target.is_symlink() or target.is_file():
        target.unlink()
    elif target.is_dir() and entry is not None:
        raise OSError(f"{path} is now a directory; cannot restore a file there")
    if entry is None:
        parent = target.parent
        while parent != root and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent
        return
    data = git(root, "cat-file", "blob", entry.blob)
    target.parent.mkdir(parents=True, exist_ok=True)
    if entry.mode == "120000":
        target.symlink_to(data.decode("utf-8", "surrogateescape"))
        return
    target.write_bytes(data)
    target.chmod(0o755 if entry.mode == "100755" else 0o644)


def _inside_only(member: Any, destination: str) -> Any:
    """tarfile's "data" filter, except that a member it refuses (a symlink to an absolute path
    or out of the tree, which repositories do contain) is left out of the copy instead of
    ending the export, and the test gate's baseline run with it."""
    import tarfile

    try:
        return tarfile.data_filter(member, destination)
    except tarfile.FilterError:
        return None


def export_tree(root: Path, tree_id: str, destination: Path, paths: Sequence[str] = ()) -> None:
    """Write the files of `tree_id` (a checkpoint, commit or tree; only `paths` when given)
    into `destination`, streamed through `git archive` so a big repository is never held in
    memory."""
    import subprocess
    import tarfile

    only = ["--", *paths] if paths else []
    argv, env = git_invocation(root, ("archive", "--format=tar", tree_id, *only))
    with subprocess.Popen(
        argv, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    ) as archive:
        assert archive.stdout is not None
        with tarfile.open(fileobj=archive.stdout, mode="r|") as tar:
            tar.extractall(destination, filter=_inside_only)  # noqa: S202 - data_filter per member
        # tarfile stops at the end-of-archive blocks; git pads the archive past them to a whole
        # record. Closing the pipe before git wrote the padding killed it with SIGPIPE (status
        # -13), now and then: a review or a baseline run failed on a good commit.
        while archive.stdout.read(1 << 16):
            pass
    if archive.returncode != 0:
        raise GitError(f"git archive {tree_id} failed with status {archive.returncode}")
