"""A task's branch proven against the repository's own CI workflow, as `acb ci` proves one:
its shell steps run in the sandbox on a clean copy of the branch's worktree. A repository
without a workflow gets no CI gate, and the record says so."""

from __future__ import annotations

from pathlib import Path

from autocodebase.autopilot.gates import CiCheck
from autocodebase.delivery.prove import prove

WORKFLOWS = ((".github/workflows", "github"), (".gitlab-ci.yml", "gitlab"))


def workflows(worktree: Path) -> list[tuple[str, str]]:
    """(path, provider) of each workflow `acb ci` can prove: GitHub's `*.yml`/`*.yaml` under
    `.github/workflows/` and GitLab's `.gitlab-ci.yml`."""
    found: list[tuple[str, str]] = []
    folder = worktree / ".github" / "workflows"
    if folder.is_dir():
        for path in sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")]):
            found.append((str(path.relative_to(worktree)), "github"))
    if (worktree / ".gitlab-ci.yml").is_file():
        found.append((".gitlab-ci.yml", "gitlab"))
    return found


def prove_branch(worktree: Path, network: bool = False, timeout_s: int = 900) -> CiCheck | None:
    """Each workflow's steps on the branch; None when there is no workflow."""
    found = workflows(worktree)
    if not found:
        return None
    notes = []
    for path, provider in found:
        text = (worktree / path).read_text(encoding="utf-8", errors="replace")
        proof = prove(worktree, path, text, provider, network, timeout_s)
        if proof.error or any(not result.passed for result in proof.results):
            first = proof.failure().splitlines()[0] if proof.failure() else "failed"
            return CiCheck(False, f"CI {path}: {first}")
        if not proof.results:
            notes.append(f"{path}: no step runs locally")
            continue
        skipped = f", {len(proof.not_run)} not runnable here" if proof.not_run else ""
        notes.append(f"{path}: {len(proof.results)} steps passed{skipped}")
    return CiCheck(True, "CI proven: " + "; ".join(notes))
