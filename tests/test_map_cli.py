"""The context engine as users and the model meet it: `acb map`, the `repo_map` tool, and the
map in the system prompt of a run."""

from __future__ import annotations

from pathlib import Path

from autocodebase.models.base import ToolCall
from autocodebase.tools import default_toolbox
from autocodebase.tools.base import ToolContext
from tests.fakes.mock_server import Reply
from tests.helpers import SHOP_FILES as FILES
from tests.helpers import (
    EventLog,
    exec_with_mock,
    run_acb,
    write_file,
    write_files,
    write_user_config,
)


def shop(root: Path) -> Path:
    return write_files(root, FILES)


def test_acb_map_prints_the_focused_map_and_reuses_its_index(tmp_path: Path) -> None:
    repo = shop(tmp_path / "shop")
    first = run_acb("map", "--focus", "invoice tax", "--budget", "60", "--stats", cwd=repo)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("shop/billing.py:\n 5│class Invoice:\n")
    assert "index: 5 files, 5 parsed" in first.stderr
    assert "cl100k_base" in first.stderr
    again = run_acb("map", "--focus", "invoice tax", "--budget", "60", "--stats", cwd=repo)
    assert again.stdout == first.stdout
    assert "index: 5 files, 0 parsed" in again.stderr

    ranked = run_acb("map", "-C", str(repo), "--files", "2", "--focus", "save_user()", cwd=tmp_path)
    assert ranked.returncode == 0, ranked.stderr
    lines = ranked.stdout.splitlines()
    assert len(lines) == 2 and lines[0].endswith("shop/models.py")


def test_acb_map_refuses_bad_input_in_one_line(tmp_path: Path) -> None:
    missing = run_acb("map", "-C", str(tmp_path / "nope"), cwd=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.count("\n") == 1 and "no such directory" in missing.stderr
    bad_budget = run_acb("map", "--budget", "0", cwd=tmp_path)
    assert bad_budget.returncode == 2 and "Traceback" not in bad_budget.stderr


def test_the_repo_map_tool_sees_edits_made_during_the_run(tmp_path: Path) -> None:
    repo = shop(tmp_path / "shop")
    context = ToolContext(workspace=repo, emit=EventLog())
    toolbox = default_toolbox()

    def ask(focus: str) -> str:
        result, _ = toolbox.call(context, ToolCall("c1", "repo_map", {"focus": focus}, ""))
        assert not result.is_error, result.output
        return result.output

    assert "def refund(" not in ask("refund an invoice")
    toolbox.call(context, ToolCall("c0", "read_file", {"path": "shop/views.py"}, ""))
    assert context.recent_files == ["shop/views.py"]
    unfocused = ask("")
    assert unfocused.index("shop/models.py:") < unfocused.index("shop/billing.py:"), (
        "views.py, just read, leans on models.py"
    )
    write_file(repo / "shop/refunds.py", "def refund(invoice):\n    return -invoice.total()\n")
    after = ask("refund an invoice")
    assert after.startswith("shop/refunds.py:\n1│def refund(invoice):")
    assert toolbox.by_name["repo_map"].read_only
    context.context_engine.close()


def test_a_run_starts_with_a_map_focused_on_its_task(wordstats_repo: Path) -> None:
    write_user_config("map_wait_s = 60\n")  # the default second is not for a loaded machine
    done, server = exec_with_mock(
        wordstats_repo, [Reply("Nothing to change.")], "count the unique words", "--no-commit"
    )
    assert done.returncode == 0, done.stderr
    system = server.requests[0].body["messages"][0]
    assert system["role"] == "system"
    assert "Repository map" in system["content"]
    assert "wordstats/core.py:" in system["content"]
    assert "def unique_words(text: str) -> set[str]:" in system["content"]
    tools = {t["function"]["name"]: t["function"] for t in server.requests[0].body["tools"]}
    assert "repo_map" in tools
    shell = tools["shell"]["parameters"]["properties"]
    assert "with_escalated_permissions" not in shell, "exec never asks, so it is not offered"


def test_map_tokens_zero_leaves_the_map_out(wordstats_repo: Path) -> None:
    write_file(wordstats_repo / ".acb/config.toml", "map_tokens = 0\n")
    done, server = exec_with_mock(wordstats_repo, [Reply("ok")], "anything", "--no-commit")
    assert done.returncode == 0, done.stderr
    assert "Repository map" not in server.requests[0].body["messages"][0]["content"]
    assert not (wordstats_repo / ".acb/index").exists()


def test_a_map_that_cannot_be_built_is_reported_and_the_run_goes_on(wordstats_repo: Path) -> None:
    write_file(wordstats_repo / ".acb", "a file where the index directory would go\n")
    done, server = exec_with_mock(wordstats_repo, [Reply("ok")], "anything", "--no-commit")
    assert done.returncode == 0, done.stderr
    assert "repo map unavailable" in done.stderr
    assert "Repository map" not in server.requests[0].body["messages"][0]["content"]


def test_a_slow_map_does_not_hold_up_the_run_and_follows_when_ready(tmp_path: Path) -> None:
    import time

    from autocodebase.context.background import _DETACHED, BackgroundMap
    from autocodebase.context.index import default_location

    repo = shop(tmp_path / "shop")
    index = default_location(repo.resolve())
    built = BackgroundMap(repo, 500, "invoice").wait(timeout=0.0)
    assert built.text == "" and built.pending and built.error is None
    deadline = time.monotonic() + 60
    late = built.poll()
    while late is None and time.monotonic() < deadline:
        time.sleep(0.05)
        late = built.poll()
    assert late is not None and late.startswith("shop/billing.py:")
    assert built.poll() is None, "given once"
    # A run that ends first lets the builder finish the index for the next run.
    index.unlink()
    left = BackgroundMap(repo, 500, "invoice").wait(timeout=0.0)
    left.detach()
    child = _DETACHED[-1]
    assert child.wait(timeout=60) == 0
    for stream in (child.stdout, child.stderr):
        if stream is not None:
            stream.close()
    assert index.exists()
    again = BackgroundMap(repo, 500, "invoice").wait(timeout=60)
    assert again.error is None and again.text.startswith("shop/billing.py:")
