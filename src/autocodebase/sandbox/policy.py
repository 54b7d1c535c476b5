"""What a command may do: the sandbox mode, the network, extra writable roots, limits.

Three modes, as in Codex CLI: `read-only` (nothing writable but a private /tmp),
`workspace-write` (the workspace and /tmp; `.git` and `.acb` stay read-only so commands cannot
plant hooks, rewrite history or approve themselves), `full-access` (no sandbox, opt-in only).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# Spelled once, in `config` (the lowest layer that needs them); re-exported for the sandbox's users.
from autocodebase.config import Fallback as Fallback
from autocodebase.config import SandboxMode as SandboxMode

PROTECTED_IN_WORKSPACE = (".git", ".acb")
"""Kept read-only inside a writable workspace: hooks, config and history; acb's own settings."""


@dataclass(frozen=True)
class Limits:
    timeout_s: int = 120
    output_bytes: int = 10_000
    """Bytes kept for the model (head and tail)."""
    kill_after_output_bytes: int = 64 * 1024 * 1024
    """A command that prints more than this is killed: runaway output is a failure, not data."""
    max_processes: int = 512
    memory_mb: int = 8192
    """Memory of the whole command, all its processes and its /tmp together (a memory cgroup);
    where no memory cgroup can be made, an address-space limit per process instead. 0 turns
    it off."""
    tmp_mb: int = 2048
    """Size of the command's private /tmp and /dev/shm (each)."""


@dataclass(frozen=True)
class SandboxPolicy:
    mode: SandboxMode = "workspace-write"
    network: bool = False
    writable_roots: tuple[Path, ...] = ()
    env_allow: tuple[str, ...] = ()
    """Secret-looking variables passed in anyway, by exact name."""
    fallback: Fallback = "refuse"
    limits: Limits = field(default_factory=Limits)
    emptied: tuple[Path, ...] = ()
    """System folders shown empty (a read-only tmpfs over them): what a command must not read
    because it would mislead it, not because it is secret (those are hidden everywhere)."""

    def describe(self) -> str:
        network = "network on" if self.network else "network off"
        if self.mode == "full-access":
            return "full-access (no sandbox)"
        return f"{self.mode} (bubblewrap), {network}"
