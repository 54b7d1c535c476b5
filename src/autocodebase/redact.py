"""Secret detection and redaction: what commands may not see, and what no record may show.

`is_secret(name, value)` is the one test for "this environment variable is a secret": the sandbox
leaves such variables out of a command's environment (unless the user allowed one by exact name)
and the `Redactor` replaces their values in every event before any consumer (ledger, JSONL,
terminal) sees it. One predicate for both, so what a command may print and what a record may hide
cannot drift apart.

A variable is a secret by its name (`*_KEY`, `*_TOKEN`, `*_PASS`, `*_PWD`, `*_DSN`, `*_SK`,
`*WEBHOOK*`, ...) or by its value, whatever its name: a URL carrying credentials
(`postgres://user:pass@host`, `https://<token>@sentry.io/1`), a well-known token format
(`TOKEN_PATTERNS`), a connection string with `password=`, or a long random-looking string (see
`looks_random`). Free text is redacted by the values collected from the environment (exact
strings, so a secret printed by `env` is caught whatever its shape) and by the patterns (so a key
pasted into a file, or a password in a URL that a tool prints, is caught even if it is in no
variable).
"""

from __future__ import annotations

import math
import os
import re
from collections import Counter
from collections.abc import Mapping
from functools import lru_cache
from itertools import pairwise
from typing import Any, Final

SECRET_NAME = re.compile(
    r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH(?!OR(?!I[SZ]))|COOKIE|WEBHOOK|CONNECTION_?STRING",
    re.I,
)
"""Words that make a variable's name secret wherever they appear (`AUTH` but not `AUTHOR`: git's
`GIT_AUTHOR_NAME` is an identity, not a credential)."""
SECRET_NAME_PARTS = frozenset({"PASS", "PWD", "SK", "DSN"})
"""Abbreviations that are secret only as a whole `_`-separated part (`DB_PASS`, `MYSQL_PWD`,
`STRIPE_SK`, `SENTRY_DSN`), since as substrings they are everywhere (`COMPASS`, `TASK`)."""
HARMLESS_NAMES = frozenset(
    {
        "PATH",
        "HOME",
        "PWD",
        "OLDPWD",
        "SHELL",
        "USER",
        "LOGNAME",
        "TERM",
        "COLORTERM",
        "LANG",
        "LANGUAGE",
        "LS_COLORS",
        "LSCOLORS",
        "VIRTUAL_ENV",
        "CONDA_PREFIX",
        "HOSTNAME",
        "TMPDIR",
        "TZ",
        "DISPLAY",
        "EDITOR",
        "VISUAL",
        "PAGER",
        "MANPATH",
        "INFOPATH",
        "PYTHONPATH",
        "LD_LIBRARY_PATH",
        "SHLVL",
        "_",
    }
)
"""Variables whose values are never judged by their shape (a long `LS_COLORS` or `PATH` is not a
key); with `HARMLESS_PREFIXES`. Their names match no secret word either."""
HARMLESS_PREFIXES = ("LC_", "XDG_")
FORGE_TOKEN_NAMES = frozenset(
    {
        "GH_TOKEN",
        "GITHUB_TOKEN",
        "GH_ENTERPRISE_TOKEN",
        "GITHUB_ENTERPRISE_TOKEN",
        "GITLAB_TOKEN",
        "CI_JOB_TOKEN",
    }
)
"""Tokens that push and open pull requests as the user (`acb resolve`, `acb review --post`):
secret by name like every `*_TOKEN`, and, unlike others, never passed to a sandboxed command
even when the user allowed the name (`sandbox/environment.py`)."""
MIN_SECRET_LENGTH = 8
"""Shorter values are not replaced in free text: `abc` would be replaced inside every word."""

