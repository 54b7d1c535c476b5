"""Apply all 300 SWE-bench Lite gold patches through acb's edit engine, in Codex format.

Each gold patch (a git diff) is rewritten in Codex's grammar twice: with git's hunk headings as
`@@` anchors (the enclosing definition, which is what models write too) and without anchors.
acb applies each to the files at `base_commit`; the result must equal, byte for byte, what
`git apply` makes of the gold diff. A refusal is fine when it is explained (its message is
classified); a misapplied patch is a defect. Instances whose repository is not in `--repos`
are counted as "repository not available", never as applied or refused. An instance the
harness cannot set up (its base commit missing from a mirror, `git apply` rejecting the gold
diff) is named as failed and counted nowhere, and the command exits 1 without writing unless
`--allow-missing` (bench/outcome.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO))

from autocodebase.edits.apply import apply_edits
from autocodebase.edits.model import PatchError
from autocodebase.edits.parse import parse_edits
from bench.edits.gitdiff import FileDiff, NotExpressible, parse_unified, to_codex
from bench.edits.history import history_instances
from bench.outcome import add_allow_missing, conclude, one_line

DATA = REPO.parent / "shared" / "data" / "swe-bench-lite-test.json"
VARIANTS = {"anchors": True, "no-anchors": False}
UNAVAILABLE = "repository not available"
REFUSAL_CLASSES = (
    ("matches", "ambiguous"),
    ("anchor '@@", "anchor not found"),
    ("could not find the lines", "context not found"),
)

EXPLAINED = {
    "sympy__sympy-16988": "`Union.__new__` and `Intersection.__new__` in sympy/sets/sets.py "
    "open with the same seven lines and the same `def` line, so neither the hunk nor its anchor "
    "says which one the fix is for (only git's line numbers do): refusing is right. Taking the "
    "first occurrence of the anchor would put the fix into `Union`, a misapplied patch.",
}
"""Why a refusal is right, per instance; a refusal missing here is reported as unexplained."""


@dataclass(frozen=True)
class Outcome:
    """One instance in one variant: `status` is exact / misapplied / refused / not-expressible /
    unavailable / failed (the harness could not set the instance up: no figure at all);
    `detail` is the refusal's class and message, what differs, or why it failed."""

    instance: str
    repo: str
    variant: str
    status: str
    detail: str = ""
    repeated_anchor: bool = False


def _git(git_dir: Path, *args: str, stdin: bytes | None = None) -> bytes:
    result = subprocess.run(
        ["git", "-C", str(git_dir), *args], input=stdin, capture_output=True, check=True
    )
    return result.stdout


def find_repo(root: Path, repo: str) -> Path | None:
    """A clone or bare mirror of `owner/name` under `root`, named `owner__name` or `owner+name`
    (optionally holding the git dir as `repo/`, as the fetch tool's mirrors do)."""
    owner, name = repo.split("/")
    for folder in (f"{owner}__{name}", f"{owner}+{name}", name):
        for candidate in (root / folder / "repo", root / folder):
            if candidate.is_dir() and _is_git(candidate):
                return candidate
    return None


def _is_git(path: Path) -> bool:
    probe = subprocess.run(["git", "-C", str(path), "rev-parse", "--git-dir"], capture_output=True)
    return probe.returncode == 0


def pre_image(git_dir: Path, commit: str, files: list[FileDiff]) -> dict[str, bytes]:
    """The touched files as they were at `commit` (added files are absent)."""
    return {
        f.old_path: _git(git_dir, "show", f"{commit}:{f.old_path}")
        for f in files
        if f.old_path is not None
    }


def _write_tree(root: Path, files: dict[str, bytes]) -> None:
    for relative, content in files.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def git_apply(pre: dict[str, bytes], diff: str, scratch: Path) -> dict[str, bytes]:
    """What `git apply` makes of `diff` on `pre`: the exact post-image acb must reproduce."""
    _write_tree(scratch, pre)
    env = {**os.environ, "GIT_CEILING_DIRECTORIES": str(scratch.parent)}
    subprocess.run(
        ["git", "apply", "--whitespace=nowarn", "-"],
        cwd=scratch,
        input=diff.encode(),
        capture_output=True,
        check=True,
        env=env,
    )
    return snapshot(scratch)


