"""The environment commands see: the user's, minus every variable that holds a secret."""

from __future__ import annotations

import os
from collections.abc import Sequence

from autocodebase.redact import FORGE_TOKEN_NAMES, is_secret


def command_environment(allowed: Sequence[str] = ()) -> dict[str, str]:
    """Our environment without secrets (by name or by value, `redact.is_secret`, the same test
    the redactor uses), except those the user `allowed` by exact name (`sandbox.env_allow`).

    The forge tokens (`FORGE_TOKEN_NAMES`) stay out even when allowed: they push branches and
    open pull requests in the user's name, and a model's command has no use for that power."""
    return {
        k: v
        for k, v in os.environ.items()
        if k not in FORGE_TOKEN_NAMES and (k in allowed or not is_secret(k, v))
    }
