"""What the system prompt tells the model about where its commands run: each sentence is only
there when it is true of the run (a refusal repeats only when nobody can lift it)."""

from __future__ import annotations

from pathlib import Path

from autocodebase.agent.prompts import sandbox_instructions, system_prompt
from autocodebase.sandbox.policy import SandboxPolicy


def test_sandboxed_runs_are_told_a_refusal_repeats_unless_they_may_ask() -> None:
    never = sandbox_instructions(SandboxPolicy(), "never")
    assert never.startswith("workspace-write (bubblewrap): workspace and /tmp writable")
    assert "no network (nothing can be installed)" in never
    assert never.endswith("A refused command is refused again.")
    asking = sandbox_instructions(SandboxPolicy(), "on-request")
    assert "with_escalated_permissions=true" in asking and "refused again" not in asking
    online = sandbox_instructions(SandboxPolicy(network=True), "untrusted")
    assert "network on" in online and "nothing can be installed" not in online
    assert "need the user's approval. A refused command is refused again." in online
    free = sandbox_instructions(SandboxPolicy(mode="full-access"), "never")
    assert "full permissions" in free and "refused" not in free


def test_the_prompt_carries_the_sandbox_line_the_workspace_and_the_mode(tmp_path: Path) -> None:
    line = sandbox_instructions(SandboxPolicy(mode="read-only"), "never")
    prompt = system_prompt(tmp_path, line, [], is_git=True, headless=True)
    assert f"Workspace (paths relative to it): {tmp_path}; " in prompt
    assert "; git repository. Sandbox: read-only (bubblewrap): only /tmp is writable" in prompt
    assert "Headless: nobody can answer." in prompt
    conversation = system_prompt(tmp_path, line, [], is_git=False, headless=False)
    assert "not a git repository" in conversation and "Headless" not in conversation
    assert "ask one short question" in conversation