def classify(message: str) -> str:
    for fragment, name in REFUSAL_CLASSES:
        if fragment in message:
            return name
    return "other"


def acb_apply(pre: dict[str, bytes], patch: str, scratch: Path) -> dict[str, bytes]:
    """acb's engine, as `acb patch apply` and the apply_patch tool call it."""
    _write_tree(scratch, pre)
    apply_edits(scratch, parse_edits(patch))
    return snapshot(scratch)


def _first_difference(got: dict[str, bytes], want: dict[str, bytes]) -> str:
    for path in sorted(set(got) | set(want)):
        if got.get(path) != want.get(path):
            return f"{path} differs"
    return ""


def repeated_anchor(files: list[FileDiff]) -> bool:
    """Whether two hunks of one file carry the same heading (git names the enclosing definition,
    so every hunk inside one long function or class repeats it)."""
    for diff in files:
        sections = [h.section for h in diff.hunks if h.section]
        if len(sections) != len(set(sections)):
            return True
    return False


def run_instance(instance: dict[str, str], git_dir: Path, work: Path) -> list[Outcome]:
    """Both variants of one instance; `work` is an empty scratch directory."""
    name, repo = instance["instance_id"], instance["repo"]
    files = parse_unified(instance["patch"])
    pre = pre_image(git_dir, instance["base_commit"], files)
    expected = git_apply(pre, instance["patch"], work / "git")
    text = {path: data.decode("utf-8", "replace") for path, data in pre.items()}
    outcomes = []
    for variant, anchors in VARIANTS.items():
        try:
            patch = to_codex(files, text, anchors)
        except NotExpressible as exc:
            outcomes.append(Outcome(name, repo, variant, "not-expressible", str(exc)))
            continue
        repeated = repeated_anchor(files)
        try:
            got = acb_apply(pre, patch, work / variant)
        except PatchError as exc:
            detail = f"{classify(str(exc))}: {str(exc).splitlines()[0]}"
            outcomes.append(Outcome(name, repo, variant, "refused", detail, repeated))
            continue
        status = "exact" if got == expected else "misapplied"
        difference = _first_difference(got, expected)
        outcomes.append(Outcome(name, repo, variant, status, difference, repeated))
    return outcomes


def run_all(instances: Iterable[dict[str, str]], repos: Path) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for instance in instances:
        git_dir = find_repo(repos, instance["repo"])
        if git_dir is None:
            repeated = repeated_anchor(parse_unified(instance["patch"]))
            name, repo = instance["instance_id"], instance["repo"]
            outcomes += [
                Outcome(name, repo, v, "unavailable", UNAVAILABLE, repeated) for v in VARIANTS
            ]
            continue
        with tempfile.TemporaryDirectory(prefix="acb-lite-") as work:
            try:
                outcomes += run_instance(instance, git_dir, Path(work))
            except (subprocess.CalledProcessError, OSError) as error:
                # The pre-image or git's own post-image could not be made: the engine was never
                # asked, so this is neither applied nor refused.
                said = getattr(error, "stderr", b"") or b""
                why = one_line(f"{error} {said.decode(errors='replace')}", 400)
                name, repo = instance["instance_id"], instance["repo"]
                outcomes += [Outcome(name, repo, v, "failed", why) for v in VARIANTS]
    return outcomes


STATUSES = ("exact", "misapplied", "refused", "not-expressible", "unavailable")


def _row(label: str, outcomes: list[Outcome]) -> str:
    cells = []
    for variant in VARIANTS:
        counts = Counter(o.status for o in outcomes if o.variant == variant)
        cells.append(" / ".join(str(counts[s]) for s in STATUSES))
    counted = [o for o in outcomes if o.status != "failed"]
    repeated = len({o.instance for o in counted if o.repeated_anchor})
    instances = len({o.instance for o in counted})
    return f"| {label} | {instances} | {repeated} | {' | '.join(cells)} |"


