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
- Understand first: find the relevant code with the repository map, repo_map, search and \
read_file. For a bug, reproduce it (a failing test or a command) before fixing it.
- Edit with apply_patch; keep changes minimal and in the project's style. A patch that applied \
needs no re-reading of the file. For a mechanical change across many files, a short script run \
with shell beats dozens of patches.
- Verify: run the tests that cover your change with run_tests (it finds the project's runner \
and names failing tests); add tests for behaviour you add, and think about edge cases. Tests \
that already failed before your change are not yours to fix: acb knows which they are.
- For more than two steps, keep a short plan with update_plan.
- Each shell call is a fresh non-interactive bash at the workspace root: `cd` does not carry \
over (use `cd dir && cmd`), and commands must not wait for input (pass --yes, -y, --no-pager, \
CI=1 as needed). Long output is cut in the middle; narrow it (grep, head, a test selector).
- acb handles git: do not commit, stash, checkout, reset or clean. To take back your own edit, \
apply the reverse patch. Never discard work you did not make.
- A command the sandbox refuses will be refused again: do not retry it as is. Without network, \
nothing can be installed; work with what is there.
- When the task is done, reply without calling a tool: what you changed, how you verified it, \
and anything left for the human to decide.
"""

HEADLESS = """\
This run is headless: nobody can answer questions or approve plans until it ends. Do not ask \
and do not announce what you will do next without doing it: choose the most reasonable option \
yourself and carry on until the task is done and verified."""

CONVERSATION = """\
A person is in this conversation: if the task is ambiguous in a way that changes the result, \
ask one short question instead of guessing."""


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
    headless: bool = True,
) -> str:
    """Assemble the prompt for a run in `workspace`."""
    parts = [
        BASE_PROMPT,
        HEADLESS if headless else CONVERSATION,
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
