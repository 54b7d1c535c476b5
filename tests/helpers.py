"""Small builders shared by tests."""

from __future__ import annotations

import functools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autocodebase.events import Event, event_payload
from autocodebase.models.base import Message, Response, ToolCall, Usage
from autocodebase.tools import default_toolbox
from autocodebase.tools.base import ToolContext
from tests.fakes.mock_server import Fault, MockModelServer, Reply

if TYPE_CHECKING:
    import pexpect


def reply(text: str = "", *calls: tuple[str, dict[str, Any] | str], tokens: int = 0) -> Response:
    """A scripted response; string arguments are sent verbatim (to test malformed JSON)."""
    tool_calls = []
    for index, (name, arguments) in enumerate(calls):
        raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
        parsed = arguments if isinstance(arguments, dict) else None
        tool_calls.append(ToolCall(f"call_{index}_{name}", name, parsed, raw))
    return Response(
        Message("assistant", text, tool_calls=tuple(tool_calls)),
        Usage(tokens, tokens // 10),
        "tool_use" if calls else "stop",
        "scripted",
    )


class EventLog:
    """Collects events (as payload dicts) for assertions."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [event_payload(e) for e in self.events if e.type == kind]


def write_file(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def write_files(root: Path, files: Mapping[str, str]) -> Path:
    """Each `path: text` of `files` written under `root`; `root`."""
    for path, text in files.items():
        write_file(root / path, text)
    return root


def demo_review_repo(tmp_path: Path) -> Path:
    """The example project as shipped, committed, then the change the demo's exec cassette
    makes (the same lines, applied by hand) as a second commit: what the scripted review of
    examples/cassettes/wordstats-review.jsonl reviews (HEAD, or HEAD~1..HEAD)."""
    from tests.conftest import commit_all, git

    repo_root = Path(__file__).resolve().parents[1]
    root = tmp_path / "wordstats"
    git(tmp_path, "clone", "-q", "--no-hardlinks", str(repo_root), "clone")
    (tmp_path / "clone/examples/wordstats").rename(root)
    commit_all(root, "as shipped", init=True)
    core = root / "wordstats/core.py"
    core.write_text(
        core.read_text().replace("import re\n", "import re\nfrom collections import Counter\n")
        + "\n\ndef top_words(text: str, n: int) -> list[tuple[str, int]]:\n"
        '    """The `n` most frequent words with their counts, most frequent first.\n\n'
        "    Ties are broken alphabetically, so the answer does not depend on word order.\n"
        '    """\n    if n < 0:\n        raise ValueError("n must not be negative")\n'
        "    counts = Counter(words(text))\n"
        "    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:n]\n"
    )
    write_file(root / "tests/test_top_words.py", "\n" * 17 + "def test_zero():\n    pass\n")
    commit_all(root, "top_words")
    return root


def json_events(stdout: str) -> list[dict[str, Any]]:
    """The events of an `acb ... --json` run, from its stdout."""
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


# -- acb run as a user runs it: a real process against the loopback mock server ----------

PATCH = """*** Begin Patch
*** Update File: wordstats/core.py
@@ def unique_words(text: str) -> set[str]:
     return set(words(text))
+
+
+def longest_word(text: str) -> str:
+    \"\"\"The longest word of `text` (the first one on ties), or "" when there is none.\"\"\"
+    return max(words(text), key=len, default="")
*** Add File: tests/test_longest.py
+from wordstats.core import longest_word
+
+
+def test_longest_word():
+    assert longest_word("a bbb cc ddd") == "bbb"
+    assert longest_word("") == ""
*** End Patch"""

SCRIPT = [
    Reply("Adding longest_word.", [("apply_patch", {"patch": PATCH})]),
    Reply("", [("shell", {"command": "python -m pytest -q"})]),
    Reply("Added longest_word with a test; 4 tests pass."),
    COMMIT_MESSAGE := Reply(
        "feat(core): add longest_word\n\nCallers needed the longest word of a text; ties keep the first."
    ),
]


def run_acb(
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """`python -m autocodebase ARGS` in `cwd`, as a user runs it (acb's venv first on PATH)."""
    environment = {**os.environ, **(env or {})}
    environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environment['PATH']}"
    return subprocess.run(
        [sys.executable, "-m", "autocodebase", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        input=stdin,
        timeout=timeout,
    )


def exec_with_mock(
    repo: Path, replies: list[Reply | Fault], task: str, *args: str
) -> tuple[subprocess.CompletedProcess[str], MockModelServer]:
    """`acb exec TASK -m openai/mock-model ARGS` against a loopback server playing `replies`."""
    with MockModelServer(replies) as server:
        env = {"OPENAI_API_KEY": "sk-test-0123456789abcdef", "OPENAI_BASE_URL": server.url + "/v1"}
        done = run_acb("exec", task, "-m", "openai/mock-model", *args, cwd=repo, env=env)
    return done, server


STOPPING_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def signals_as(ignored: tuple[int, ...] = ()) -> Any:
    """A `preexec_fn` giving the child the default action for Ctrl-C, SIGTERM and SIGHUP
    except `ignored`: what acb inherits must not depend on how the test run was started
    (`cmd &` in a script starts it with SIGINT ignored, nohup with SIGHUP ignored)."""

    def apply() -> None:
        for number in STOPPING_SIGNALS:
            signal.signal(number, signal.SIG_IGN if number in ignored else signal.SIG_DFL)

    return apply


def start_exec(
    repo: Path,
    server: MockModelServer,
    extra_env: dict[str, str] | None = None,
    ignored: tuple[int, ...] = (),
) -> subprocess.Popen[bytes]:
    """`acb exec "slow task"` in the background, talking to `server`, with the signals
    `ignored` set to be ignored as a parent may set them (nohup: SIGHUP)."""
    env = {
        **os.environ,
        "OPENAI_API_KEY": "sk-test-0123456789abcdef",
        "OPENAI_BASE_URL": server.url + "/v1",
        **(extra_env or {}),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "autocodebase", "exec", "slow task", "-m", "openai/x"],
        cwd=repo,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=signals_as(ignored),
    )