def render(
    outcomes: list[Outcome],
    elapsed: float,
    baseline: dict[str, Any] | None = None,
    history: list[Outcome] | None = None,
) -> str:
    """The docs/benchmarks.md section: a row per repository and the total, both variants."""
    repos = sorted({o.repo for o in outcomes})
    lines = [
        "## SWE-bench Lite gold patches through the edit engine",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} on {_cpu()}, {os.cpu_count()} cores, "
        f"Linux {platform.release()}, Python {platform.python_version()}, git "
        f"{_git(REPO, 'version').decode().split()[-1]}. Method: `python bench/edits/lite.py "
        "--repos DIR --write` (`make bench-lite-patches`; see bench/README.md): each gold patch is "
        "converted to Codex's apply_patch grammar (bench/edits/gitdiff.py) with git's hunk "
        "headings as `@@` anchors (completed from the file where git cut them at 80 bytes), and "
        "again with no anchors; acb's engine (`parse_edits` + `apply_edits`) applies it to the "
        "touched files at `base_commit`, and the result is compared byte for byte with `git "
        "apply` of the gold diff. No line numbers reach acb: it must find every hunk itself.",
        "",
        "Cells: exact / misapplied / refused / not expressible in Codex's grammar / repository "
        "not available. *Repeated anchor*: instances where the same heading heads more than one "
        "hunk of a file (git names the enclosing definition, so hunks inside one long function "
        "or class repeat it).",
        "",
        "| repository | instances | repeated anchor | with anchors | without anchors |",
        "|---|---|---|---|---|",
    ]
    lines += [_row(repo, [o for o in outcomes if o.repo == repo]) for repo in repos]
    lines.append(_row("**all**", outcomes))
    absent = Counter(
        o.repo for o in outcomes if o.status == "unavailable" and o.variant == "anchors"
    )
    if absent:
        names = ", ".join(f"{repo} ({n})" for repo, n in sorted(absent.items()))
        lines += ["", f"Not in `--repos` for this run, so not measured: {names}."]
    broken = {o.instance: o.detail for o in outcomes if o.status == "failed"}
    if broken:
        lines += ["", "Could not be measured (the harness failed; counted nowhere above):", ""]
        lines += [f"- {name}: {why}" for name, why in broken.items()]
    if baseline:
        lines += ["", *_comparison(baseline, summarize(outcomes, ""))]
    if history:
        lines += ["", *_history_table(history, (baseline or {}).get("history"))]
    lines += ["", *_refusals(outcomes), "", f"Wall time for the whole run: {elapsed:.0f} s.", ""]
    return "\n".join(lines)


def _cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def _history_table(history: list[Outcome], before: dict[str, Any] | None) -> list[str]:
    """The same check on recent commits with several hunks in a file (`--commits N`)."""
    lines = [
        "The same check on each repository's own recent history (`--commits N --history "
        "owner/name`, bench/edits/history.py): of the last N non-merge commits, those whose .py "
        "diff has a file with two hunks or more, headed by git's python diff driver (the "
        "enclosing `def`/`class`, as models write anchors). Cells as above; an *ambiguous* "
        "refusal is a hunk whose lines fit more than one place under its anchor (the message "
        "names them all), which only line numbers could settle.",
        "",
        "| repository | commits | repeated anchor | with anchors | without anchors |",
        "|---|---|---|---|---|",
    ]
    repos = sorted({o.repo for o in history})
    lines += [_row(repo, [o for o in history if o.repo == repo]) for repo in repos]
    lines.append(_row("**all**", history))
    refused = Counter((o.variant, o.detail.split(":")[0]) for o in history if o.status == "refused")
    if refused:
        why = "; ".join(f"{variant}: {n} {name}" for (variant, name), n in sorted(refused.items()))
        lines += ["", f"Refusals by class: {why}."]
    if before:
        cells = "; ".join(f"{variant} {_cells(before, variant)}" for variant in VARIANTS)
        lines += ["", f"Before ({before['label']}), all commits: {cells}."]
    return lines


