"""Layered settings: defaults < user config < project config < environment < command-line flags.

Each layer is a plain mapping; `UNSET` marks "this layer says nothing" so that an explicit
`false` or `0` in a later layer still wins. The resolved settings of a run go into the ledger.

A repository's own `.acb/config.toml` is written by whoever wrote the repository, so it is read
through an allow-list (`PROJECT_MAY_SET`): it may describe the project (how to run its tests, how
much repo map it needs) and tighten your limits, but it can never loosen the sandbox, approvals,
gates, budget, model routing, providers or records. Anything else it says is ignored with a
warning in `Settings.warnings` (never an error: a cloned repository must not make acb unusable).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Final

from autocodebase.errors import ConfigError


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = _Unset()

WIRE_APIS = ("chat", "responses", "anthropic")
ENV_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Price:
    """USD per million tokens (declared here, where `[prices]` is read; models/pricing.py
    holds the built-in table and the arithmetic)."""

    input: float
    output: float
    cached_input: float | None = None


@dataclass(frozen=True)
class ProviderConfig:
    """A named endpoint: `[providers.NAME] base_url, api_key_env, wire_api`."""

    base_url: str | None = None
    api_key_env: str | None = None
    wire_api: str = "chat"


@dataclass(frozen=True)
class Settings:
    """Everything a run needs to know that is not the task itself."""

    model: str = "openai/gpt-5.1"
    max_steps: int = 50
    max_cost: float | None = None
    compact_at_tokens: int = 100_000
    """Estimated tokens (characters / 4) at which a conversation is compacted; 0 turns it off."""
    stream: bool = True
    test_command: str | None = None
    """`[test] command`: how to run the tests, when detection from the project's files is wrong."""
    test_timeout_s: int = 900
    test_budget_s: int = 240
    """Seconds the test gate may spend on one check: the tests chosen for the change first,
    the whole suite only when it is known (or estimated) to fit what is left."""
    test_gate: bool = True
    """Run the tests before the model may finish; new failures go back to it."""
    test_rounds: int = 2
    """How often failing tests go back to the model before the run fails."""
    review_gate: bool = True
    """Review the run's change (static gates) before committing it."""
    review_block_on: str = "high"
    """Findings at least this severe go back to the model, and block the commit if they stay."""
    review_rounds: int = 2
    """How often blocking findings go back to the model before the run fails."""
    review_model: bool = False
    """Also ask the model to review the change (two passes: find, then score and drop the weak
    ones). In runs its findings are shown and recorded; only the static gates block."""
    review_model_tokens: int = 6000
    """Budget of the compressed diff the model review sees."""
    map_tokens: int = 1024
    """Budget of the repo map given to the model at the start of a run; 0 leaves it out."""
    map_wait_s: float = 1.0
    """How long the first request waits for that map; a map not ready by then (a cold index of
    a large repository) follows with a later tool result."""
    shell_timeout_s: int = 120
    output_limit: int = 16_000
    request_timeout_s: float = 600.0
    retry_attempts: int = 6
    retry_base_delay_s: float = 1.0
    retry_max_delay_s: float = 60.0
    commit: bool = True
    use_git: bool = True
    sandbox_mode: str = "workspace-write"
    network: bool = False
    approvals: str | None = None
    """None: the front end decides (headless `exec` never asks, a conversation asks on request)."""
    sandbox_fallback: str = "refuse"
    writable_roots: tuple[str, ...] = ()
    env_allow: tuple[str, ...] = ()
    max_processes: int = 512
    memory_mb: int = 8192
    ledger_path: Path = field(default_factory=lambda: default_state_dir() / "ledger.db")
    providers: Mapping[str, ProviderConfig] = field(default_factory=dict)
    prices: Mapping[str, Price] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    """What the layers said that was not honoured (a project's config asking for what only you
    may set), one line each; front ends show them, the ledger keeps them with the settings."""

    def to_record(self) -> dict[str, Any]:
        """JSON-ready form for the ledger; providers are listed without secrets (there are none)."""
        record = asdict(self)
        record["ledger_path"] = str(self.ledger_path)
        return record


