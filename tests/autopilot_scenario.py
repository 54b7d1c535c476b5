"""The autopilot deploy scenario on the example project, shared by its test
(test_autopilot_scenario.py) and `make demo-autopilot`: three queued tasks and the scripted
model's side of every run, the deploy config, and the traffic that finds the regression.

1. `1-longest` adds longest_word: it ships, is released and holds up under traffic.
2. `2-cache` caches /count's answers in the service. Its tests pass, but the cache's eviction
   calls `dict.popitem(last=False)` (an OrderedDict habit): a TypeError once 32 different
   texts were asked, which no test reaches and acb deploy's probes (one text) never do. Under
   traffic it answers 500s: the monitor sees them, autopilot rolls the release back and
   queues a fix task with the diagnosis, which is worked next, ships and holds up.
3. `3-shortest` asks for a test file the run never writes: it fails verification twice and
   waits for a person.

The traffic is driven by what the ledger says, never by a clock: once per release autopilot
is `watching`, `Traffic` sends a fixed number of requests with distinct texts through the
proxy, and autopilot ends each watch on that many requests (`--watch-requests`), so the
outcome does not depend on how busy the machine is.
"""

from __future__ import annotations

import http.client
import sqlite3
import threading
from pathlib import Path

from tests.fakes.mock_server import Reply
from tests.helpers import SCRIPT

PER_RELEASE = 60
"""Requests sent to each watched release; the bad one fails from the 33rd distinct text on."""

REGRESSION = """*** Begin Patch
*** Update File: wordstats/service.py
@@ def route(path: str, query: str) -> tuple[str, str, bytes]:
     if path == "/count":
         text = parse_qs(query).get("text", [""])[0]
-        return "200 OK", "application/json", json.dumps({"words": word_count(text)}).encode()
+        return "200 OK", "application/json", json.dumps({"words": cached_count(text)}).encode()
     return "404 Not Found", "text/plain", b"not found\\n"
+
+
+CACHE_SIZE = 32
+_CACHE: dict[str, int] = {}
+
+
+def cached_count(text: str) -> int:
+    \"\"\"word_count, remembered for the last CACHE_SIZE texts (clients repeat themselves).\"\"\"
+    if text not in _CACHE:
+        if len(_CACHE) >= CACHE_SIZE:
+            _CACHE.popitem(last=False)  # the oldest entry
+        _CACHE[text] = word_count(text)
+    return _CACHE[text]
*** Add File: tests/test_cache.py
+from wordstats.service import cached_count
+
+
+def test_cached_count_remembers():
+    assert cached_count("a b c") == 3
+    assert cached_count("a b c") == 3
+    assert cached_count("") == 0
*** End Patch"""

FIX = """*** Begin Patch
*** Update File: wordstats/service.py
@@ def cached_count(text: str) -> int:
         if len(_CACHE) >= CACHE_SIZE:
-            _CACHE.popitem(last=False)  # the oldest entry
+            del _CACHE[next(iter(_CACHE))]  # the oldest entry: dicts keep insertion order
*** Add File: tests/test_cache_bounded.py
+from wordstats.service import CACHE_SIZE, _CACHE, cached_count
+
+
+def test_the_cache_evicts_instead_of_failing():
+    for n in range(3 * CACHE_SIZE):
+        assert cached_count(f"word{n} again") == 2
+    assert len(_CACHE) == CACHE_SIZE
*** End Patch"""

NEVER_PASSES = """*** Begin Patch
*** Add File: wordstats/shortest.py
+def shortest_word(text: str) -> str:
+    return min(text.split(), key=len, default="")
*** End Patch"""

TESTED = ("shell", {"command": "python -m pytest -q"})

REPLIES = [
    *SCRIPT,  # 1-longest: patch, tests, answer, commit message
    Reply("Caching /count's answers.", [("apply_patch", {"patch": REGRESSION})]),
    Reply("", [TESTED]),
    Reply("/count answers repeated texts from a small cache; the tests pass."),
    Reply("perf(service): cache word counts\n\nClients ask the same texts again and again."),
    # the fix task, queued by autopilot after the rollback
    Reply("The eviction calls dict.popitem(last=False).", [("apply_patch", {"patch": FIX})]),
    Reply("", [TESTED]),
    Reply("Fixed the eviction, with a test that fills the cache past its size."),
    Reply("fix(service): evict the oldest cached count\n\ndict.popitem takes no argument."),
    # 3-shortest, twice: its acceptance test file is never written
    *[
        reply
        for _ in range(2)
        for reply in (
            Reply("Adding shortest_word.", [("apply_patch", {"patch": NEVER_PASSES})]),
            Reply("Added shortest_word."),
            Reply("feat: add shortest_word\n\nA helper."),
        )
    ],
]

TASKS = {
    ".acb/tasks/1-longest.md": "---\ntest: python -m pytest -q\n---\n# Add longest_word\n\n"
    "A function returning the longest word of a text.\n",
    ".acb/tasks/2-cache.md": "---\ntest: python -m pytest -q\n---\n# Cache /count\n\n"
    "Clients repeat their texts: remember the last answers.\n",
    ".acb/tasks/3-shortest.md": "---\ntest: python -m pytest -q tests/test_shortest.py\n---\n"
    "# Add shortest_word\n\nWith tests in tests/test_shortest.py.\n",
}


def deploy_toml(port: int) -> str:
    """The example's deploy config on `port`, with a p95 limit no busy machine reaches: the
    regression here is errors, and a slow second must not pass for one."""
    return (
        'command = "python -m wordstats.service --host {host} --port {port}"\n'
        f"port = {port}\n"
        'health = "/healthz"\n'
        'probe = "/count?text=deploy+check"\n'
        "verify_s = 2\nwatch_s = 1\nhealth_timeout_s = 60\nmax_p95_ms = 20000\n"
    )


def watching(ledger: Path) -> list[tuple[str, str]]:
    """(task, release) of every release autopilot is watching now, read from its ledger."""
    try:
        connection = sqlite3.connect(f"file:{ledger}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return []
    try:
        rows = connection.execute(
            "SELECT id, release_sha FROM autopilot_tasks WHERE state = 'watching'"
        ).fetchall()
    except sqlite3.Error:  # not created yet, or busy past the timeout: look again
        return []
    finally:
        connection.close()
    return [(str(task), str(sha)) for task, sha in rows if sha]


def ask(port: int, path: str) -> int:
    """One GET through the proxy; its status (0: no answer)."""
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", path)
        status = connection.getresponse().status
        connection.close()
    except OSError:
        return 0
    return status


class Traffic(threading.Thread):
    """Clients of the deployed service: `PER_RELEASE` requests, each with a text not asked
    before, to every release autopilot watches, once per release."""

    def __init__(self, ledger: Path, port: int):
        super().__init__(daemon=True)
        self.ledger = ledger
        self.port = port
        self.answers: dict[str, list[int]] = {}
        """Release → the status of each request sent while it was watched."""
        self.order: list[tuple[str, str]] = []
        self.done = threading.Event()
        self.sent = 0

    def run(self) -> None:
        while not self.done.is_set():
            for task, sha in watching(self.ledger):
                if sha in self.answers:
                    continue
                self.order.append((task, sha))
                self.answers[sha] = []
                for _ in range(PER_RELEASE):
                    self.sent += 1
                    text = f"client+{self.sent}+asks"
                    self.answers[sha].append(ask(self.port, f"/count?text={text}"))
            self.done.wait(0.1)