def run_history(repos: Path, projects: list[str], commits: int) -> list[Outcome]:
    instances = []
    for project in projects:
        git_dir = find_repo(repos, project)
        if git_dir is not None:
            instances += history_instances(git_dir, project, commits)
    return run_all(instances, repos)


def summarize(outcomes: list[Outcome], label: str) -> dict[str, Any]:
    """Totals per variant and refusal classes: what `--save-baseline` keeps for a later run."""
    summary: dict[str, Any] = {"label": label, "counts": {}, "classes": {}}
    for variant in VARIANTS:
        mine = [o for o in outcomes if o.variant == variant]
        summary["counts"][variant] = dict(Counter(o.status for o in mine))
        refused = [o.detail.split(":")[0] for o in mine if o.status == "refused"]
        summary["classes"][variant] = dict(Counter(refused))
    return summary


def _cells(summary: dict[str, Any], variant: str) -> str:
    counts = summary["counts"].get(variant, {})
    classes = summary["classes"].get(variant, {})
    why = ", ".join(f"{n} {name}" for name, n in sorted(classes.items()))
    return " / ".join(str(counts.get(s, 0)) for s in STATUSES) + (f" ({why})" if why else "")


def _comparison(baseline: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """An earlier run's totals (`--before`, e.g. the engine before a fix) beside this one's."""
    lines = [
        f"Before: {baseline['label']}. Cells as above, refusals by class in brackets.",
        *([baseline["note"]] if baseline.get("note") else []),
        "",
        "| variant | before | now |",
        "|---|---|---|",
    ]
    for variant in VARIANTS:
        lines.append(f"| {variant} | {_cells(baseline, variant)} | {_cells(now, variant)} |")
    return lines


def _refusals(outcomes: list[Outcome]) -> list[str]:
    refused = [o for o in outcomes if o.status in ("refused", "misapplied", "not-expressible")]
    if not refused:
        return ["Every available instance applied exactly in both variants."]
    lines = ["Not applied exactly, and why:", ""]
    for o in refused:
        reason = EXPLAINED.get(o.instance, "**not explained yet**")
        lines.append(f"- {o.instance} ({o.variant}): {o.status}, {o.detail[:160]} — {reason}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=Path, required=True, help="dir of clones/bare mirrors")
    parser.add_argument("--data", type=Path, default=DATA, help="SWE-bench Lite JSON")
    parser.add_argument("--only", default="", help="run only instances whose id contains this")
    parser.add_argument("--json", type=Path, help="also write every outcome here, one per line")
    parser.add_argument("--before", type=Path, help="a --save-baseline file to compare with")
    parser.add_argument("--save-baseline", type=Path, help="keep this run's totals here")
    parser.add_argument("--label", default="", help="what the saved baseline measured")
    parser.add_argument("--commits", type=int, default=0, help="also check N recent commits")
    parser.add_argument(
        "--history", action="append", default=[], help="owner/name for --commits (repeatable)"
    )
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    add_allow_missing(parser)
    args = parser.parse_args(argv)
    instances = [i for i in json.loads(args.data.read_text()) if args.only in i["instance_id"]]
    started = time.perf_counter()
    outcomes = run_all(instances, args.repos)
    history = run_history(args.repos, args.history, args.commits) if args.commits else None
    baseline = json.loads(args.before.read_text()) if args.before else None
    section = render(outcomes, time.perf_counter() - started, baseline, history)
    if args.json:
        args.json.write_text("".join(json.dumps(o.__dict__) + "\n" for o in outcomes))
    if args.save_baseline:
        summary = summarize(outcomes, args.label)
        if history:
            summary["history"] = summarize(history, args.label)
        args.save_baseline.write_text(json.dumps(summary, indent=1) + "\n")
    missing = {o.instance: o.detail for o in [*outcomes, *(history or [])] if o.status == "failed"}
    heading = "## SWE-bench Lite gold patches through the edit engine"
    return conclude(section, heading, args.write, missing, args.allow_missing, "instance")


if __name__ == "__main__":
    raise SystemExit(main())
