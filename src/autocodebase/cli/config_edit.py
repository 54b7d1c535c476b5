"""Changes to your own config file made by acb's commands, keeping its comments and layout,
and checked: the result must load, or the file is left as it was."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def edit_user_config(change: Callable[[Any], None]) -> Path:
    """Apply `change` to the parsed user config (a tomlkit document) and write it back
    atomically if the settings still load; the file's path."""
    import tomlkit

    from autocodebase.config import load_settings, user_config_path
    from autocodebase.errors import ConfigError, UsageError

    path = user_config_path()
    before = path.read_text() if path.exists() else ""
    try:
        document = tomlkit.parse(before)
    except tomlkit.exceptions.TOMLKitError as exc:
        raise UsageError(f"{path} is not valid TOML ({exc}); fix it first") from None
    change(document)
    after = tomlkit.dumps(document)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".config.", suffix=".toml")
    with os.fdopen(handle, "w") as stream:
        stream.write(after)
    try:
        Path(temporary).replace(path)
        load_settings(Path.cwd())
    except ConfigError as exc:
        path.write_text(before)
        raise UsageError(f"not changed: {exc}") from None
    finally:
        Path(temporary).unlink(missing_ok=True)
    return path