SCALAR_KEYS: Final = {
    "model": str,
    "max_steps": int,
    "max_cost": float,
    "compact_at_tokens": int,
    "stream": bool,
    "map_tokens": int,
    "map_wait_s": float,
    "shell_timeout_s": int,
    "output_limit": int,
    "request_timeout_s": float,
    "retry_attempts": int,
    "retry_base_delay_s": float,
    "retry_max_delay_s": float,
    "commit": bool,
    "use_git": bool,
    "sandbox_mode": str,
    "network": bool,
    "approvals": str,
    "sandbox_fallback": str,
    "max_processes": int,
    "memory_mb": int,
    "test_command": str,
    "test_timeout_s": int,
    "test_budget_s": int,
    "test_gate": bool,
    "test_rounds": int,
    "review_gate": bool,
    "review_block_on": str,
    "review_rounds": int,
    "review_model": bool,
    "review_model_tokens": int,
}
CHOICES: Final = {
    "sandbox_mode": ("read-only", "workspace-write", "full-access"),
    "approvals": ("untrusted", "on-request", "never"),
    "sandbox_fallback": ("refuse", "read-only-guard", "none"),
    "review_block_on": ("high", "medium", "low", "never"),
}
SANDBOX_TABLE: Final = {
    "mode": "sandbox_mode",
    "network": "network",
    "fallback": "sandbox_fallback",
    "writable_roots": "writable_roots",
    "env_allow": "env_allow",
    "max_processes": "max_processes",
    "memory_mb": "memory_mb",
}
TEST_TABLE: Final = {
    "command": "test_command",
    "timeout_s": "test_timeout_s",
    "budget_s": "test_budget_s",
    "gate": "test_gate",
    "rounds": "test_rounds",
}
REVIEW_TABLE: Final = {
    "gate": "review_gate",
    "block_on": "review_block_on",
    "rounds": "review_rounds",
    "model": "review_model",
    "model_tokens": "review_model_tokens",
}
TABLES: Final = {"sandbox": SANDBOX_TABLE, "test": TEST_TABLE, "review": REVIEW_TABLE}
LIST_KEYS: Final = ("writable_roots", "env_allow")
ENV_KEYS: Final = {"ACB_MODEL": "model", "ACB_MAX_STEPS": "max_steps", "ACB_MAX_COST": "max_cost"}
SEVERITY_ORDER: Final = ("low", "medium", "high", "never")
"""`review_block_on`, strictest first: blocking on `low` blocks on everything worse too."""

ProjectRule = Callable[[Any, Any, bool], str | None]
"""Given a project's value, yours (the default, or your config's) and whether your config set it:
why the project's value is refused, or None."""


def _describes_project(_value: Any, _yours: Any, _you_set_it: bool) -> str | None:
    return None


def _up_to(ceiling: int) -> ProjectRule:
    """A size the project knows best, capped so that a repository cannot spend without bound,
    and never above a value you set yourself."""

    def rule(value: Any, yours: Any, you_set_it: bool) -> str | None:
        if you_set_it and value > yours:
            return f"a repository may not raise what you set ({yours!r})"
        return None if value <= ceiling else f"a repository may ask for at most {ceiling}"

    return rule


def _no_more_than(value: Any, yours: Any, _you_set_it: bool) -> str | None:
    """Lower is stricter (budgets, timeouts, rounds; `commit = false`); None means no limit."""
    if yours is None or value <= yours:
        return None
    return f"a repository may only lower it (yours is {yours!r})"


def _no_less_than(value: Any, yours: Any, _you_set_it: bool) -> str | None:
    """Higher is stricter: a gate a project may turn on, never off."""
    if value >= yours:
        return None
    return f"a repository may only turn it on (yours is {yours!r})"


def _blocks_at_least_as_much(value: Any, yours: Any, _you_set_it: bool) -> str | None:
    if SEVERITY_ORDER.index(value) <= SEVERITY_ORDER.index(yours):
        return None
    return f"a repository may only make the review stricter (yours is {yours!r})"


