"""One SWE-bench Lite instance through `acb exec`, as a new user would run it: default settings,
the real CLI, a scripted model playing the upstream fix, then graded by the instance's tests.

The model side is scripted so that what is measured is acb: its start, checkpoint, map, tools,
test gate, review gate and commit on a real repository, and whether the change it commits is
the one that resolves the bug. The script does what a competent model does: search for the
code, read it, apply the gold patch (in Codex's patch grammar, converted by
`bench/edits/gitdiff.py`), run the failing tests, and say it is done. Grading is SWE-bench's
rule: every FAIL_TO_PASS and PASS_TO_PASS test passes on the committed tree.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO))

from tests.fakes.mock_server import MockModelServer, Reply

from bench.edits.gitdiff import parse_unified, to_codex

TIME_LIMIT_S = 300
"""Issue 16's bar: each instance resolved end to end within 5 minutes on this machine."""
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Bench User",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "Bench User",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}


def _git(cwd: Path, *args: str, stdin: str | None = None) -> str:
    return subprocess.run(
        ["git", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **GIT_IDENTITY},
    ).stdout


def _field(instance: Mapping[str, Any], name: str) -> list[str]:
    value = instance[name]
    return list(json.loads(value) if isinstance(value, str) else value)


def patched_files(diff: str) -> list[str]:
    return [f.new_path or f.old_path or "" for f in parse_unified(diff)]


def instance_test_files(instance: Mapping[str, Any]) -> list[str]:
    """The Python test files the instance's test patch touches: where its tests live."""
    found = []
    for path in patched_files(instance["test_patch"]):
        parts = Path(path).parts
        in_tests = any(part in ("tests", "testing", "test") for part in parts[:-1])
        named = parts[-1].startswith(("test", "unittest_")) or parts[-1].endswith("_test.py")
        if path.endswith(".py") and named and (in_tests or parts[-1].startswith("test")):
            found.append(path)
    return found


def prepare(git_dir: Path, instance: Mapping[str, Any], workspace: Path) -> str:
    """A fresh checkout at `base_commit` with the test patch committed, as SWE-bench sets the
    stage: the FAIL_TO_PASS tests exist and fail, and the working tree is clean. Returns that
    commit (the control starts from it)."""
    subprocess.run(
        ["git", "clone", "-q", "--no-checkout", "--shared", str(git_dir), str(workspace)],
        check=True,
        capture_output=True,
    )
    _git(workspace, "checkout", "-q", "-B", "main", instance["base_commit"])
    _git(workspace, "apply", "--whitespace=nowarn", "-", stdin=instance["test_patch"])
    _git(workspace, "add", "-A")
    _git(workspace, "commit", "-q", "--no-verify", "-m", f"test patch of {instance['instance_id']}")
    return _git(workspace, "rev-parse", "HEAD").strip()


def control(instance: Mapping[str, Any], workspace: Path, env_bin: Path, prepared: str) -> Grade:
    """The upstream fix applied by git on the prepared commit, no acb, graded the same way:
    what this machine allows. A test that fails here fails whoever writes the fix (it needs a
    network this machine has not, or reads a CPU count of 1 from its cgroup), so a miss on it
    is the environment's, and is reported as such rather than as acb's."""
    _git(workspace, "checkout", "-q", "-f", "--detach", prepared)
    _git(workspace, "clean", "-fdq")
    _git(workspace, "apply", "--whitespace=nowarn", "-", stdin=instance["patch"])
    return grade(instance, workspace, env_bin)


# -- the scripted model ------------------------------------------------------------------------

_NAME = re.compile(r"(?:def|class)\s+(\w+)")


def _search_pattern(diff: str) -> str:
    """What a model searches for first: the definition the first hunk sits in, else the
    first identifier of a removed line."""
    for file in parse_unified(diff):
        for hunk in file.hunks:
            found = _NAME.search(hunk.section)
            if found:
                return f"def {found[1]}\\b|class {found[1]}\\b"
            for line in hunk.lines:
                words = re.findall(r"[A-Za-z_]\w{3,}", line[1:])
                if line.startswith("-") and words:
                    return re.escape(words[0])
    return re.escape(Path(patched_files(diff)[0]).stem)


def gold_as_codex(diff: str, workspace: Path) -> str:
    """The gold diff in Codex's grammar, anchored on git's hunk headings as a model writes."""
    files = parse_unified(diff)
    pre = {
        f.old_path: (workspace / f.old_path).read_text(encoding="utf-8")
        for f in files
        if f.old_path is not None
    }
    return to_codex(files, pre, anchors=True)


