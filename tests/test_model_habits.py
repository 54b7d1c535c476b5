"""What real models send (issue 26 item 5): argument names and patch shapes they were trained on
with other agents (Codex's `apply_patch{"input"}`, `shell{"command": [argv], "workdir",
"timeout_ms"}`, `update_plan{"plan", "explanation"}`, absolute paths, git diffs) go through the
real tools and either do exactly what was meant or are refused with the right format shown."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from autocodebase.agent.loop import Agent
from autocodebase.models.base import ToolCall
from autocodebase.models.cassette import ScriptedModel
from autocodebase.models.retry import RetryPolicy
from autocodebase.tools import default_toolbox, hidden_for
from autocodebase.tools.base import ToolContext, ToolResult
from autocodebase.vcs.checkpoint import Snapshotter
from tests.helpers import EventLog, reply, write_file

MODULE = "import os\n\n\ndef foo(a):\n    x = 1\n    return a + x\n\n\ndef bar():\n    return 2\n"


@pytest.fixture
def context(tmp_path: Path) -> ToolContext:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    return ToolContext(workspace=workspace, emit=EventLog(), shell_timeout_s=10, output_limit=4000)


def call(context: ToolContext, name: str, arguments: dict[str, Any]) -> ToolResult:
    result, _ = default_toolbox().call(
        context, ToolCall("c1", name, arguments, json.dumps(arguments))
    )
    return result


# --- shell ----------------------------------------------------------------------------------


def test_shell_takes_codex_argv_with_bash_lc(context: ToolContext) -> None:
    result = call(context, "shell", {"command": ["bash", "-lc", "echo one && echo two"]})
    assert not result.is_error, result.output
    assert result.output.splitlines()[:2] == ["one", "two"]


def test_shell_joins_a_plain_argv_with_quoting(context: ToolContext) -> None:
    result = call(context, "shell", {"command": ["printf", "%s|", "a b", "it's"]})
    assert result.output.startswith("a b|it's|"), result.output


def test_shell_argv_of_other_types_is_refused_with_what_to_send(context: ToolContext) -> None:
    result = call(context, "shell", {"command": ["echo", 3]})
    assert result.is_error and "list of strings" in result.output


def test_shell_workdir_inside_the_workspace_runs_there(context: ToolContext) -> None:
    (context.workspace / "pkg" / "sub").mkdir(parents=True)
    result = call(context, "shell", {"command": ["bash", "-lc", "pwd"], "workdir": "pkg/sub"})
    assert result.output.splitlines()[0] == str((context.workspace / "pkg/sub").resolve())
    absolute = str(context.workspace / "pkg")
    result = call(context, "shell", {"command": "pwd", "workdir": absolute})
    assert result.output.splitlines()[0] == str((context.workspace / "pkg").resolve())


@pytest.mark.parametrize(
    "workdir,message",
    [("/", "outside the workspace"), ("../", "outside the workspace"), ("nope", "not a directory")],
)
def test_shell_workdir_elsewhere_is_a_clear_error(
    context: ToolContext, workdir: str, message: str
) -> None:
    result = call(context, "shell", {"command": "touch made", "workdir": workdir})
    assert result.is_error and message in result.output
    assert not (context.workspace / "made").exists()


def test_shell_timeout_ms_is_seconds(context: ToolContext) -> None:
    result = call(context, "shell", {"command": "sleep 20", "timeout_ms": 1000})
    assert result.is_error and result.data["timed_out"]
    assert "timed out after 1s" in result.output


def test_the_users_shell_timeout_caps_the_models(context: ToolContext) -> None:
    """Item 8: a model asking for 600 s does not outlast the user's 1 s."""
    context.shell_timeout_s = 1
    result = call(context, "shell", {"command": "sleep 20", "timeout_s": 600})
    assert result.data["timed_out"] and "timed out after 1s" in result.output
    assert "the user's limit" in result.output
    codex = call(context, "shell", {"command": ["sleep", "20"], "timeout_ms": 600_000})
    assert codex.data["timed_out"] and "timed out after 1s" in codex.output


