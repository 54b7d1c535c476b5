"""The environment commands see: the user's, minus anything that looks like a secret."""

from __future__ import annotations

import os
from collections.abc import Sequence

from autocodebase.redact import is_secret_name


def command_environment(allowed: Sequence[str] = ()) -> dict[str, str]:
    """Our environment without secret-looking variables, except those `allowed` by exact name."""
    return {k: v for k, v in os.environ.items() if k in allowed or not is_secret_name(k)}