def script(instance: Mapping[str, Any], workspace: Path) -> list[Reply]:
    """The trajectory: search, read around the first hunk, patch, run the tests, finish, and
    the commit message. Extra closing turns answer the test gate if it sends work back, so an
    unresolved change ends as the gate decides, not on an exhausted script."""
    diff = instance["patch"]
    first = parse_unified(diff)[0]
    start = first.hunks[0].old_start if first.hunks else 1
    path = first.old_path or first.new_path or ""
    selector = " ".join(instance_test_files(instance))
    done = Reply("The fix is in and the failing tests pass now.")
    return [
        Reply(
            "Looking for the code.",
            [("search", {"pattern": _search_pattern(diff), "glob": "*.py"})],
        ),
        Reply(
            "",
            [
                (
                    "read_file",
                    {"path": path, "start_line": max(start - 20, 1), "end_line": start + 60},
                )
            ],
        ),
        Reply("Applying the fix.", [("apply_patch", {"patch": gold_as_codex(diff, workspace)})]),
        Reply("", [("run_tests", {"selector": selector})] if selector else []),
        done,
        Reply(f"Fix {instance['instance_id']}\n\nThe upstream change, applied by acb's benchmark."),
        done,
        done,
        done,
    ]


# -- running acb -------------------------------------------------------------------------------


@dataclass
class AcbRun:
    events: list[dict[str, Any]]
    wall_s: float
    started_at: float
    """`time.time()` just before the process was spawned (events carry Unix times too)."""
    exit_code: int
    stderr_tail: str
    requests: int


