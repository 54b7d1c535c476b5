"""The provider-neutral conversation types and the `Model` protocol the loop talks to.

Providers translate to and from their wire formats at the edge; nothing above `models/` ever sees
an SDK type, which is what lets cassettes, scripted models and real servers be swapped freely.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Role = Literal["system", "user", "assistant", "tool"]
TextSink = Callable[[str], None]


@dataclass(frozen=True)
class ToolCall:
    """A tool invocation proposed by the model.

    `arguments` is None when the model sent JSON that does not parse: the loop turns that into an
    error observation instead of crashing, and `raw_arguments` keeps what was actually sent.
    """

    id: str
    name: str
    arguments: dict[str, Any] | None
    raw_arguments: str
    passed_back: dict[str, Any] | None = field(default=None, compare=False)
    """Fields the provider added to the call and wants to see again in the next request
    (Gemini's `extra_content` with its thought signature: without it, the follow-up is refused)."""


def parse_tool_arguments(raw: str) -> dict[str, Any] | None:
    """Arguments as a dict, or None when the model sent something that is not a JSON object."""
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


@dataclass(frozen=True)
class Message:
    """One turn of the conversation. Tool results are `tool` messages tied to a call id."""

    role: Role
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None
    is_error: bool = False


@dataclass(frozen=True)
class Usage:
    """Token counts as the provider reported them (zero when it did not)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cached_input_tokens + other.cached_input_tokens,
        )


@dataclass(frozen=True)
class ToolSpec:
    """What the model is told about a tool: its name, purpose and JSON schema of arguments."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class Response:
    """A complete assistant turn plus the accounting that came with it."""

    message: Message
    usage: Usage = field(default_factory=Usage)
    stop_reason: str = "stop"
    model: str = ""


class Model(Protocol):
    """Anything that answers a conversation: a hosted API, a local server, a script, a cassette."""

    @property
    def name(self) -> str:
        """`provider/model` as the user selected it, used for pricing and provenance."""
        ...

    def complete(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec],
        on_text: TextSink | None = None,
    ) -> Response:
        """Return the next assistant turn; stream text deltas to `on_text` when given."""
        ...


class ModelError(Exception):
    """A provider fault that ends the run after retries (or at once, when not retryable)."""

    def __init__(self, message: str, *, retryable: bool = False, retry_after: float | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


class ReplayDivergedError(ModelError):
    """The live run asked for something the cassette did not record."""