def kill_exec_after(repo: Path, replies: list[Reply | Fault], requests: int) -> MockModelServer:
    """Start `acb exec` against `replies` and SIGKILL it once the server has seen `requests`."""
    with MockModelServer(replies) as server:
        process = start_exec(repo, server)
        try:
            deadline = time.monotonic() + 60
            while len(server.requests) < requests and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(server.requests) >= requests, "acb never got that far"
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait()
    return server


def write_user_config(text: str) -> None:
    path = Path(os.environ["XDG_CONFIG_HOME"]) / "acb" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- a conversation in a terminal -------------------------------------------------------


def child_env(url: str) -> dict[str, str]:
    return {
        **os.environ,
        "OPENAI_API_KEY": "sk-test-0123456789abcdef",
        "OPENAI_BASE_URL": url + "/v1",
        "TERM": "xterm",
        "PROMPT_TOOLKIT_NO_CPR": "1",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }


def spawn(repo: Path, url: str, home: Path, ignored: tuple[int, ...] = ()) -> pexpect.spawn:
    """`acb` (a conversation) in a pseudo-terminal against the mock server at `url`, with
    the signals `ignored` ignored as its parent may set them."""
    import pexpect

    child = pexpect.spawn(
        sys.executable,
        ["-m", "autocodebase", "-m", "openai/mock-model"],
        cwd=str(repo),
        env=child_env(url),
        encoding="utf-8",
        timeout=30,
        dimensions=(40, 160),
        preexec_fn=signals_as(ignored),
    )
    child.expect("acb>")
    return child


# -- tools called as the model calls them ------------------------------------------------


def call_run_tests(workspace: Path, **arguments: object):  # type: ignore[no-untyped-def]
    """The `run_tests` tool called as the model calls it: (its result, the context)."""
    context = ToolContext(workspace=workspace, emit=EventLog(), shell_timeout_s=120)
    result, _ = default_toolbox().call(context, ToolCall("c1", "run_tests", dict(arguments), ""))
    return result, context


# -- a small project with known symbols (the context engine's and the map's tests) ------

SHOP_FILES = {
    "shop/models.py": '''"""Database models of the shop."""


class User:
    def __init__(self, name):
        self.name = name


def save_user(user):
    if not user.name:
        raise ValueError("a user needs a name")
    return user
''',
    "shop/views.py": """from shop.models import User, save_user
from shop.utils import slugify


def signup(request):
    return save_user(User(slugify(request.name)))
""",
    "shop/billing.py": '''"""Invoices: totals, tax and discounts."""
from shop.utils import slugify


class Invoice:
    """An invoice with its lines; tax is computed on the total."""

    def total(self):
        return sum(line.amount for line in self.lines)


def invoice_number(invoice):
    return slugify(str(invoice))
''',
    "shop/utils.py": """def slugify(text):
    return text.lower().replace(" ", "-")
""",
    "shop/report.py": """from shop.utils import slugify


def title(text):
    return slugify(text)
""",
    "docs/notes.md": "not code",
}


@functools.cache
def tool_works(*argv: str) -> bool:
    """Whether `argv` runs and exits 0 here: a binary on PATH is not enough (rustup's `cargo`
    without a default toolchain is on PATH and fails every command)."""
    try:
        done = subprocess.run(argv, capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def count_snapshots(agent: Any) -> list[int]:
    """Count the tree snapshots `agent` takes from now on: the returned list's one item."""
    snapshots = agent.changes.snapshots
    assert snapshots is not None
    taken = [0]
    entries = snapshots.entries

    def counting() -> Any:
        taken[0] += 1
        return entries()

    snapshots.entries = counting
    return taken


def logging_git_and_gh(tmp_path: Path, token: str) -> tuple[Path, dict[str, str]]:
    """A `git` that logs its argv (to the returned file) and a `gh` that prints `token`
    (GitHub's login), first on the PATH of the returned environment: what the forge tests
    check the token never reaches."""
    tools = tmp_path / "tools"
    tools.mkdir()
    real = subprocess.run(["which", "git"], capture_output=True, text=True).stdout.strip()
    log = tmp_path / "git-argv.log"
    (tools / "git").write_text(f'#!/bin/sh\necho "$@" >> {log}\nexec {real} "$@"\n')
    (tools / "gh").write_text(f'#!/bin/sh\n[ "$1 $2" = "auth token" ] && echo {token}\n')
    for program in ("git", "gh"):
        (tools / program).chmod(0o755)
    return log, {"PATH": f"{tools}{os.pathsep}{os.environ['PATH']}"}
