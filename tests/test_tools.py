"""Tools called the way the loop calls them: schemas, validation, confinement, limits."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from autocodebase.models.base import ToolCall
from autocodebase.output import HeadTailBuffer
from autocodebase.tools import default_toolbox
from autocodebase.tools.base import ToolContext, ToolResult
from tests.helpers import EventLog, tool_works, write_file


@pytest.fixture
def context(tmp_path: Path) -> ToolContext:
    return ToolContext(workspace=tmp_path, emit=EventLog(), shell_timeout_s=10, output_limit=2000)


def call(context: ToolContext, name: str, **arguments: object) -> ToolResult:
    result, _ = default_toolbox().call(context, ToolCall("c1", name, dict(arguments), ""))
    return result


def test_schemas_are_derived_from_signatures_and_docstrings() -> None:
    specs = {s.name: s for s in default_toolbox().specs}
    assert list(specs) == [
        "shell",
        "read_file",
        "search",
        "repo_map",
        "apply_patch",
        "run_tests",
        "update_plan",
    ]
    shell = specs["shell"].parameters
    assert shell["required"] == ["command"]
    assert "timeout_s" not in shell["properties"]  # no Args: text: accepted, not offered
    assert shell["properties"]["command"] == {"type": "string"}  # required, needs no words
    escalate = shell["properties"]["with_escalated_permissions"]["description"]
    assert escalate.startswith("Ask the user to run it outside the sandbox")  # from Args:
    reading = specs["read_file"].parameters["properties"]
    assert reading["start_line"]["type"] == "integer"
    plan = specs["update_plan"].parameters["properties"]["steps"]
    assert plan["type"] == "array"
    assert "title" not in str(specs)


def test_the_recorded_schemas_are_what_pydantic_derives_now() -> None:
    """The first request reads `tools/specs.json` instead of importing pydantic: it must be
    exactly the derivation, and every default tool must find its schema there (a tool changed
    without `python -m autocodebase.tools.specs` fails here)."""
    from autocodebase.tools.base import recorded_specs
    from autocodebase.tools.specs import derived_table

    assert recorded_specs() == derived_table()
    for tool in default_toolbox().tools:
        assert tool.spec == tool.derived_spec()


def test_file_tools_answer_but_are_offered_only_when_asked_for(tmp_path: Path) -> None:
    from autocodebase.tools import FILE_TOOLS

    box = default_toolbox(unoffered=FILE_TOOLS)
    assert [s.name for s in box.specs] == [
        "shell",
        "repo_map",
        "apply_patch",
        "run_tests",
        "update_plan",
    ]
    from autocodebase.models.cassette import ANSWERED_UNLISTED

    assert ANSWERED_UNLISTED == FILE_TOOLS  # a replayed call to them has not diverged
    (tmp_path / "a.txt").write_text("hello\n")
    context = ToolContext(workspace=tmp_path, emit=EventLog())
    result, _ = box.call(context, ToolCall("c1", "read_file", {"path": "a.txt"}, ""))
    assert "hello" in result.output and not result.is_error


def test_a_stale_recorded_schema_is_derived_again(monkeypatch: pytest.MonkeyPatch) -> None:
    from autocodebase.tools import base

    table = {name: dict(entry) for name, entry in base.recorded_specs().items()}
    table["read_file"]["description"] = "stale words"
    table["read_file"]["fingerprint"] = "0" * 16
    monkeypatch.setattr(base, "recorded_specs", lambda: table)
    read_file = next(t for t in default_toolbox().tools if t.name == "read_file")
    read_file._spec = None
    try:
        assert read_file.spec.description != "stale words"
        assert read_file.spec == read_file.derived_spec()
    finally:
        read_file._spec = None


def test_shell_runs_in_the_workspace(context: ToolContext) -> None:
    result = call(context, "shell", command="pwd; echo err >&2; exit 3")
    assert result.is_error and result.data["exit_code"] == 3
    assert str(context.workspace) in result.output and "err" in result.output
    assert re.search(r"\[exit 3(, \d+\.\ds)?\]$", result.output)


def test_shell_output_keeps_head_and_tail(context: ToolContext) -> None:
    result = call(context, "shell", command="echo FIRST; seq 1 100000; echo LAST")
    assert result.output.startswith("FIRST") and "LAST" in result.output
    assert "bytes omitted" in result.output and len(result.output) < 2400


def test_shell_timeout_kills_the_process_group(context: ToolContext) -> None:
    result = call(context, "shell", command="sleep 30 & sleep 30", timeout_s=1)
    assert result.is_error and result.data["timed_out"]
    assert "timed out after 1s" in result.output


def test_shell_env_is_what_the_context_gives(context: ToolContext) -> None:
    context.env = {"PATH": "/usr/bin:/bin", "VISIBLE": "yes"}
    result = call(context, "shell", command="echo ${VISIBLE}-${OPENAI_API_KEY:-absent}")
    assert "yes-absent" in result.output


def test_head_tail_buffer_counts_everything() -> None:
    buffer = HeadTailBuffer(10)
    for chunk in (b"abc", b"defgh", b"ijklmnop", b"qrstuvwxyz"):
        buffer.write(chunk)
    rendered = buffer.render()
    assert rendered.startswith("abcde") and rendered.endswith("vwxyz")
    assert "[... 16 bytes omitted ...]" in rendered


def test_read_file_numbers_and_windows(context: ToolContext) -> None:
    write_file(context.workspace / "a.txt", "".join(f"row {i}\n" for i in range(1, 11)))
    result = call(context, "read_file", path="a.txt", start_line=3, end_line=4)
    assert result.output.splitlines()[:2] == ["3\trow 3", "4\trow 4"]
    assert "start_line=5" in result.output


@pytest.mark.parametrize(
    "path,message", [("../x", "outside the workspace"), ("missing.txt", "does not exist")]
)
def test_read_file_errors(context: ToolContext, path: str, message: str) -> None:
    result = call(context, "read_file", path=path)
    assert result.is_error and message in result.output


def test_read_file_refuses_binary(context: ToolContext) -> None:
    (context.workspace / "b.bin").write_bytes(b"\x00\x01\x02")
    assert "binary" in call(context, "read_file", path="b.bin").output


@pytest.mark.parametrize("engine", ["rg", "python"])
def test_search_finds_matches(
    context: ToolContext, engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if engine == "rg" and not tool_works("rg", "--version"):
        pytest.skip("ripgrep is not installed")
    if engine == "python":
        monkeypatch.setattr("autocodebase.tools.search.which", lambda name: None)
    write_file(context.workspace / "src/a.py", "def alpha():\n    pass\n")
    write_file(context.workspace / "src/b.txt", "def beta\n")
    result = call(context, "search", pattern=r"def \w+", glob="*.py")
    assert result.data["engine"] == engine
    assert "src/a.py:1:def alpha():" in result.output and "beta" not in result.output
    assert call(context, "search", pattern="nothing-here").output == "no matches"


def test_search_bad_regex_is_an_error(
    context: ToolContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("autocodebase.tools.search.which", lambda name: None)
    write_file(context.workspace / "a.py", "x\n")
    result = call(context, "search", pattern="(unclosed")
    assert result.is_error and "invalid regular expression" in result.output


def test_update_plan_validates_and_emits(context: ToolContext) -> None:
    ok = call(
        context,
        "update_plan",
        steps=[{"step": "a", "status": "completed"}, {"step": "b", "status": "pending"}],
    )
    assert ok.output == "plan updated: 1/2 steps completed"
    assert context.plan[1] == {"step": "b", "status": "pending"}
    bad = call(context, "update_plan", steps=[{"step": "a", "status": "doing"}])
    assert bad.is_error and "status" in bad.output
    two = call(context, "update_plan", steps=[{"step": "a", "status": "in_progress"}] * 2)
    assert two.is_error and "at most one" in two.output


def test_apply_patch_tool_reports_and_emits(context: ToolContext) -> None:
    result = call(
        context, "apply_patch", patch="*** Begin Patch\n*** Add File: n.txt\n+hi\n*** End Patch"
    )
    assert not result.is_error and "A n.txt" in result.output
    log = context.emit
    assert isinstance(log, EventLog) and log.of("file_changed")[0]["path"] == "n.txt"
    failed = call(
        context, "apply_patch", patch="*** Begin Patch\n*** Add File: n.txt\n+again\n*** End Patch"
    )
    assert failed.is_error and failed.output.startswith("patch not applied")


def test_apply_patch_shows_the_diff_when_the_match_was_fuzzy(context: ToolContext) -> None:
    write_file(context.workspace / "a.py", "def f():\n    return 1\n")
    result = call(
        context,
        "apply_patch",
        patch="*** Begin Patch\n*** Update File: a.py\n def f():\n-  return 1\n+  return 2\n*** End Patch",
    )
    assert "matched ignoring indentation" in result.output
    assert "+    return 2" in result.output  # re-indented to the file's four spaces
    assert result.data["files"][0]["grades"] == ["indentation"]


def test_escalation_is_offered_only_when_someone_can_be_asked() -> None:
    from autocodebase.tools import default_toolbox, hidden_for

    def shell_params(approvals: str) -> set[str]:
        box = default_toolbox(hidden_for(approvals))
        spec = next(s for s in box.specs if s.name == "shell")
        return set(spec.parameters["properties"])

    assert shell_params("on-request") == {
        "command",
        "with_escalated_permissions",
        "justification",
    }
    assert shell_params("never") == shell_params("untrusted") == {"command"}


def test_a_search_with_too_many_hits_says_how_to_see_the_rest(context: ToolContext) -> None:
    for n in range(5):
        write_file(context.workspace / f"many{n}.txt", "needle\n" * 100)
    result = call(context, "search", pattern="needle")
    assert result.data["matches"] >= 250 and len(result.output) < 2600  # within the budget
    assert "more matches not shown: narrow the search with path or glob" in result.output
    if result.data["engine"] == "rg":
        assert "at most 50 matches per file shown" in result.output
        one = call(context, "search", pattern="needle", path="many0.txt")
        assert one.data["matches"] == 100 and "per file" not in one.output


def test_search_never_waits_on_a_named_pipe(tmp_path: Path) -> None:
    """A FIFO in the repository (or one a command made): reading it blocks until a writer
    comes, which would hang the run."""
    import os

    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "a.py").write_text("def x(): pass\n")
    context = ToolContext(workspace=tmp_path, emit=EventLog())
    search = default_toolbox().by_name["search"]
    everything = search.run(context, {"pattern": "def"})
    assert "a.py:1:def x" in everything.output
    named = search.run(context, {"pattern": "def", "path": "pipe"})
    assert named.is_error and "not a regular file or directory" in named.output


PLAIN_CALLS = [
    ("shell", {"command": "ls"}),
    ("read_file", {"path": "a.py"}),
    ("read_file", {"path": "a.py", "start_line": 3, "end_line": 9}),
    ("search", {"pattern": "def x", "glob": "*.py"}),
    ("apply_patch", {"patch": "*** Begin Patch\n*** End Patch"}),
    ("run_tests", {}),
    ("repo_map", {"focus": "parser"}),
]
NOT_PLAIN_CALLS = [
    ("shell", {"command": "ls", "timeout_s": 5}),  # accepted, not offered
    ("read_file", {"path": "a.py", "start_line": "3"}),  # pydantic coerces
    ("read_file", {"path": "a.py", "start_line": True}),
    ("shell", {}),  # missing: pydantic's message
    ("shell", {"command": "ls", "workdir": "src"}),  # accepted, not offered
    ("shell", {"command": "ls", "colour": "red"}),
    ("read_file", {"path": None}),
    ("update_plan", {"steps": [{"step": "a", "status": "pending"}]}),
]


@pytest.mark.parametrize(("name", "arguments"), PLAIN_CALLS)
def test_plainly_valid_arguments_are_what_pydantic_makes_of_them(
    name: str, arguments: dict[str, object]
) -> None:
    chosen = default_toolbox().by_name[name]
    assert chosen.plainly_valid(arguments) == chosen.validated(arguments)


@pytest.mark.parametrize(("name", "arguments"), NOT_PLAIN_CALLS)
def test_anything_else_is_left_to_pydantic(name: str, arguments: dict[str, object]) -> None:
    assert default_toolbox().by_name[name].plainly_valid(arguments) is None


def test_a_plain_run_does_not_import_pydantic(tmp_path: Path) -> None:
    """What the first steps of most runs cost: no pydantic at all (a fresh interpreter)."""
    import subprocess
    import sys

    (tmp_path / "a.txt").write_text("hello\n")
    script = (
        "import sys\n"
        "from autocodebase.models.base import ToolCall\n"
        "from autocodebase.tools import default_toolbox\n"
        "from autocodebase.tools.base import ToolContext\n"
        f"context = ToolContext(workspace=__import__('pathlib').Path({str(tmp_path)!r}), "
        "emit=lambda e: None)\n"
        "result, _ = default_toolbox().call(context, ToolCall('c', 'read_file', "
        "{'path': 'a.txt'}, ''))\n"
        "assert 'hello' in result.output, result.output\n"
        "print('pydantic' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "False"
