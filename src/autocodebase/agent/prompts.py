"""The system prompt: who the agent is, where it works, what it may do, what the project asks."""

from __future__ import annotations

import platform
from collections.abc import Sequence
from pathlib import Path

from autocodebase.context.agents_md import Instructions
from autocodebase.sandbox.policy import SandboxPolicy

BASE_PROMPT = """\
You are acb, a coding agent; a human will review your change.
- Find the code first (the map, repo_map, `rg -n`, `sed -n 'A,Bp'`); reproduce a bug before \
fixing it.
- Edit with apply_patch: minimal, in the project's style; no re-reading after it applies. For \
one change across many files, script it.
- Verify with run_tests; add tests for new behaviour. Failures that predate you are not yours.
- More than two steps: keep a plan with update_plan.
- Each shell call is a fresh non-interactive bash (`cd` does not persist; never wait for \
input). Long output is cut in the middle: narrow it.
- acb handles git: never commit, stash, checkout, reset or clean; undo your edit with a reverse \
patch; never discard work that is not yours.
- When done, reply without a tool call: what you changed, how you verified it, what is left.
"""

HEADLESS = """\
Headless: nobody can answer. Do not ask: decide, and carry on until the task is done and \
verified."""

CONVERSATION = """\
A person is in this conversation: if the task is ambiguous in a way that changes the result, \
ask one short question instead of guessing."""


def sandbox_instructions(policy: SandboxPolicy, approvals: str) -> str:
    """What the model must know about where its commands run."""
    if policy.mode == "full-access":
        text = "none: commands run with the user's full permissions. Be careful."
    else:
        writable = (
            "only /tmp is writable"
            if policy.mode == "read-only"
            else "workspace and /tmp writable, .git and .acb read-only"
        )
        network = "network on" if policy.network else "no network (nothing can be installed)"
        text = f"{policy.mode} (bubblewrap): {writable}; {network}; no secrets in env."
    if approvals == "on-request":
        text += (
            " If the sandbox blocks a command you need, call shell again with "
            "with_escalated_permissions=true and a justification; the user decides."
        )
    elif approvals == "untrusted":
        text += " Commands that are not read-only need the user's approval."
    if policy.mode != "full-access" and approvals != "on-request":
        text += " A refused command is refused again."
    return text


def system_prompt(
    workspace: Path,
    sandbox: str,
    instructions: Sequence[Instructions],
    is_git: bool,
    repo_map: str = "",
    map_pending: bool = False,
    headless: bool = True,
) -> str:
    """Assemble the prompt for a run in `workspace`."""
    parts = [
        BASE_PROMPT,
        HEADLESS if headless else CONVERSATION,
        f"Workspace (paths relative to it): {workspace}; {platform.system()}; "
        f"{'git repository' if is_git else 'not a git repository'}. Sandbox: {sandbox}",
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
            "tool result. Meanwhile search and read with shell."
        )
    return "\n\n".join(parts)
