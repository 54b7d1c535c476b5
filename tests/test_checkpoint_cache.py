"""Snapshots across processes: an unchanged tree is not hashed again; a bad cache is survived."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from autocodebase.vcs.checkpoint import Snapshotter, read_tree


def old_files(root: Path, count: int) -> None:
    past = time.time() - 3600
    for index in range(count):
        path = root / f"f{index}.txt"
        path.write_text(f"file {index}\n")
        os.utime(path, (past, past))


def test_a_second_process_hashes_only_what_changed(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    old_files(tmp_path, 20)
    first = Snapshotter(tmp_path)
    first.checkpoint("run1", "start")
    assert first.hashed == 20

    second = Snapshotter(tmp_path)
    assert len(second.entries()) == 20 and second.hashed == 0

    (tmp_path / "f3.txt").write_text("changed\n")
    third = Snapshotter(tmp_path)
    tree = third.entries()
    assert third.hashed == 1
    blob = subprocess.run(
        ["git", "cat-file", "blob", tree["f3.txt"].blob],
        cwd=tmp_path,
        capture_output=True,
        check=True,
    ).stdout
    assert blob == b"changed\n"


def test_a_cache_pointing_at_missing_objects_is_dropped(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    old_files(tmp_path, 3)
    Snapshotter(tmp_path).checkpoint("run1", "start")
    cache = tmp_path / ".git" / "acb" / "snapshot-cache.json"
    data = json.loads(cache.read_text())
    for row in data["entries"].values():
        row[5] = "0123456789abcdef0123456789abcdef01234567"  # as if gc had pruned them
    cache.write_text(json.dumps(data))
    recovered = Snapshotter(tmp_path)
    ref = recovered.checkpoint("run2", "start")
    assert {p: e.blob for p, e in read_tree(tmp_path, ref).items()} != {}
    assert recovered.hashed == 3