TOKEN_FORMATS: Final = (
    ("", r"sk-ant-[A-Za-z0-9_\-]{16,}"),  # Anthropic
    ("", r"sk-(?:proj-|svcacct-)?[A-Za-z0-9_\-]{20,}"),  # OpenAI
    ("", r"gh[pousr]_[A-Za-z0-9]{30,}"),  # GitHub
    ("", r"github_pat_[A-Za-z0-9_]{30,}"),
    ("", r"xox[abposr]-[A-Za-z0-9\-]{10,}"),  # Slack
    ("", r"hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_\-/]{8,}"),
    ("", r"discord(?:app)?\.com/api/webhooks/[0-9]+/[A-Za-z0-9_\-]{20,}"),
    ("", r"(?:AKIA|ASIA)[0-9A-Z]{16}"),  # AWS access key ids (long-lived, temporary)
    ("", r"AIza[0-9A-Za-z_\-]{35}"),  # Google API key
    ("", r"ya29\.[0-9A-Za-z_\-]{20,}"),  # Google OAuth access token
    ("", r"GOCSPX-[0-9A-Za-z_\-]{20,}"),  # Google OAuth client secret
    ("", r"gl(?:pat|dt|rt|ptt|cbt|oas|ft|imt|soat)-[A-Za-z0-9_\-]{20,}"),  # GitLab
    ("", r"sk_(?:live|test)_[A-Za-z0-9]{16,}"),  # Stripe secret key
    ("", r"rk_(?:live|test)_[A-Za-z0-9]{16,}"),  # Stripe restricted key
    ("", r"whsec_[A-Za-z0-9]{24,}"),  # Stripe webhook signing secret
    ("", r"npm_[A-Za-z0-9]{36}"),  # npm
    ("", r"pypi-AgE[A-Za-z0-9_\-]{20,}"),  # PyPI (a macaroon: always starts so)
    ("", r"hf_[A-Za-z0-9]{30,}"),  # Hugging Face
    ("", r"SG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,}"),  # SendGrid
    ("", r"SK[0-9a-fA-F]{32}\b"),  # Twilio API key
    (":AA", r"[0-9]{6,12}:AA[A-Za-z0-9_\-]{30,}"),  # Telegram bot
    ("", r"[MNO][A-Za-z0-9_\-]{23,27}\.[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{27,40}"),  # Discord bot
    ("", r"eyJ[A-Za-z0-9_\-]{10,}\.eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]*"),  # JWT
    ("Key=", r"(?:AccountKey|SharedAccessKey)=[A-Za-z0-9+/]{20,}={0,2}"),  # Azure storage, bus
    ("sig=", r"[?&]sig=[A-Za-z0-9%+/=]{20,}"),  # Azure SAS signature
    ("", r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----"),
)
"""`(literal every match contains, pattern)` of formats that are secret wherever they appear.

Redaction runs on every event, so each must stay cheap on a 100 KB tool output: a pattern that
starts with a literal is found by the regex engine's fast substring search (hence no leading
`\b`, which would disable it: 5 ms instead of 0.1 per pattern and 100 KB); one that cannot is
guarded by a literal tested with `in` first. None has nested repetition, so none can backtrack
catastrophically."""
TOKEN_PATTERNS: Final = tuple((guard, re.compile(pattern)) for guard, pattern in TOKEN_FORMATS)
URL_CREDENTIALS = re.compile(r"://([^\s/?#@:\"'<>]{0,256})(?::([^\s/?#@\"'<>]{1,256}))?@")
"""`scheme://user:password@` or `scheme://user@` (found from `://`, a fast literal): the password,
or a token-like user as in a Sentry DSN or `https://<token>@github.com`, is the secret;
`ssh://git@host` is not."""
TOKEN_USER = re.compile(r"(?=.*[0-9])[A-Za-z0-9_\-]{16,}")
PASSWORD_ASSIGNMENT = re.compile(r"(?i)\b(password|passwd|pwd)=(?![/~$%{\[])[^\s;&'\"]+")
"""`password=...` in a connection string or query (`Password=x;`, `?password=x&`); a value that
starts like a path or a placeholder (`PWD=/home/me`, `password=${DB}`) is left alone. Case-blind,
hence slow (5 ms per 100 KB): it runs only when the lower-cased text contains `password=`, ...."""
BEARER = re.compile(r"(?i)\b(bearer|authorization:)\s+[A-Za-z0-9._~+/=\-]{12,}")

RANDOM_MIN_LENGTH = 20
"""`looks_random`: shorter values are too common as ordinary words and ids to judge."""
RANDOM_MIN_BITS = 3.5
"""Shannon entropy per character a random-looking value must reach. A random base64 or
alphanumeric string of 20 characters measures about 4.0 (1st percentile 3.7); words joined in
CamelCase measure 3.8 to 4.2, which is why `RANDOM_MIN_SWITCHES` is needed as well."""
RANDOM_MIN_SWITCHES = 0.4
"""Share of neighbouring letters and digits that change class (upper, lower, digit). Random
alphanumerics change class 62% of the time (1st percentile 0.37 at 20 characters, 0.44 at 40);
words and CamelCase names change far less (`ProductionDatabaseReplica01` 0.23,
`MyProjectName2024Staging` 0.35)."""
RANDOM_CHARS = re.compile(r"[A-Za-z0-9+/_\-]+={0,2}")
HEX_ID = re.compile(r"[0-9a-fA-F\-]+")


def is_secret_name(name: str) -> bool:
    """Whether a variable called `name` holds a secret, whatever its value."""
    if name in HARMLESS_NAMES:
        return False
    return bool(SECRET_NAME.search(name)) or not SECRET_NAME_PARTS.isdisjoint(
        name.upper().split("_")
    )


def _class_of(char: str) -> int:
    return 0 if char.isupper() else 1 if char.islower() else 2


def looks_random(value: str) -> bool:
    """A long single token of base64/url-safe characters that looks generated, not written.

    Hex-only values (commit shas, digests, UUIDs, container ids) never count: they are ids far
    more often than keys, and hex keys usually live in variables whose names say so. Neither do
    paths (`/...`) nor values without upper case, lower case and digits all present."""
    if len(value) < RANDOM_MIN_LENGTH or value[0] == "/" or not RANDOM_CHARS.fullmatch(value):
        return False
    if HEX_ID.fullmatch(value):
        return False
    classes = [_class_of(c) for c in value if c.isalnum()]
    if set(classes) != {0, 1, 2}:
        return False
    switches = sum(a != b for a, b in pairwise(classes))
    if switches / (len(classes) - 1) < RANDOM_MIN_SWITCHES:
        return False
    counts = Counter(value).values()
    bits = -sum(n / len(value) * math.log2(n / len(value)) for n in counts)
    return bits >= RANDOM_MIN_BITS


def _url_secret(match: re.Match[str]) -> str | None:
    """The secret part of a URL's userinfo, if it has one."""
    user, password = match.group(1), match.group(2)
    if password:
        return password
    return user if TOKEN_USER.fullmatch(user) else None


def looks_secret(value: str) -> bool:
    """Whether `value` is a secret by its shape alone (any variable name)."""
    if "@" in value and any(_url_secret(m) for m in URL_CREDENTIALS.finditer(value)):
        return True
    if any(guard in value and p.search(value) for guard, p in TOKEN_PATTERNS):
        return True
    if PASSWORD_ASSIGNMENT.search(value):
        return True
    return looks_random(value)


@lru_cache(maxsize=4096)
def is_secret(name: str, value: str) -> bool:
    """Whether the environment variable `name=value` is a secret: by its name, or by its value
    unless the name is known to be harmless. Cached: every command asks for every variable."""
    if is_secret_name(name):
        return True
    if name in HARMLESS_NAMES or name.startswith(HARMLESS_PREFIXES):
        return False
    return looks_secret(value)


def _redact_url(match: re.Match[str]) -> str:
    user, password = match.group(1), match.group(2)
    if password:
        return f"://{user}:[REDACTED]@"
    if TOKEN_USER.fullmatch(user):
        return "://[REDACTED]@"
    return match.group(0)


class Redactor:
    """Replaces known secret values and token-shaped strings with `[REDACTED:...]` markers."""

    def __init__(self, secrets: Mapping[str, str] | None = None):
        pairs: dict[str, str] = {}
        for name, value in (secrets or {}).items():
            pairs[value] = name
            # As it is used (stripped: a key pasted with a newline) and as a repr shows it.
            pairs.setdefault(value.strip(), name)
            pairs.setdefault(repr(value)[1:-1], name)
            # A URL's password is a secret on its own too (a tool may print just that part).
            for match in URL_CREDENTIALS.finditer(value):
                part = _url_secret(match)
                if part:
                    pairs.setdefault(part, name)
        kept = {v: k for v, k in pairs.items() if len(v) >= MIN_SECRET_LENGTH}
        # Longest first, so a secret that contains another is replaced whole.
        self._values = sorted(kept.items(), key=lambda item: -len(item[0]))

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Redactor:
        env = os.environ if environ is None else environ
        return cls({name: value for name, value in env.items() if is_secret(name, value)})

    def text(self, value: str) -> str:
        for secret, name in self._values:
            if secret in value:
                value = value.replace(secret, f"[REDACTED:{name}]")
        for guard, pattern in TOKEN_PATTERNS:
            if guard in value:
                value = pattern.sub("[REDACTED]", value)
        if "@" in value:
            value = URL_CREDENTIALS.sub(_redact_url, value)
        lowered = value.lower()
        if "password=" in lowered or "passwd=" in lowered or "pwd=" in lowered:
            value = PASSWORD_ASSIGNMENT.sub(lambda m: f"{m.group(1)}=[REDACTED]", value)
        if "bearer" in lowered or "authorization:" in lowered:
            value = BEARER.sub(lambda m: f"{m.group(1)} [REDACTED]", value)
        return value

    def value(self, value: Any) -> Any:
        """Redact strings anywhere inside JSON-like data."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            # Keys too: a secret can be a key (a settings table keyed by a token, an id).
            return {
                self.text(key) if isinstance(key, str) else key: self.value(item)
                for key, item in value.items()
            }
        if isinstance(value, list | tuple):
            return [self.value(item) for item in value]
        return value
