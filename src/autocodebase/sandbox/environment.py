"""The environment commands see: the user's, minus every variable that holds a secret."""

from __future__ import annotations

import os
from collections.abc import Sequence

from autocodebase.redact import is_secret


def command_environment(allowed: Sequence[str] = ()) -> dict[str, str]:
    """Our environment without secrets (by name or by value, `redact.is_secret`, the same test
    the redactor uses), except those the user `allowed` by exact name (`sandbox.env_allow`)."""
    return {k: v for k, v in os.environ.items() if k in allowed or not is_secret(k, v)}