def test_a_shell_argv_reading_only_does_not_snapshot_the_tree() -> None:
    shell = default_toolbox().by_name["shell"]
    assert not shell.may_change_files({"command": ["bash", "-lc", "ls -la"]})
    assert shell.may_change_files({"command": ["bash", "-lc", "rm -rf build"]})


# --- update_plan, apply_patch{"input"} ------------------------------------------------------


def test_update_plan_takes_codex_plan_and_explanation(context: ToolContext) -> None:
    result = call(
        context,
        "update_plan",
        {
            "explanation": "found the regex",
            "plan": [
                {"step": "read core.py", "status": "completed"},
                {"step": "fix the regex", "status": "in_progress"},
            ],
        },
    )
    assert not result.is_error, result.output
    assert result.output == "plan updated: 1/2 steps completed (found the regex)"
    assert result.data["explanation"] == "found the regex"
    assert context.plan[1] == {"step": "fix the regex", "status": "in_progress"}


def test_apply_patch_takes_codex_input(context: ToolContext) -> None:
    patch = "*** Begin Patch\n*** Add File: n.txt\n+hi\n*** End Patch"
    result = call(context, "apply_patch", {"input": patch})
    assert not result.is_error, result.output
    assert (context.workspace / "n.txt").read_text() == "hi\n"


def test_an_alias_sent_with_its_own_name_is_named_as_the_problem(context: ToolContext) -> None:
    patch = "*** Begin Patch\n*** Add File: n.txt\n+hi\n*** End Patch"
    result = call(context, "apply_patch", {"input": patch, "patch": patch})
    assert result.is_error and "input" in result.output
    assert not (context.workspace / "n.txt").exists()


# --- absolute paths -------------------------------------------------------------------------


def test_absolute_paths_inside_the_workspace_are_read_searched_and_patched(
    context: ToolContext,
) -> None:
    write_file(context.workspace / "pkg/m.py", MODULE)
    absolute = str(context.workspace / "pkg/m.py")
    read = call(context, "read_file", {"path": absolute, "start_line": 4, "end_line": 4})
    assert read.output.startswith("4\tdef foo(a):") and read.data["path"] == "pkg/m.py"
    found = call(context, "search", {"pattern": "def bar", "path": str(context.workspace)})
    assert "pkg/m.py:9:def bar():" in found.output
    patch = f"*** Begin Patch\n*** Update File: {absolute}\n@@\n-    return 2\n+    return 3\n*** End Patch"
    result = call(context, "apply_patch", {"patch": patch})
    assert not result.is_error, result.output
    assert "M pkg/m.py" in result.output and result.data["files"][0]["path"] == "pkg/m.py"
    assert (context.workspace / "pkg/m.py").read_text().endswith("return 3\n")


def test_absolute_paths_outside_the_workspace_stay_refused(
    context: ToolContext, tmp_path: Path
) -> None:
    outside = write_file(tmp_path / "outside.py", "x = 1\n")
    assert "outside the workspace" in call(context, "read_file", {"path": str(outside)}).output
    patch = f"*** Begin Patch\n*** Update File: {outside}\n@@\n-x = 1\n+x = 2\n*** End Patch"
    result = call(context, "apply_patch", {"patch": patch})
    assert result.is_error and "absolute paths are not allowed" in result.output
    sneaky = f"*** Begin Patch\n*** Add File: {context.workspace}/../escape.py\n+x\n*** End Patch"
    assert call(context, "apply_patch", {"patch": sneaky}).is_error
    assert outside.read_text() == "x = 1\n" and not (tmp_path / "escape.py").exists()


# --- patch shapes through the tool ----------------------------------------------------------


@pytest.fixture
def module(context: ToolContext) -> Path:
    return write_file(context.workspace / "m.py", MODULE)