def run_acb(
    workspace: Path, replies: list[Reply], env_bin: Path, home: Path, timeout_s: int
) -> AcbRun:
    """`acb exec --json` with default settings: a fresh acb home and config (a new user), the
    project's venv first on PATH (so `python` is the project's), a loopback model."""
    with MockModelServer(replies) as server:
        env = {
            **os.environ,
            **GIT_IDENTITY,
            "OPENAI_API_KEY": "sk-bench-0123456789abcdef",
            "OPENAI_BASE_URL": server.url + "/v1",
            "ACB_HOME": str(home / "acb-home"),
            "XDG_CONFIG_HOME": str(home / "config"),
            "PATH": f"{env_bin}{os.pathsep}{os.environ['PATH']}",
        }
        for name in ("VIRTUAL_ENV", "PYTHONPATH", "ACB_MODEL", "ACB_MAX_STEPS", "ACB_MAX_COST"):
            env.pop(name, None)
        argv = [
            sys.executable,
            "-m",
            "autocodebase",
            "exec",
            "Fix the bug.",
            "-m",
            "openai/mock-model",
            "--json",
        ]
        started_at, started = time.time(), time.monotonic()
        process = subprocess.Popen(
            argv,
            cwd=workspace,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            out, err = process.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            # SIGTERM, as CI or `timeout` would: acb records the run as interrupted, with what
            # it had done, so the report can say where the time went.
            process.send_signal(signal.SIGTERM)
            try:
                out, err = process.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                out, err = process.communicate()
            err = f"stopped after {timeout_s} s\n{err}"
        code = process.returncode
        wall = time.monotonic() - started
        requests = len(server.requests)
    events = []
    for line in out.splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    return AcbRun(events, wall, started_at, code, err[-2000:], requests)


# -- phases ------------------------------------------------------------------------------------


def phases(run: AcbRun) -> dict[str, float]:
    """acb's time by phase, from the event timestamps (seconds):

    - startup: process spawn to `run_started` (imports, config, ledger);
    - checkpoint: `run_started` to `checkpoint` (snapshot of the tree as found; `acb exec`
      takes it in a thread while the first request is out, so it overlaps the next phase);
    - to_first_request: `run_started` to the first `model_request` (prompt, map);
    - model: the mock's answers (`model_response.duration_s`), not acb's;
    - tools: per tool name, `tool_result.duration_s` (run_tests counted as tests);
    - gate_tests: the test gate's runs (`tests_checked.duration_s`), and gate_other: the gate's
      own time around them (selection, baseline export), up to `review_checked`;
    - review: the review gate, to its `review_checked`;
    - commit: the commit message request to the `git` event, less the model's answer;
    - finish: `git` to `run_finished`, and exit: `run_finished` to the process ending.
    """
    events = run.events
    by_type: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_type.setdefault(event["type"], []).append(event)

    def ts(kind: str, index: int = 0) -> float | None:
        found = by_type.get(kind, [])
        return found[index]["ts"] if found and len(found) > abs(index) - (index < 0) else None

    out: dict[str, float] = {}
    started, checkpoint = ts("run_started"), ts("checkpoint")
    first_request = ts("model_request")
    if started is not None:
        out["startup"] = started - run.started_at
    if started is not None and checkpoint is not None:
        out["checkpoint"] = checkpoint - started
    if first_request is not None and started is not None:
        out["to_first_request"] = first_request - started
    out["model"] = sum(e.get("duration_s") or 0.0 for e in by_type.get("model_response", []))
    for result in by_type.get("tool_result", []):
        key = f"tool:{result['name']}"
        out[key] = out.get(key, 0.0) + (result.get("duration_s") or 0.0)
    checks = by_type.get("tests_checked", [])
    out["gate_tests"] = sum(e.get("duration_s") or 0.0 for e in checks)
    reviews = by_type.get("review_checked", [])
    # The gate starts when the model says it is done: the last response before the first check.
    if checks:
        before = [e for e in by_type.get("model_response", []) if e["ts"] < checks[0]["ts"]]
        if before:
            gate_end = checks[-1]["ts"]
            out["gate_other"] = max(gate_end - before[-1]["ts"] - out["gate_tests"], 0.0)
        if reviews:
            out["review"] = reviews[-1]["ts"] - checks[-1]["ts"]
    git = ts("git")
    finished = ts("run_finished")
    said_done = [e for e in by_type.get("model_response", []) if not e.get("tool_calls")]
    if git is not None and not checks and said_done and not (by_type["git"][-1].get("commit")):
        # Stopped while the test gate ran (its result is emitted only when it ends).
        out["gate_unfinished"] = git - said_done[0]["ts"]
    elif git is not None:
        responses = [e for e in by_type.get("model_response", []) if e["ts"] <= git]
        last_gate = (reviews or checks or [None])[-1]
        anchor = last_gate["ts"] if last_gate else (responses[-1]["ts"] if responses else git)
        model_after = sum(e.get("duration_s") or 0.0 for e in responses if e["ts"] > anchor)
        out["commit"] = max(git - anchor - model_after, 0.0)
    if git is not None and finished is not None:
        out["finish"] = finished - git
    if finished is not None:
        out["exit"] = run.started_at + run.wall_s - finished
    return {k: round(v, 3) for k, v in out.items()}


# -- grading -----------------------------------------------------------------------------------


def _junit_cases(path: Path) -> dict[tuple[str, str], str]:
    """(classname, name) -> passed / failed / skipped / xfail, from a JUnit XML file."""
    cases: dict[tuple[str, str], str] = {}
    if not path.exists():
        return cases
    for case in ET.parse(path).getroot().iter("testcase"):
        status = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                status = "failed"
            elif child.tag == "skipped":
                kind = (child.get("type") or "") + (child.get("message") or "")
                status = "xfail" if "xfail" in kind else "skipped"
        key = (case.get("classname") or "", case.get("name") or "")
        if cases.get(key) != "failed":
            cases[key] = status
    return cases


def _node_key(node: str) -> tuple[str, str]:
    head, bracket, params = node.partition("[")  # a parameter may hold "::" (an IPv6 URL)
    path, *parts = head.split("::")
    if bracket and parts:
        parts[-1] += bracket + params
    module = path.removesuffix(".py").replace("/", ".")
    return ".".join([module, *parts[:-1]]), parts[-1] if parts else ""


@dataclass
class Grade:
    resolved: bool
    failing: list[str] = field(default_factory=list)
    """FAIL_TO_PASS and PASS_TO_PASS tests that did not pass (or were not found)."""
    duration_s: float = 0.0


def grade(
    instance: Mapping[str, Any], workspace: Path, env_bin: Path, timeout_s: int = 900
) -> Grade:
    """SWE-bench's rule on the tree as it is: every FAIL_TO_PASS and PASS_TO_PASS test passes
    (a pass or an expected failure). Runs the instance's test files with the project's venv,
    outside acb, and reads JUnit XML; sympy's bare test names are matched by name in those
    files."""
    wanted = _field(instance, "FAIL_TO_PASS") + _field(instance, "PASS_TO_PASS")
    if instance["repo"] == "django/django":
        return grade_django(instance, workspace, env_bin, wanted, timeout_s)
    files = sorted(
        {n.split("::")[0] for n in wanted if "::" in n} or set(instance_test_files(instance))
    )
    report = workspace.parent / f"{workspace.name}-grade.xml"
    started = time.monotonic()
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = f"{env_bin}{os.pathsep}{env['PATH']}"
    subprocess.run(
        [
            str(env_bin / "python"),
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--junitxml={report}",
            "-o",
            "junit_family=xunit1",
            *files,
        ],
        cwd=workspace,
        env=env,
        capture_output=True,
        timeout=timeout_s,
    )
    duration = time.monotonic() - started
    cases = _junit_cases(report)
    by_name: dict[str, set[str]] = {}
    for (_, name), status in cases.items():
        by_name.setdefault(name, set()).add(status)
    failing = []
    for node in wanted:
        key = _node_key(node)
        if "::" in node and "[" in key[1] and not key[1].endswith("]"):
            # SWE-bench's log parser cut ids at the first space ("test_x[assert (" ...): the
            # parametrised cases that start so must all pass.
            found = {v for (c, n), v in cases.items() if c == key[0] and n.startswith(key[1])}
            status = found or {"missing"}
        elif "::" in node:
            status = {cases.get(key, "missing")}
        else:
            status = by_name.get(node, {"missing"})
        if not status <= {"passed", "xfail"}:
            failing.append(f"{node} ({'/'.join(sorted(status))})")
    return Grade(not failing, failing, round(duration, 1))


_DJANGO_STATUS = re.compile(r"(ok|FAIL|ERROR|skipped.*|expected failure|unexpected success)$")
_DJANGO_TEST = re.compile(r"^\w+ \([\w.]+\)$")
_DJANGO_BLOCK = re.compile(r"^(?:FAIL|ERROR): (\w+ \([\w.]+\))", re.M)


def django_statuses(output: str) -> dict[str, str]:
    """Each test's status from `runtests.py --verbosity 2`, under both names SWE-bench uses:
    `test_x (module.Class)` and, for a test with a docstring, the docstring's first line (the
    line between the name and ` ... status`). A test whose subtests failed has no status of
    its own (the next test's line follows on the same line): its `FAIL:` block says."""
    found: dict[str, str] = {}
    pending = ""
    for line in output.splitlines():
        parts = line.split(" ... ")
        status = _DJANGO_STATUS.search(parts[-1]) if len(parts) > 1 else None
        if status:
            passed = status[1] in ("ok", "expected failure")
            for name in filter(None, (pending if len(parts) == 2 else "", parts[-2])):
                found[name] = "passed" if passed else status[1]
            pending = ""
        else:
            pending = line if _DJANGO_TEST.match(line) else ""
    for name in _DJANGO_BLOCK.findall(output):
        found[name] = "failed"
    return found


def grade_django(
    instance: Mapping[str, Any], workspace: Path, env_bin: Path, wanted: list[str], timeout_s: int
) -> Grade:
    """SWE-bench's rule for Django: its own runner on the test patch's modules, read by name."""
    from autocodebase.quality.detect import DJANGO_COMMAND, django_labels

    labels = django_labels(" ".join(instance_test_files(instance))).split()
    started = time.monotonic()
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = f"{env_bin}{os.pathsep}{env['PATH']}"
    done = subprocess.run(
        [str(env_bin / "python"), *DJANGO_COMMAND.split()[1:], *labels],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    statuses = django_statuses(done.stdout + done.stderr)
    failing = [
        f"{name} ({statuses.get(name, 'missing')})"
        for name in wanted
        if statuses.get(name) != "passed"
    ]
    return Grade(not failing, failing, round(time.monotonic() - started, 1))


# -- one instance ------------------------------------------------------------------------------


@dataclass
class Result:
    instance: str
    repo: str
    resolved: bool
    outcome: str
    exit_code: int
    wall_s: float
    verification: str
    verification_detail: str
    phases: dict[str, float]
    gate: list[dict[str, Any]]
    """Each `tests_checked`: verdict, selected files, passed count, failed names, duration."""
    commit: str | None
    message_source: str
    failing: list[str]
    grade_s: float
    steps: int
    reason: str = ""
    """Why the instance does not meet issue 16's bar, from the events; empty when it does."""
    control_failing: list[str] | None = None
    """Tests that fail with the upstream fix alone, outside acb (`control`); None when the
    control was not needed (acb's change resolved the instance)."""

    @property
    def environment_limited(self) -> bool:
        """Missed only on tests this machine cannot pass with the upstream fix either."""
        if self.resolved or not self.failing or self.control_failing is None:
            return False
        return {_test_name(f) for f in self.failing} <= {
            _test_name(f) for f in self.control_failing
        }

    def record(self) -> dict[str, Any]:
        return asdict(self)


def _test_name(failing: str) -> str:
    """`tests/x.py::test_y (failed)` -> `tests/x.py::test_y`."""
    return failing.rsplit(" (", 1)[0]


def empty_claim(status: str, gate: list[dict[str, Any]], verification: dict[str, Any]) -> str:
    """A status that says tests proved the change when no test passed in the gate (a suite that
    could not even be collected, before and after) is worse than `unverified`: name it."""
    if status in ("verified", "partly-verified") and not any(c.get("passed") for c in gate):
        return f"verification says {status} but no test passed in the gate " + (
            f"({verification.get('detail', '')})"
        )
    return ""


def judge(
    run: AcbRun, graded: Grade, instance: str, repo: str, controlled: Grade | None = None
) -> Result:
    """Put a run and its grade together, with the reason it falls short if it does (and, when
    it was not resolved, what the upstream fix alone does here)."""
    by_type: dict[str, list[dict[str, Any]]] = {}
    for event in run.events:
        by_type.setdefault(event["type"], []).append(event)
    finished = (by_type.get("run_finished") or [{}])[-1]
    verification = finished.get("verification") or {}
    git = (by_type.get("git") or [{}])[-1]
    gate = [
        {
            k: e.get(k)
            for k in (
                "verdict",
                "selected",
                "passed",
                "failed",
                "preexisting",
                "duration_s",
                "command",
            )
        }
        for e in by_type.get("tests_checked", [])
    ]
    status = verification.get("status", "none")
    reasons = []
    if run.exit_code != 0:
        errors = [e.get("message", "") for e in by_type.get("error", [])]
        working = [e for e in run.events if e["type"] not in ("run_finished", "git", "error")]
        if working:  # what acb was doing when it stopped, and since when
            last = working[-1]
            since = last["ts"] - run.started_at
            errors.append(f"its last event was {last['type']} at {since:.0f} s")
        reasons.append(
            f"exit {run.exit_code}: {finished.get('error') or '; '.join(errors)}"
            f" {run.stderr_tail[-300:] if not run.events else ''}".strip()
        )
    # Resolved means the committed change resolves it: a fix left in the working tree by a run
    # that was stopped, or that failed, is not acb's result.
    left = [p for p in git.get("left_uncommitted") or [] if not p.startswith(".acb/")]
    resolved = graded.resolved and bool(git.get("commit")) and not left
    if not git.get("commit"):
        reasons.append("nothing committed")
    if left:
        reasons.append(f"left uncommitted: {', '.join(left[:3])}")
    if not graded.resolved:
        reasons.append(f"not resolved: {', '.join(graded.failing[:3])}")
        if controlled is not None:
            alone = (
                f"the upstream fix alone fails {', '.join(controlled.failing[:3])}"
                if controlled.failing
                else "the upstream fix alone passes them"
            )
            reasons.append(f"{alone} (control, outside acb)")
    if run.wall_s > TIME_LIMIT_S:
        reasons.append(f"took {run.wall_s:.0f} s (> {TIME_LIMIT_S} s)")
    if status not in ("verified", "partly-verified"):
        reasons.append(f"verification {status}: {verification.get('detail', '')}")
    else:
        reasons += [claim] if (claim := empty_claim(status, gate, verification)) else []
    return Result(
        instance=instance,
        repo=repo,
        resolved=resolved,
        outcome=finished.get("outcome", "none"),
        exit_code=run.exit_code,
        wall_s=round(run.wall_s, 2),
        verification=status,
        verification_detail=verification.get("detail", ""),
        phases=phases(run),
        gate=gate,
        commit=git.get("commit"),
        message_source=git.get("message_source", ""),
        failing=graded.failing,
        grade_s=graded.duration_s,
        steps=finished.get("steps", 0),
        reason="; ".join(reasons),
        control_failing=controlled.failing if controlled is not None else None,
    )
