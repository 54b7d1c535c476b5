"""Model layer: the neutral conversation types and the providers that speak each wire format."""

from autocodebase.models.base import (
    Message,
    Model,
    ModelError,
    ReplayDivergedError,
    Response,
    ToolCall,
    ToolSpec,
    Usage,
)

__all__ = [
    "Message",
    "Model",
    "ModelError",
    "ReplayDivergedError",
    "Response",
    "ToolCall",
    "ToolSpec",
    "Usage",
]
