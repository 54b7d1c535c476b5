"""Recent multi-hunk commits of a repository as gold patches, headed as git's python driver
heads them, for the same exact-or-explained check as the SWE-bench Lite patches.

Lite has 140 patches in the repositories that can be fetched here, and few with several hunks
in one file; a project's own history has hundreds, which is where the order of hunks and
repeated `@@` headings are exercised.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

ATTRIBUTES = Path(__file__).with_name("python.gitattributes")
MAX_PATCH_CHARS = 60_000


def _git(git_dir: Path, *args: str) -> str:
    settings = ["-c", "core.quotepath=off", "-c", f"core.attributesFile={ATTRIBUTES}"]
    done = subprocess.run(["git", "-C", str(git_dir), *settings, *args], capture_output=True)
    return done.stdout.decode("utf-8", "replace") if done.returncode == 0 else ""


def _several_hunks_in_a_file(patch: str) -> bool:
    return any(part.count("\n@@ ") >= 2 for part in patch.split("\ndiff --git "))


def history_instances(git_dir: Path, repo: str, commits: int) -> list[dict[str, str]]:
    """The last `commits` non-merge commits whose .py diff has a file with two hunks or more."""
    instances = []
    for sha in _git(git_dir, "rev-list", "--no-merges", "-n", str(commits), "HEAD").split():
        patch = _git(git_dir, "diff", f"{sha}^", sha, "--", "*.py")
        if patch and len(patch) <= MAX_PATCH_CHARS and _several_hunks_in_a_file(patch):
            name = f"{repo}@{sha[:12]}"
            instances.append(
                {"instance_id": name, "repo": repo, "base_commit": f"{sha}^", "patch": patch}
            )
    return instances