def test_numeric_hunk_headers_in_a_codex_patch(context: ToolContext, module: Path) -> None:
    patch = (
        "*** Begin Patch\n*** Update File: m.py\n@@ -4,3 +4,3 @@ def foo(a):\n def foo(a):\n"
        "-    x = 1\n+    x = 2\n     return a + x\n@@ -10 +10 @@\n-    return 2\n+    return 3\n"
        "*** End Patch"
    )
    result = call(context, "apply_patch", {"input": patch})
    assert not result.is_error, result.output
    assert module.read_text() == MODULE.replace("x = 1", "x = 2").replace("return 2", "return 3")


def test_a_git_diff_applies_exactly(context: ToolContext, module: Path) -> None:
    diff = (
        "diff --git a/m.py b/m.py\nindex 3b18e51..a2c1f2e 100644\n--- a/m.py\n+++ b/m.py\n"
        "@@ -4,3 +4,3 @@ import os\n def foo(a):\n-    x = 1\n+    x = 2\n     return a + x\n"
        "diff --git a/new.py b/new.py\nnew file mode 100644\n--- /dev/null\n+++ b/new.py\n"
        "@@ -0,0 +1,2 @@\n+A = 1\n+B = 2\n"
    )
    result = call(context, "apply_patch", {"patch": diff})
    assert not result.is_error, result.output
    assert module.read_text() == MODULE.replace("x = 1", "x = 2")
    assert (context.workspace / "new.py").read_text() == "A = 1\nB = 2\n"
    assert [f["change"] for f in result.data["files"]] == ["modified", "added"]


def test_the_applied_diff_is_what_git_apply_does(context: ToolContext, module: Path) -> None:
    """A diff made by git itself for a line the file holds four times: git's line number says
    which, and acb changes the one `git apply` would (the context alone is ambiguous)."""
    module.write_text("0\n0\n0\n0\n")
    subprocess.run(["git", "init", "-q"], cwd=context.workspace, check=True)
    subprocess.run(["git", "add", "m.py"], cwd=context.workspace, check=True)
    module.write_text("0\n0\n1\n0\n")
    diff = subprocess.run(
        ["git", "diff", "-U0"], cwd=context.workspace, capture_output=True, text=True, check=True
    ).stdout
    assert "@@ -3 +3 @@\n" in diff
    module.write_text("0\n0\n0\n0\n")
    result = call(context, "apply_patch", {"patch": f"```diff\n{diff}```"})
    assert not result.is_error, result.output
    assert module.read_text() == "0\n0\n1\n0\n"


def test_add_over_an_existing_file_is_refused_with_the_right_format(
    context: ToolContext, module: Path
) -> None:
    result = call(
        context, "apply_patch", {"patch": "*** Begin Patch\n*** Add File: m.py\n+x\n*** End Patch"}
    )
    assert result.is_error and "already exists" in result.output
    assert "*** Update File: m.py" in result.output
    assert "*** Delete File: m.py\n*** Add File: m.py" in result.output
    assert module.read_text() == MODULE


def test_delete_then_add_of_one_path_replaces_the_file(context: ToolContext, module: Path) -> None:
    module.chmod(0o755)
    patch = "*** Begin Patch\n*** Delete File: m.py\n*** Add File: m.py\n+new = 1\n*** End Patch"
    result = call(context, "apply_patch", {"patch": patch})
    assert not result.is_error, result.output
    assert module.read_text() == "new = 1\n" and module.stat().st_mode & 0o777 == 0o755
    assert result.data["files"] == [
        {"path": "m.py", "change": "modified", "moved_to": None, "grades": []}
    ]
    assert "-import os" in result.data["diff"] and "+new = 1" in result.data["diff"]


def test_repeated_update_sections_apply_in_order(context: ToolContext, module: Path) -> None:
    patch = (
        "*** Begin Patch\n*** Update File: m.py\n@@\n-    x = 1\n+    x = 2\n"
        "*** Update File: m.py\n@@\n-    x = 2\n+    x = 3\n"
        "*** Update File: m.py\n@@ def bar():\n-    return 2\n+    return 4\n*** End Patch"
    )
    result = call(context, "apply_patch", {"patch": patch})
    assert not result.is_error, result.output
    assert module.read_text() == MODULE.replace("x = 1", "x = 3").replace("return 2", "return 4")
    assert [f["grades"] for f in result.data["files"]] == [["exact", "exact", "exact"]]


