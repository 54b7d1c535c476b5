"""SWE-bench Lite's Django instances without a Django clone: each base tree rebuilt from a
released sdist (which ships `tests/` and `tests/runtests.py`) with the instance's gold patch and
test patch taken back out (`git apply -R`, exact: no fuzz).

Django's repository is larger than this machine can bring in as a mirror, so the benchmark
cannot check out `base_commit`. A release made after the fix holds the fixed code and its
tests; removing both gives a tree where the bug is back and the tests that catch it are gone,
which is what SWE-bench starts from (the rest of the tree is the release's, not the commit's).
Writes one repository `OUT/django+django` (a branch per instance) and a copy of the instances
whose `base_commit` names those branches' commits, for `run.py --repos OUT --data FILE`.

Usage: python bench/real/django_sdist.py --sdists DIR --out DIR [--instance ID=Django-X.Y ...]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bench.real.harness import _git

DATA = REPO.parent / "shared" / "data" / "swe-bench-lite-test.json"
DEFAULT = {
    "django__django-12983": "Django-3.2",
    "django__django-16046": "Django-4.2a1",
    "django__django-11099": "Django-3.0",
}
"""Instance -> the first release (sdist `Django-X.tar.gz`) made after its fix."""
IGNORED = "__pycache__/\n*.py[co]\n*.egg-info/\n"
"""What Django's own .gitignore keeps out (an sdist has none): test runs leave these."""


def base_tree(instance: dict[str, str], sdist: Path, scratch: Path) -> Path:
    """The release with the instance's fix and tests reverted, committed in a repository."""
    with tarfile.open(sdist) as archive:
        archive.extractall(scratch, filter="data")
    tree = scratch / sdist.name.removesuffix(".tar.gz")
    (tree / ".gitignore").write_text(IGNORED)
    _git(tree, "init", "-q")
    for name in ("test_patch", "patch"):
        _git(tree, "apply", "-R", "--whitespace=nowarn", "-", stdin=instance[name])
    _git(tree, "add", "-A")
    release = sdist.name.removesuffix(".tar.gz")
    _git(tree, "commit", "-q", "-m", f"{release} less {instance['instance_id']}'s fix and tests")
    return tree


def build(sdists: Path, out: Path, wanted: dict[str, str]) -> list[dict[str, str]]:
    instances = {i["instance_id"]: i for i in json.loads(DATA.read_text())}
    repo = out / "django+django"
    if not repo.exists():
        subprocess.run(["git", "init", "-q", "--bare", str(repo)], check=True)
    derived = []
    for name, release in wanted.items():
        instance = dict(instances[name])
        with tempfile.TemporaryDirectory(prefix="acb-django-") as scratch:
            tree = base_tree(instance, sdists / f"{release}.tar.gz", Path(scratch))
            _git(tree, "push", "-q", "-f", str(repo), f"HEAD:refs/heads/{name}")
            commit = _git(tree, "rev-parse", "HEAD").strip()
        instance["upstream_base_commit"] = instance["base_commit"]
        instance["base_commit"] = commit
        derived.append(instance)
        print(f"{name}: {release} less the fix -> {commit[:12]}", flush=True)
    return derived


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sdists", type=Path, required=True, help="holds Django-X.Y.tar.gz")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--instance", action="append", help="ID=Django-X.Y (repeatable)")
    args = parser.parse_args()
    wanted = dict(i.split("=", 1) for i in args.instance) if args.instance else DEFAULT
    args.out.mkdir(parents=True, exist_ok=True)
    derived = build(args.sdists, args.out, wanted)
    (args.out / "instances.json").write_text(json.dumps(derived, indent=1) + "\n")


if __name__ == "__main__":
    main()
