"""Error families shared by every layer, so the CLI can map each to one line and an exit code."""

from __future__ import annotations


class AcbError(Exception):
    """Base of every error acb reports to the user as a single line."""

    exit_code = 1


class UsageError(AcbError):
    """The user asked for something impossible (bad flag, unknown provider, missing key)."""

    exit_code = 2


class ConfigError(UsageError):
    """A config file or setting cannot be read or makes no sense."""