def test_a_later_section_failing_leaves_every_file_as_it_was(
    context: ToolContext, module: Path
) -> None:
    patch = (
        "*** Begin Patch\n*** Update File: m.py\n@@\n-    x = 1\n+    x = 2\n"
        "*** Update File: m.py\n@@\n-    x = 1\n+    x = 3\n*** End Patch"
    )
    result = call(context, "apply_patch", {"patch": patch})
    assert result.is_error and "could not find" in result.output
    assert module.read_text() == MODULE


@pytest.mark.parametrize(
    "patch,fragment",
    [
        ("please change foo", "*** Update File: src/app"),
        ("*** Begin Patch\n*** Update File: m.py\n x\n*** End Patch", "*** Update File: src/app"),
        ("*** Begin Patch\n*** Frobnicate: m.py\n*** End Patch", "*** Update File: src/app"),
        ("--- a/m.py\n+++ b/m.py\n@@ -1 +1 @@\n-import os\nimport sys\n", "--- a/src/app.py"),
        ("--- a/m.py\n+++ b/m.py\n@@ bad header @@\n-import os\n", "@@ -10,3 +10,3 @@"),
    ],
)
def test_format_refusals_show_an_example(
    context: ToolContext, module: Path, patch: str, fragment: str
) -> None:
    result = call(context, "apply_patch", {"patch": patch})
    assert result.is_error and fragment in result.output, result.output
    assert module.read_text() == MODULE


# --- schemas --------------------------------------------------------------------------------


def _keys_and_values(node: Any) -> list[tuple[str, Any]]:
    if isinstance(node, dict):
        return [(k, v) for k, v in node.items()] + [
            pair for v in node.values() for pair in _keys_and_values(v)
        ]
    if isinstance(node, list):
        return [pair for item in node for pair in _keys_and_values(item)]
    return []


@pytest.mark.parametrize("approvals", ["never", "on-request"])
def test_every_schema_is_portable_across_providers(approvals: str) -> None:
    """No `$ref`/`$defs` (Gemini's OpenAI-compatible endpoint and some local servers reject
    them), no `anyOf` or `default: null` (X | None is shown as an optional X), no nested
    `additionalProperties`; accepted aliases are not advertised."""
    for spec in default_toolbox(hidden_for(approvals)).specs:
        pairs = _keys_and_values(spec.parameters)
        keys = {k for k, _ in pairs}
        assert not keys & {"$ref", "$defs", "anyOf", "additionalProperties", "title"}, spec.name
        assert ("default", None) not in pairs, spec.name
        assert spec.parameters["type"] == "object"
        assert set(spec.parameters.get("required", [])) <= set(spec.parameters["properties"])
    specs = {s.name: s.parameters["properties"] for s in default_toolbox(hidden_for("never")).specs}
    assert set(specs["shell"]) == {"command"}  # timeout_s and workdir: accepted, not offered
    assert set(specs["update_plan"]) == {"steps"}
    assert set(specs["apply_patch"]) == {"patch"}
    step = specs["update_plan"]["steps"]["items"]
    assert step["required"] == ["step", "status"]


# --- through the loop -----------------------------------------------------------------------

GIT_DIFF = """diff --git a/wordstats/core.py b/wordstats/core.py
--- a/wordstats/core.py
+++ b/wordstats/core.py
@@ -5,7 +5,7 @@ from __future__ import annotations
 import re

-WORD = re.compile(r"[a-z0-9']+")
+WORD = re.compile(r"[a-z0-9'-]+")


 def words(text: str) -> list[str]:
"""


