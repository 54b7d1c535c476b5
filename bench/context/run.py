"""`make bench-context`: every step of the context benchmark, from inputs to docs/benchmarks.md.

1. repositories: clones under `$ACB_BENCH_CACHE/repos` (cloned from GitHub when missing), and
   `mono`, a 10k+ file union of them plus a site-packages tree (built once);
2. cases (cases.py), speed (speed.py), quality (quality.py), report (report.py --write).

Aider is used when `$ACB_BENCH_CACHE/aider-venv/bin/python` exists (see bench/README.md); when it
does not, or its builds or rankings fail, the report shows it as failed and the command exits 1
without writing, unless `--allow-missing`. The exit code is the report's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from bench.outcome import ALLOW_MISSING_HELP

CACHE = Path(os.environ.get("ACB_BENCH_CACHE", Path.home() / ".cache" / "acb-bench"))
SOURCES = {
    "flask": "https://github.com/pallets/flask",
    "requests": "https://github.com/psf/requests",
    "click": "https://github.com/pallets/click",
    "pytest": "https://github.com/pytest-dev/pytest",
    "sphinx": "https://github.com/sphinx-doc/sphinx",
    "sympy": "https://github.com/sympy/sympy",
}
MONO_SUFFIXES = (
    ".py",
    ".pyi",
    ".js",
    ".ts",
    ".c",
    ".h",
    ".go",
    ".rs",
    ".java",
    ".md",
    ".txt",
    ".json",
)


def step(*command: str | Path) -> None:
    print("+", " ".join(map(str, command)), file=sys.stderr, flush=True)
    subprocess.run([str(c) for c in command], check=True)


def ensure_repos(repos: Path) -> None:
    repos.mkdir(parents=True, exist_ok=True)
    for name, url in SOURCES.items():
        if not (repos / name).is_dir():
            step("git", "clone", "-q", url, repos / name)


def ensure_mono(repos: Path, site_packages: Path | None) -> Path:
    """One repository of real code with 10k+ files: the six clones at HEAD (and the source
    files of a site-packages tree when given), committed together."""
    mono = repos / "mono"
    if (mono / ".git").is_dir():
        return mono
    mono.mkdir()
    for name in SOURCES:
        with tempfile.TemporaryFile() as archive:
            subprocess.run(
                ["git", "-C", str(repos / name), "archive", "HEAD"], stdout=archive, check=True
            )
            archive.seek(0)
            with tarfile.open(fileobj=archive) as tar:
                tar.extractall(mono / name, filter="data")
    if site_packages and site_packages.is_dir():
        for path in site_packages.rglob("*"):
            if path.is_file() and path.suffix in MONO_SUFFIXES and path.stat().st_size < 1_000_000:
                target = mono / "site-packages" / path.relative_to(site_packages)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
    for attributes in mono.rglob(".gitattributes"):
        attributes.unlink()  # sphinx declares working-tree encodings that break a plain `git add`
    step("git", "-C", mono, "init", "-q")
    step("git", "-C", mono, "add", "-A")
    step(
        "git",
        "-C",
        mono,
        "-c",
        "user.name=bench",
        "-c",
        "user.email=bench@localhost",
        "commit",
        "-qm",
        "union",
    )
    return mono


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--swe-bench",
        type=Path,
        default=ROOT.parent / "shared" / "data" / "swe-bench-lite-test.json",
    )
    parser.add_argument("--runs", type=int, default=3, help="fresh processes per speed figure")
    parser.add_argument("--allow-missing", action="store_true", help=ALLOW_MISSING_HELP)
    args = parser.parse_args()
    repos = CACHE / "repos"
    aider = CACHE / "aider-venv" / "bin" / "python"
    aider_args = ["--aider-python", str(aider)] if aider.exists() else []
    site_packages = (
        next((CACHE / "aider-venv" / "lib").glob("python3*/site-packages"), None)
        if aider.exists()
        else None
    )
    ensure_repos(repos)
    mono = ensure_mono(repos, site_packages)
    python = sys.executable
    cases = CACHE / "context-cases.jsonl"
    step(python, HERE / "cases.py", "--repos", repos, "--swe-bench", args.swe_bench, "--out", cases)
    speed_small, speed_mono = CACHE / "context-speed.json", CACHE / "context-speed-mono.json"
    step(
        python,
        HERE / "speed.py",
        "--repo",
        f"flask={repos / 'flask'}",
        "--repo",
        f"sympy={repos / 'sympy'}",
        "--runs",
        str(args.runs),
        "--json",
        speed_small,
        *aider_args,
    )
    step(
        python,
        HERE / "speed.py",
        "--repo",
        f"mono={mono}",
        "--runs",
        str(max(1, args.runs - 1)),
        "--json",
        speed_mono,
        *aider_args,
    )
    quality = CACHE / "context-quality.jsonl"
    step(
        python,
        HERE / "quality.py",
        "--cases",
        cases,
        "--repos",
        repos,
        "--work",
        CACHE / "context-work",
        "--out",
        quality,
        *aider_args,
    )
    report = [python, HERE / "report.py", "--speed", speed_small, "--speed", speed_mono]
    report += ["--quality", quality, "--write"]
    report += ["--allow-missing"] if args.allow_missing else []
    print("+", " ".join(map(str, report)), file=sys.stderr, flush=True)
    return subprocess.run([str(c) for c in report], check=False).returncode


if __name__ == "__main__":
    raise SystemExit(main())
