"""The system prompt: who the agent is, where it works, what it may do, what the project asks."""

from __future__ import annotations

import platform
from collections.abc import Sequence
from pathlib import Path

from autocodebase.context.agents_md import Instructions
from autocodebase.sandbox.policy import SandboxPolicy

BASE_PROMPT = """\
You are acb, an autonomous coding agent working in a real software repository on behalf of a \
human who will review and own your change.

How to work:
- Explore before editing: use the repository map, repo_map, search and read_file to find the \
relevant code; use shell for anything else (listing files, running programs).
- Edit files only with apply_patch. Keep changes minimal and in the project's existing style.
- For a task of more than two steps, keep a short plan with update_plan and update it as you go.
- After changing code, run the project's tests (or the relevant subset) with shell and fix what \
you broke. Add or update tests for behaviour you add.
- Never discard or overwrite work you did not make; do not run destructive git commands \
(reset --hard, checkout -- ., clean -f, push --force).
- When the task is done, reply without calling a tool: say briefly what you changed, how you \
verified it, and anything left for the human to decide.
"""


def sandbox_instructions(policy: SandboxPolicy, approvals: str) -> str:
    """What the model must know about where its commands run."""
    if policy.mode == "full-access":
        text = "none: commands run with the user's full permissions. Be careful."
    else:
        writable = (
            "only a private /tmp is writable"
            if policy.mode == "read-only"
            else "the workspace and a private /tmp are writable; .git and .acb are read-only "
            "(acb itself commits)"
        )
        network = "the network is available" if policy.network else "there is no network"
        text = f"{policy.mode} (bubblewrap): {writable}; {network}; no secrets in the environment."
    if approvals == "on-request":
        text += (
            " If the sandbox blocks a command you need, call shell again with "
            "with_escalated_permissions=true and a justification; the user decides."
        )
    elif approvals == "untrusted":
        text += " Commands that are not read-only need the user's approval."
    return text


def system_prompt(
    workspace: Path,
    sandbox: str,
    instructions: Sequence[Instructions],
    is_git: bool,
    repo_map: str = "",
    map_pending: bool = False,
) -> str:
    """Assemble the prompt for a run in `workspace`."""
    parts = [
        BASE_PROMPT,
        "Environment:\n"
        f"- Workspace root: {workspace} (all paths are relative to it; "
        "tools refuse paths outside it)\n"
        f"- OS: {platform.system()} {platform.release()}; shell: bash\n"
        f"- Git repository: {'yes' if is_git else 'no'}\n"
        f"- Command sandbox: {sandbox}",
    ]
    for item in instructions:
        note = " (truncated)" if item.truncated else ""
        parts.append(f"Project instructions from {item.path}{note}:\n{item.text.strip()}")
    if repo_map:
        parts.append(
            "Repository map (signatures of the definitions most relevant to the task, with line "
            "numbers; call repo_map with a focus for more):\n" + repo_map.rstrip()
        )
    elif map_pending:
        parts.append(
            "Repository map: still being built (a large repository); it will follow with a "
            "tool result. Meanwhile use search and read_file."
        )
    return "\n\n".join(parts)
