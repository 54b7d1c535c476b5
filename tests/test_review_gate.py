"""The review gate in real runs: a high-severity finding on the run's own change goes back to
the model; what remains blocks the commit; what was found is in the ledger and the git note."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import git
from tests.fakes.mock_server import Reply
from tests.helpers import exec_with_mock, write_file
from tests.helpers import json_events as events

pytestmark = pytest.mark.slow  # end-to-end: `make test-slow`, not `make test`

WEAK = """*** Begin Patch
*** Add File: wordstats/digest.py
+import hashlib
+
+
+def password_digest(password: str) -> str:
+    return hashlib.md5(password.encode()).hexdigest()
*** End Patch"""

STRONG = """*** Begin Patch
*** Update File: wordstats/digest.py
@@ def password_digest(password: str) -> str:
-    return hashlib.md5(password.encode()).hexdigest()
+    return hashlib.scrypt(password.encode(), salt=b"wordstats", n=2**14, r=8, p=1).hex()
*** End Patch"""


SALTED = """*** Begin Patch
*** Add File: wordstats/digest.py
+import hashlib
+
+
+def password_digest(password: str) -> str:
+    return hashlib.scrypt(password.encode(), salt=b"wordstats", n=2**14, r=8, p=1).hex()
*** End Patch"""


def test_a_high_finding_goes_back_and_the_fix_is_committed_with_the_review(
    wordstats_repo: Path,
) -> None:
    script = [
        Reply("", [("apply_patch", {"patch": WEAK})]),
        Reply("Added password_digest."),
        Reply("", [("apply_patch", {"patch": STRONG})]),
        Reply("Switched to scrypt."),
        Reply("feat(digest): add password_digest"),
    ]
    done, server = exec_with_mock(wordstats_repo, script, "add password_digest", "--json")
    assert done.returncode == 0, done.stderr
    checked = [e for e in events(done.stdout) if e["type"] == "review_checked"]
    assert [c["verdict"] for c in checked] == ["sent-back", "passed"]
    first = checked[0]["findings"]
    assert isinstance(first, list) and first[0]["rule"] == "B324" and first[0]["line"] == 5
    feedback = server.requests[2].body["messages"][-1]["content"]
    assert "wordstats/digest.py:5 [high, bandit B324]" in feedback
    note = git(wordstats_repo, "notes", "--ref", "refs/notes/acb", "show", "HEAD")
    assert json.loads(note)["review"] == []


def test_findings_left_unfixed_block_the_commit(wordstats_repo: Path, tmp_path: Path) -> None:
    write_file(tmp_path / "config" / "acb" / "config.toml", "[review]\nrounds = 1\n")
    head = git(wordstats_repo, "rev-parse", "HEAD")
    script = [
        Reply("", [("apply_patch", {"patch": WEAK})]),
        Reply("Done."),
        Reply("MD5 is fine here."),
    ]
    done, _ = exec_with_mock(wordstats_repo, script, "add password_digest", "--json")
    assert done.returncode == 1
    stream = events(done.stdout)
    assert [e["verdict"] for e in stream if e["type"] == "review_checked"] == [
        "sent-back",
        "gave-up",
    ]
    assert "review found high-severity issues left unfixed" in str(stream[-1]["error"])
    assert git(wordstats_repo, "rev-parse", "HEAD") == head
    assert (wordstats_repo / "wordstats/digest.py").is_file(), "the work stays for the human"


def test_a_repository_cannot_turn_its_own_review_off(wordstats_repo: Path) -> None:
    config = wordstats_repo / ".acb/config.toml"
    write_file(config, '[review]\nblock_on = "never"\n')
    done, _ = exec_with_mock(wordstats_repo, [Reply("hi")], "anything")
    assert done.returncode == 0, done.stderr
    assert f"acb: warning: {config}: ignored '[review] block_on'" in done.stderr


def test_the_models_review_is_advisory_recorded_and_in_the_note(
    wordstats_repo: Path, tmp_path: Path
) -> None:
    write_file(tmp_path / "config" / "acb" / "config.toml", "[review]\nmodel = true\n")
    finding = {
        "file": "wordstats/digest.py",
        "line": 5,
        "category": "security",
        "severity": "high",
        "message": "a fixed salt makes equal passwords equal digests",
        "fix": "use a random salt per password",
    }
    script = [
        Reply("", [("apply_patch", {"patch": SALTED})]),
        Reply("Added password_digest."),
        Reply(json.dumps({"findings": [finding]})),
        Reply(json.dumps({"scores": [{"id": 1, "score": 8, "why": "real"}]})),
        Reply("feat(digest): add password_digest"),
    ]
    done, server = exec_with_mock(wordstats_repo, script, "add password_digest", "--json")
    assert done.returncode == 0, done.stderr
    checked = [e for e in events(done.stdout) if e["type"] == "review_checked"]
    assert [c["verdict"] for c in checked] == ["passed-with-findings"], "advisory: not blocking"
    assert [(f["tool"], f["line"]) for f in checked[0]["findings"]] == [("model", 5)]
    review_request = server.requests[2].body["messages"][-1]["content"]
    assert "## File: wordstats/digest.py" in review_request
    assert "5 +    return hashlib.scrypt(" in review_request
    note = json.loads(git(wordstats_repo, "notes", "--ref", "refs/notes/acb", "show", "HEAD"))
    assert [f["tool"] for f in note["review"]] == ["model"]