PROJECT_MAY_SET: Final[Mapping[str, ProjectRule]] = {
    "test_command": _describes_project,  # runs in the sandbox; the repository owns its tests anyway
    "test_timeout_s": _up_to(3600),
    "test_budget_s": _up_to(3600),
    "map_tokens": _up_to(8192),
    "map_wait_s": _up_to(30),
    "review_model_tokens": _up_to(24_000),
    "max_steps": _no_more_than,
    "max_cost": _no_more_than,
    "shell_timeout_s": _no_more_than,
    "output_limit": _no_more_than,
    "test_rounds": _no_more_than,
    "review_rounds": _no_more_than,
    "commit": _no_more_than,
    "test_gate": _no_less_than,
    "review_gate": _no_less_than,
    "review_block_on": _blocks_at_least_as_much,
}
"""The only settings a repository's own config may set, each with the rule its value must pass.

Left out on purpose: the sandbox (`sandbox_mode`, `network`, `writable_roots`, `env_allow`, the
limits, `sandbox_fallback`) and `approvals`, which it would run under; `model`, `providers`,
`prices` and the request/retry settings, which decide where your code and keys go and what a run
costs (a `replay:PATH` model even reads a file of the repository's choosing); `ledger_path`, the
record; `use_git`, `compact_at_tokens`, `review_model` and `stream`, which are yours to choose."""


def default_state_dir() -> Path:
    """`$ACB_HOME`, else `$XDG_STATE_HOME/acb`, else `~/.local/state/acb` (nothing is created)."""
    if os.environ.get("ACB_HOME"):
        return Path(os.environ["ACB_HOME"])
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "acb"


def user_config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "acb" / "config.toml"


def read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except (tomllib.TOMLDecodeError, OSError) as exc:
        raise ConfigError(f"cannot read config {path}: {exc}") from exc


def _coerce(key: str, value: Any, source: str) -> Any:
    kind = SCALAR_KEYS[key]
    try:
        if kind is bool:
            if isinstance(value, str):
                lowered = value.strip().lower()
                if lowered not in {"1", "0", "true", "false", "yes", "no"}:
                    raise ValueError(value)
                return lowered in {"1", "true", "yes"}
            if not isinstance(value, bool):
                raise ValueError(value)
            return value
        if kind in (int, float) and isinstance(value, bool):
            raise ValueError(value)
        coerced = kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{source}: {key} must be a {kind.__name__}, not {value!r}") from None
    if kind in (int, float) and coerced < 0:
        raise ConfigError(f"{source}: {key} must not be negative")
    if key in CHOICES and coerced not in CHOICES[key]:
        raise ConfigError(f"{source}: {key} must be one of {', '.join(CHOICES[key])}")
    return coerced


def _providers(raw: Any, source: str) -> dict[str, ProviderConfig]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: [providers] must be a table")
    result = {}
    for name, table in raw.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{source}: [providers.{name}] must be a table")
        unknown = set(table) - {"base_url", "api_key_env", "wire_api"}
        if unknown:
            raise ConfigError(f"{source}: [providers.{name}] has unknown keys {sorted(unknown)}")
        wire = table.get("wire_api", "chat")
        if wire not in WIRE_APIS:
            raise ConfigError(f"{source}: providers.{name}.wire_api must be one of {WIRE_APIS}")
        base_url, key_env = table.get("base_url"), table.get("api_key_env")
        if base_url is not None and not (
            isinstance(base_url, str) and base_url.startswith(("http://", "https://"))
        ):
            raise ConfigError(f"{source}: providers.{name}.base_url must be an http(s) URL")
        if key_env is not None and not (isinstance(key_env, str) and ENV_NAME.fullmatch(key_env)):
            raise ConfigError(
                f"{source}: providers.{name}.api_key_env must name an environment variable"
            )
        result[name] = ProviderConfig(base_url, key_env, wire)
    return result


