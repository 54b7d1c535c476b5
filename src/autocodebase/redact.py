"""Secret redaction applied to every event before any consumer (ledger, JSONL, terminal) sees it.

Two nets: the values of secret-looking environment variables (exact strings, so a key printed by
`env` in a tool output is caught whatever its shape), and patterns of well-known token formats
(so a key pasted into a file or returned by a server is caught even if it is in no variable).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH|COOKIE)", re.I)
MIN_SECRET_LENGTH = 8
TOKEN_PATTERNS = [
    re.compile(p)
    for p in (
        r"sk-ant-[A-Za-z0-9_\-]{16,}",
        r"sk-(?:proj-|svcacct-)?[A-Za-z0-9_\-]{20,}",
        r"gh[pousr]_[A-Za-z0-9]{30,}",
        r"github_pat_[A-Za-z0-9_]{30,}",
        r"xox[abposr]-[A-Za-z0-9\-]{10,}",
        r"AKIA[0-9A-Z]{16}",
        r"AIza[0-9A-Za-z_\-]{35}",
        r"glpat-[A-Za-z0-9_\-]{20,}",
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----",
    )
]
BEARER = re.compile(r"(?i)\b(bearer|authorization:)\s+[A-Za-z0-9._~+/=\-]{12,}")


def is_secret_name(name: str) -> bool:
    return bool(SECRET_NAME.search(name))


class Redactor:
    """Replaces known secret values and token-shaped strings with `[REDACTED:...]` markers."""

    def __init__(self, secrets: Mapping[str, str] | None = None):
        pairs = {v: k for k, v in (secrets or {}).items() if len(v) >= MIN_SECRET_LENGTH}
        # Longest first, so a secret that contains another is replaced whole.
        self._values = sorted(pairs.items(), key=lambda item: -len(item[0]))

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Redactor:
        env = os.environ if environ is None else environ
        return cls({name: value for name, value in env.items() if is_secret_name(name)})

    def text(self, value: str) -> str:
        for secret, name in self._values:
            if secret in value:
                value = value.replace(secret, f"[REDACTED:{name}]")
        for pattern in TOKEN_PATTERNS:
            value = pattern.sub("[REDACTED]", value)
        return BEARER.sub(lambda m: f"{m.group(1)} [REDACTED]", value)

    def value(self, value: Any) -> Any:
        """Redact strings anywhere inside JSON-like data."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {key: self.value(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(item) for item in value]
        return value