def test_a_codex_style_trajectory_runs_through_the_loop(wordstats_repo: Path) -> None:
    """Codex's argument names and patch shapes, each as the model sends them, through the
    loop: every call succeeds and the edit is attributed to apply_patch."""
    log = EventLog()
    core = str(wordstats_repo / "wordstats" / "core.py")
    calls: list[tuple[str, dict[str, Any]]] = [
        (
            "update_plan",
            {
                "plan": [{"step": "fix hyphenated words", "status": "in_progress"}],
                "explanation": "start",
            },
        ),
        ("shell", {"command": ["bash", "-lc", "ls"], "workdir": "wordstats", "timeout_ms": 10_000}),
        ("read_file", {"path": core}),
        ("apply_patch", {"input": GIT_DIFF}),
        ("shell", {"command": ["grep", "-c", "0-9'-", "core.py"], "workdir": "wordstats"}),
    ]
    agent = Agent(
        model=ScriptedModel([*(reply("", c) for c in calls), reply("done")]),
        toolbox=default_toolbox(),
        context=ToolContext(workspace=wordstats_repo, emit=log),
        emit=log,
        snapshots=Snapshotter(wordstats_repo),
        retry=RetryPolicy(sleep=lambda s: None),
    )
    result = agent.run("system", "words with hyphens are split")
    assert result.outcome == "completed", result.error
    finished = log.of("tool_result")
    assert [(e["name"], e["is_error"]) for e in finished] == [(n, False) for n, _ in calls]
    assert "core.py" in finished[1]["output"]
    assert finished[4]["output"].startswith("1")
    assert r"[a-z0-9'-]+" in (wordstats_repo / "wordstats" / "core.py").read_text()
    changed = log.of("file_changed")
    assert [(e["path"], e["by"]) for e in changed] == [("wordstats/core.py", "apply_patch")]


@pytest.mark.parametrize(
    "command",
    [
        ["apply_patch", "*** Begin Patch\n*** Add File: n.txt\n+hi\n*** End Patch"],
        [
            "bash",
            "-lc",
            "apply_patch <<'EOF'\n*** Begin Patch\n*** Add File: n.txt\n+hi\n*** End Patch\nEOF",
        ],
    ],
)
def test_a_patch_sent_through_shell_is_applied(context: ToolContext, command: list[str]) -> None:
    """Codex's models run apply_patch as a command (Codex intercepts it); no such program
    exists in the sandbox, so the shell tool applies it as the apply_patch tool would."""
    (context.workspace / "sub").mkdir()
    result = call(context, "shell", {"command": command, "workdir": "sub"})
    assert not result.is_error, result.output
    assert (context.workspace / "sub/n.txt").read_text() == "hi\n"
    assert result.data["files"][0]["path"] == "sub/n.txt"
    assert call(context, "shell", {"command": command}).output.startswith("patch applied")
    assert (context.workspace / "n.txt").read_text() == "hi\n"


# --- Claude Code's argument names -----------------------------------------------------------


def test_read_file_takes_claude_codes_file_path_offset_and_limit(context: ToolContext) -> None:
    write_file(context.workspace / "m.py", "".join(f"line {n}\n" for n in range(1, 21)))
    window = call(context, "read_file", {"file_path": "m.py", "offset": 5, "limit": 3})
    assert not window.is_error, window.output
    assert [line.split("\t")[1] for line in window.output.splitlines()[:3]] == [
        "line 5",
        "line 6",
        "line 7",
    ]
    assert "line 8" not in window.output
    head = call(context, "read_file", {"file_path": str(context.workspace / "m.py"), "limit": 2})
    assert "line 2" in head.output and "line 3" not in head.output
    bad = call(context, "read_file", {"file_path": "m.py", "limit": 0})
    assert bad.is_error and "limit must be a number of lines" in bad.output


def test_shell_takes_claude_codes_timeout_in_milliseconds_and_description(
    context: ToolContext,
) -> None:
    result = call(
        context, "shell", {"command": "sleep 20", "timeout": 1000, "description": "Wait a bit"}
    )
    assert result.is_error and result.data["timed_out"]
    assert "timed out after 1s" in result.output