def _prices(raw: Any, source: str) -> dict[str, Price]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: [prices] must be a table")
    try:
        return {
            model: Price(float(p["input"]), float(p["output"]), p.get("cached_input"))
            for model, p in raw.items()
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(
            f'{source}: each [prices."MODEL"] needs input and output ({exc})'
        ) from exc


def merge_layer(base: dict[str, Any], layer: Mapping[str, Any], source: str) -> None:
    """Fold one layer into `base`, validating as we go so errors name their source."""
    for key, value in layer.items():
        if value is UNSET or value is None:
            continue
        if key == "providers":
            base["providers"] = {**base.get("providers", {}), **_providers(value, source)}
        elif key == "prices":
            base["prices"] = {**base.get("prices", {}), **_prices(value, source)}
        elif key == "ledger_path":
            base["ledger_path"] = Path(str(value)).expanduser()
        elif key in TABLES:
            table = TABLES[key]
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: [{key}] must be a table")
            unknown = set(value) - set(table)
            if unknown:
                raise ConfigError(f"{source}: [{key}] has unknown keys {sorted(unknown)}")
            merge_layer(base, {table[k]: v for k, v in value.items()}, source)
        elif key in LIST_KEYS:
            if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{source}: {key} must be a list of strings")
            base[key] = tuple(value)
        elif key in SCALAR_KEYS:
            base[key] = _coerce(key, value, source)
        else:
            raise ConfigError(f"{source}: unknown setting {key!r}")


DEFAULTS: Final = {f.name: f.default for f in fields(Settings) if f.default is not MISSING}


def _entries(layer: Mapping[str, Any]) -> list[tuple[str | None, str, Any]]:
    """`(setting or None if it names none, how the file spells it, value)`, tables opened."""
    entries: list[tuple[str | None, str, Any]] = []
    for key, value in layer.items():
        if key in TABLES and isinstance(value, dict):
            for inner, item in value.items():
                entries.append((TABLES[key].get(inner), f"[{key}] {inner}", item))
        else:
            known = key in SCALAR_KEYS or key in LIST_KEYS or key in OWN_KEYS
            entries.append((key if known else None, key, value))
    return entries


OWN_KEYS: Final = ("providers", "prices", "ledger_path")


def project_layer(
    project: Mapping[str, Any], yours: Mapping[str, Any], source: str, user_source: str
) -> tuple[dict[str, Any], list[str]]:
    """What a repository's config may add on top of `yours`, and one warning per entry refused.

    Refusals are warnings, not errors: a hostile (or merely old) repository must not stop acb
    from running in it, only fail to change how it runs."""
    honoured: dict[str, Any] = {}
    warnings: list[str] = []
    for key, spelled, value in _entries(project):
        rule = PROJECT_MAY_SET.get(key) if key else None
        if key is None or rule is None:
            why = (
                "not a setting"
                if key is None
                else (
                    f"only your own config ({user_source}) or the command line may set it, "
                    "so that a repository cannot loosen how acb runs in it"
                )
            )
            warnings.append(f"{source}: ignored {spelled!r}: {why}")
            continue
        try:
            coerced = _coerce(key, value, source)
        except ConfigError as error:
            warnings.append(f"ignored: {error}")
            continue
        refusal = rule(coerced, yours.get(key, DEFAULTS.get(key)), key in yours)
        if refusal is None:
            honoured[key] = coerced
        else:
            warnings.append(f"{source}: ignored {spelled!r} = {coerced!r}: {refusal}")
    return honoured, warnings


def load_settings(workspace: Path, flags: Mapping[str, Any] | None = None) -> Settings:
    """Resolve the settings for a run in `workspace`; see `Settings.warnings` for what was not.

    Every verb with a workspace reads its settings first, so this is also where the workspace
    is marked as a place host programs never come from (`programs.distrust`): before bwrap,
    git or a review tool is looked up, a copy planted on a PATH entry inside it is ruled out."""
    from autocodebase.programs import distrust

    distrust(workspace)
    merged: dict[str, Any] = {}
    user_path = user_config_path()
    merge_layer(merged, read_toml(user_path), str(user_path))
    project_path = workspace / ".acb" / "config.toml"
    try:
        layer, warnings = project_layer(
            read_toml(project_path), merged, str(project_path), str(user_path)
        )
    except ConfigError as error:  # unreadable: the repository's problem, not a reason to stop
        layer, warnings = {}, [f"ignored: {error}"]
    merge_layer(merged, layer, str(project_path))
    env_layer = {key: os.environ[var] for var, key in ENV_KEYS.items() if os.environ.get(var)}
    merge_layer(merged, env_layer, "environment")
    merge_layer(merged, flags or {}, "command line")
    return Settings(**merged, warnings=tuple(warnings))
