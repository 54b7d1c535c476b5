"""Layered settings: defaults < user config < project config < environment < command-line flags.

Each setting is declared once, as a field of `Settings`: its type, default and docstring, and in
its metadata (`setting(...)`) what else there is to know: whether a project's config may set it
and under which rule, the environment variable that overrides it, the `[table] key` a config file
may also spell it as. Validation, the project allow-list (`PROJECT_MAY_SET`), the environment
layer and the command line's choices (`SANDBOX_MODES`, `APPROVAL_POLICIES`, ...) are derived from
those declarations; there is no second table to keep in step.

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
import types
from collections.abc import Callable, Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Final, Literal, Union, get_args, get_origin, get_type_hints
from urllib.parse import urlsplit

from autocodebase.errors import ConfigError

SandboxMode = Literal["read-only", "workspace-write", "full-access"]
"""Where sandboxed commands may write (`sandbox/policy.py` says what each mode means)."""
ApprovalPolicy = Literal["untrusted", "on-request", "never"]
"""When a person is asked before a command runs (`sandbox/gate.py`)."""
Fallback = Literal["refuse", "read-only-guard", "none"]
"""What happens to a command when bubblewrap cannot run."""
BlockOn = Literal["high", "medium", "low", "never"]
"""The least severe review finding that blocks a commit; `never` blocks none."""
WireApi = Literal["chat", "responses", "anthropic"]
"""The protocol a configured provider speaks."""

SANDBOX_MODES: Final[tuple[SandboxMode, ...]] = get_args(SandboxMode)
APPROVAL_POLICIES: Final[tuple[ApprovalPolicy, ...]] = get_args(ApprovalPolicy)
FALLBACKS: Final[tuple[Fallback, ...]] = get_args(Fallback)
BLOCK_ON: Final[tuple[BlockOn, ...]] = get_args(BlockOn)
WIRE_APIS: Final[tuple[WireApi, ...]] = get_args(WireApi)
SEVERITY_ORDER: Final[tuple[BlockOn, ...]] = ("low", "medium", "high", "never")
"""`review_block_on`, strictest first: blocking on `low` blocks on everything worse too."""

ENV_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = _Unset()


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
    wire_api: WireApi = "chat"


@dataclass(frozen=True)
class McpServerConfig:
    """`[mcp_servers.NAME]`: a Model Context Protocol server whose tools the model may call.

    Stdio (`command`, `args`, `env`, `env_vars`, `cwd`) or streamable HTTP (`url`, `headers`,
    `env_headers` whose values name the environment variables holding them: secrets stay out
    of config files). Its tools run outside the sandbox, so they are under the approval policy
    unless `trusted` (the whole server) or listed in `trusted_tools`."""

    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    env_vars: tuple[str, ...] = ()
    """Variables of acb's environment passed on by name (a stdio server gets no others but
    the few every program needs: HOME, PATH, LANG, ...)."""
    cwd: str | None = None
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    env_headers: Mapping[str, str] = field(default_factory=dict)
    enabled: bool = True
    enabled_tools: tuple[str, ...] | None = None
    disabled_tools: tuple[str, ...] = ()
    trusted: bool = False
    trusted_tools: tuple[str, ...] = ()
    startup_timeout_s: float = 10.0
    tool_timeout_s: float = 60.0


MCP_SERVER_NAME: Final = re.compile(r"[A-Za-z0-9]([A-Za-z0-9_-]{0,38}[A-Za-z0-9-])?")
"""Tool names are `NAME__tool`, and providers accept only `[A-Za-z0-9_-]{1,64}`; a name with
no `__` and no `_` at its end makes `NAME__tool` say which server it is (`a_` + `_x` and `a` +
`__x` would both read `a___x`)."""


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        raise ConfigError(f"{where} must be a list of strings")
    return tuple(value)


def _string_table(value: Any, where: str) -> dict[str, str]:
    if not (isinstance(value, dict) and all(isinstance(v, str) for v in value.values())):
        raise ConfigError(f"{where} must be a table of strings")
    return dict(value)


def _mcp_server(name: str, table: Any, source: str) -> McpServerConfig:
    where = f"{source}: mcp_servers.{name}"
    if not MCP_SERVER_NAME.fullmatch(name) or "__" in name:
        raise ConfigError(
            f"{where}: a server name is letters, digits, - and _ (no __, not ending in _), "
            "1-40 long"
        )
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table")
    unknown = set(table) - {f.name for f in fields(McpServerConfig)}
    if unknown:
        raise ConfigError(f"{where} has unknown keys {sorted(unknown)}")
    command, url = table.get("command"), table.get("url")
    if (command is None) == (url is None):
        raise ConfigError(f"{where} needs exactly one of command (stdio) or url (HTTP)")
    if command is not None and not (isinstance(command, str) and command.strip()):
        raise ConfigError(f"{where}.command must be a program name or path")
    if url is not None and not (
        isinstance(url, str) and url.startswith(("http://", "https://")) and urlsplit(url).hostname
    ):
        raise ConfigError(f"{where}.url must be an http(s) URL with a host")
    values: dict[str, Any] = {"command": command, "url": url}
    for key in ("args", "env_vars", "disabled_tools", "trusted_tools", "enabled_tools"):
        if key in table:
            values[key] = _strings(table[key], f"{where}.{key}")
    for key in ("env", "headers", "env_headers"):
        if key in table:
            values[key] = _string_table(table[key], f"{where}.{key}")
    for variable in (*values.get("env_vars", ()), *values.get("env_headers", {}).values()):
        if not ENV_NAME.fullmatch(variable):
            raise ConfigError(f"{where}: {variable!r} is not an environment variable name")
    for key in ("enabled", "trusted"):
        if key in table:
            if not isinstance(table[key], bool):
                raise ConfigError(f"{where}.{key} must be true or false")
            values[key] = table[key]
    for key in ("startup_timeout_s", "tool_timeout_s"):
        if key in table:
            number = table[key]
            if isinstance(number, bool) or not isinstance(number, int | float) or number <= 0:
                raise ConfigError(f"{where}.{key} must be a positive number of seconds")
            values[key] = float(number)
    if "cwd" in table:
        if not isinstance(table["cwd"], str):
            raise ConfigError(f"{where}.cwd must be a path")
        values["cwd"] = table["cwd"]
    return McpServerConfig(**values)


def _mcp_servers(raw: Any, source: str) -> dict[str, McpServerConfig]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: [mcp_servers] must be a table")
    return {name: _mcp_server(name, table, source) for name, table in raw.items()}


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


def _providers(raw: Any, source: str) -> dict[str, ProviderConfig]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: [providers] must be a table")
    result = {}
    for name, table in raw.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{source}: [providers.{name}] must be a table")
        unknown = set(table) - {f.name for f in fields(ProviderConfig)}
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
        if base_url is not None and not urlsplit(base_url).hostname:
            raise ConfigError(
                f"{source}: providers.{name}.base_url must be an http(s) URL with a host"
            )
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


def _path(raw: Any, _source: str) -> Path:
    return Path(str(raw)).expanduser()


Parser = Callable[[Any, str], Any]
"""Reads a setting whose value is not a scalar or a list of strings: (value, source) -> value;
a mapping it returns is merged key by key into what earlier layers said."""


def setting(
    *,
    project: ProjectRule | None,
    env: str | None = None,
    table: str | None = None,
    choices: tuple[str, ...] | None = None,
    parse: Parser | None = None,
) -> dict[str, Any]:
    """The metadata of a `Settings` field: everything acb needs to know about it besides its
    type, default and docstring.

    `project`: the rule a repository's own config must pass to set it, or None when only you
    may (every setting says which, on purpose). `env`: the environment variable that overrides
    it. `table`: how a config file may also spell it, "TABLE.KEY" for `[TABLE] KEY`. `choices`:
    the allowed values, when the annotation cannot be a `Literal` yet. `parse`: how to read a
    value that is not a scalar or a list of strings."""
    return {
        "setting": True,
        "project": project,
        "env": env,
        "table": table,
        "choices": choices,
        "parse": parse,
    }


@dataclass(frozen=True)
class Settings:
    """Everything a run needs to know that is not the task itself."""

    model: str = field(default="openai/gpt-5.1", metadata=setting(project=None, env="ACB_MODEL"))
    """`PROVIDER/NAME` or `replay:CASSETTE`. Yours only: it decides where your code and keys go
    (and a `replay:PATH` model reads a file of the repository's choosing)."""
    max_steps: int = field(default=50, metadata=setting(project=_no_more_than, env="ACB_MAX_STEPS"))
    max_cost: float | None = field(
        default=None, metadata=setting(project=_no_more_than, env="ACB_MAX_COST")
    )
    max_minutes: float = field(
        default=120.0, metadata=setting(project=_no_more_than, env="ACB_MAX_MINUTES")
    )
    """Wall-clock minutes a run may take before it ends as `max_time` (0: no limit). A silent
    provider with the default retries could otherwise hold a run for an hour per step."""
    compact_at_tokens: int = field(default=100_000, metadata=setting(project=None))
    """Estimated tokens (characters / 4) at which a conversation is compacted; 0 turns it off."""
    stream: bool = field(default=True, metadata=setting(project=None))
    test_command: str | None = field(
        default=None,
        metadata=setting(project=_describes_project, env="ACB_TEST_COMMAND", table="test.command"),
    )
    """`[test] command`: how to run the tests, when detection from the project's files is wrong.
    A project may set it: it runs in the sandbox, and the repository owns its tests anyway."""
    test_timeout_s: int = field(
        default=900, metadata=setting(project=_up_to(3600), table="test.timeout_s")
    )
    test_budget_s: int = field(
        default=240, metadata=setting(project=_up_to(3600), table="test.budget_s")
    )
    """Seconds the test gate may spend on one check: the tests chosen for the change first,
    the whole suite only when it is known (or estimated) to fit what is left."""
    test_gate: bool = field(
        default=True, metadata=setting(project=_no_less_than, table="test.gate")
    )
    """Run the tests before the model may finish; new failures go back to it."""
    test_rounds: int = field(
        default=2, metadata=setting(project=_no_more_than, table="test.rounds")
    )
    """How often failing tests go back to the model before the run fails."""
    review_gate: bool = field(
        default=True, metadata=setting(project=_no_less_than, table="review.gate")
    )
    """Review the run's change (static gates) before committing it."""
    review_block_on: BlockOn = field(
        default="high", metadata=setting(project=_blocks_at_least_as_much, table="review.block_on")
    )
    """Findings at least this severe go back to the model, and block the commit if they stay."""
    review_rounds: int = field(
        default=2, metadata=setting(project=_no_more_than, table="review.rounds")
    )
    """How often blocking findings go back to the model before the run fails."""
    review_model: bool = field(default=False, metadata=setting(project=None, table="review.model"))
    """Also ask the model to review the change (two passes: find, then score and drop the weak
    ones). In runs its findings are shown and recorded; only the static gates block."""
    review_model_tokens: int = field(
        default=6000, metadata=setting(project=_up_to(24_000), table="review.model_tokens")
    )
    """Budget of the compressed diff the model review sees."""
    map_tokens: int = field(default=1024, metadata=setting(project=_up_to(8192)))
    """Budget of the repo map given to the model at the start of a run; 0 leaves it out."""
    map_wait_s: float = field(default=1.0, metadata=setting(project=_up_to(30)))
    """How long the first request waits for that map; a map not ready by then (a cold index of
    a large repository) follows with a later tool result."""
    file_tools: bool = field(
        default=False, metadata=setting(project=_no_more_than, table="tools.file_tools")
    )
    """Offer `read_file` and `search` in every request's tool list. Off, they still answer a
    model that calls them, and the model reads and searches with shell (`sed -n`, `rg -n`), as
    Codex CLI's does: 240 fewer input tokens on every request."""
    shell_timeout_s: int = field(default=120, metadata=setting(project=_no_more_than))
    output_limit: int = field(default=10_000, metadata=setting(project=_no_more_than))
    request_timeout_s: float = field(default=600.0, metadata=setting(project=None))
    retry_attempts: int = field(default=6, metadata=setting(project=None))
    retry_base_delay_s: float = field(default=1.0, metadata=setting(project=None))
    retry_max_delay_s: float = field(default=60.0, metadata=setting(project=None))
    commit: bool = field(default=True, metadata=setting(project=_no_more_than))
    use_git: bool = field(default=True, metadata=setting(project=None))
    sandbox_mode: SandboxMode = field(
        default="workspace-write",
        metadata=setting(project=None, table="sandbox.mode", choices=SANDBOX_MODES),
    )
    network: bool = field(default=False, metadata=setting(project=None, table="sandbox.network"))
    approvals: ApprovalPolicy | None = field(default=None, metadata=setting(project=None))
    """None: the front end decides (headless `exec` never asks, a conversation asks on request)."""
    sandbox_fallback: Fallback = field(
        default="refuse",
        metadata=setting(project=None, table="sandbox.fallback", choices=FALLBACKS),
    )
    writable_roots: tuple[str, ...] = field(
        default=(), metadata=setting(project=None, table="sandbox.writable_roots")
    )
    env_allow: tuple[str, ...] = field(
        default=(), metadata=setting(project=None, table="sandbox.env_allow")
    )
    max_processes: int = field(
        default=512, metadata=setting(project=None, table="sandbox.max_processes")
    )
    memory_mb: int = field(default=8192, metadata=setting(project=None, table="sandbox.memory_mb"))
    ledger_path: Path = field(
        default_factory=lambda: default_state_dir() / "ledger.db",
        metadata=setting(project=None, parse=_path),
    )
    providers: Mapping[str, ProviderConfig] = field(
        default_factory=dict, metadata=setting(project=None, parse=_providers)
    )
    prices: Mapping[str, Price] = field(
        default_factory=dict, metadata=setting(project=None, parse=_prices)
    )
    mcp_servers: Mapping[str, McpServerConfig] = field(
        default_factory=dict, metadata=setting(project=None, parse=_mcp_servers)
    )
    """Yours only: a repository's config naming a server would run its program on your
    machine, outside the sandbox, when you open it."""
    warnings: tuple[str, ...] = ()
    """What the layers said that was not honoured (a project's config asking for what only you
    may set), one line each; front ends show them, the ledger keeps them with the settings."""
    sources: Mapping[str, str] = field(default_factory=dict)
    """Setting -> the layer that set it (a config file's path, "environment", "command line");
    a setting not here has its default. Says whether the user chose the model at all."""

    def to_record(self) -> dict[str, Any]:
        """JSON-ready form for the ledger; providers are listed without secrets (there are none)."""
        record = asdict(self)
        record["ledger_path"] = str(self.ledger_path)
        for server in record["mcp_servers"].values():
            # The names of what a server is given, never the values (tokens, passwords), and
            # neither its arguments nor a URL's credentials or query, where tokens also go.
            server["env"] = sorted(server["env"])
            server["headers"] = sorted(server["headers"])
            server["args"] = f"{len(server['args'])} arguments"
            if server["url"]:
                parts = urlsplit(server["url"])
                host = parts.hostname or ""
                server["url"] = (
                    f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}{parts.path}"
                )
        return record


@dataclass(frozen=True)
class Spec:
    """One setting as read from its declaration: what a layer's value must be, and who may set
    it from where."""

    name: str
    kind: type | None
    """str, int, float or bool for a scalar; tuple for a list of strings; None when `parse` reads
    it."""
    choices: tuple[str, ...] | None
    project: ProjectRule | None
    env: str | None
    table: tuple[str, str] | None
    """`(TABLE, KEY)` when a config file may also spell it `[TABLE] KEY`."""
    parse: Parser | None


def _spec(name: str, hint: Any, metadata: Mapping[str, Any]) -> Spec:
    if get_origin(hint) in (Union, types.UnionType):  # `X | None`: None means "not set"
        (hint,) = [arg for arg in get_args(hint) if arg is not type(None)]
    choices = metadata["choices"]
    kind: type | None
    if metadata["parse"] is not None:
        kind = None
    elif get_origin(hint) is Literal:
        kind, choices = str, choices or get_args(hint)
    elif get_origin(hint) is tuple:
        kind = tuple
    elif hint in (str, int, float, bool):
        kind = hint
    else:
        raise TypeError(f"Settings.{name}: no way to read a {hint!r}; give it parse=")
    table: str | None = metadata["table"]
    section, _, key = (table or "").partition(".")
    return Spec(
        name=name,
        kind=kind,
        choices=choices,
        project=metadata["project"],
        env=metadata["env"],
        table=(section, key) if table else None,
        parse=metadata["parse"],
    )


def _specs() -> dict[str, Spec]:
    hints = get_type_hints(Settings)
    return {
        f.name: _spec(f.name, hints[f.name], f.metadata)
        for f in fields(Settings)
        if f.metadata.get("setting")
    }


SPECS: Final = _specs()
"""Every setting by name, as its field declares it."""
DEFAULTS: Final = {f.name: f.default for f in fields(Settings) if f.default is not MISSING}
PROJECT_MAY_SET: Final[Mapping[str, ProjectRule]] = {
    spec.name: spec.project for spec in SPECS.values() if spec.project is not None
}
"""The only settings a repository's own config may set, each with the rule its value must pass
(`setting(project=...)`).

Left out on purpose: the sandbox (`sandbox_mode`, `network`, `writable_roots`, `env_allow`, the
limits, `sandbox_fallback`) and `approvals`, which it would run under; `model`, `providers`,
`prices` and the request/retry settings, which decide where your code and keys go and what a run
costs (a `replay:PATH` model even reads a file of the repository's choosing); `ledger_path`, the
record; `use_git`, `compact_at_tokens`, `review_model` and `stream`, which are yours to choose."""
ENV_KEYS: Final = {spec.env: spec.name for spec in SPECS.values() if spec.env}
"""Environment variable -> setting, for the layer between the project's config and the flags."""
TABLES: Final[Mapping[str, Mapping[str, str]]] = {
    table: {
        spec.table[1]: spec.name for spec in SPECS.values() if spec.table and spec.table[0] == table
    }
    for table in dict.fromkeys(spec.table[0] for spec in SPECS.values() if spec.table)
}
"""`[TABLE] KEY` -> setting: another way a config file may spell some settings."""


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
    import tomllib  # here: the commands that only declare their options never need it

    if not path.is_file():
        return {}
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except (tomllib.TOMLDecodeError, OSError) as exc:
        raise ConfigError(f"cannot read config {path}: {exc}") from exc


_KIND_WORDS: Final = {
    int: "a whole number",
    float: "a number",
    bool: "true or false",
    str: "a string",
}


def _coerce(key: str, value: Any, source: str) -> Any:
    spec = SPECS[key]
    kind = spec.kind
    assert kind is not None and kind is not tuple, key  # scalars only
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
        raise ConfigError(f"{source}: {key} must be {_KIND_WORDS[kind]}, not {value!r}") from None
    if kind in (int, float) and coerced < 0:
        raise ConfigError(f"{source}: {key} must not be negative")
    if spec.choices is not None and coerced not in spec.choices:
        raise ConfigError(f"{source}: {key} must be one of {', '.join(spec.choices)}")
    return coerced


def merge_layer(
    base: dict[str, Any],
    layer: Mapping[str, Any],
    source: str,
    sources: dict[str, str] | None = None,
) -> None:
    """Fold one layer into `base`, validating as we go so errors name their source (and
    noting in `sources` which layer set each setting)."""
    for key, value in layer.items():
        if value is UNSET or value is None:
            continue
        spec = SPECS.get(key)
        if sources is not None and key not in TABLES:
            sources[key] = source
        if key in TABLES:
            table = TABLES[key]
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: [{key}] must be a table")
            unknown = set(value) - set(table)
            if unknown:
                raise ConfigError(f"{source}: [{key}] has unknown keys {sorted(unknown)}")
            merge_layer(base, {table[k]: v for k, v in value.items()}, source, sources)
        elif spec is None:
            raise ConfigError(f"{source}: unknown setting {key!r}")
        elif spec.parse is not None:
            parsed = spec.parse(value, source)
            base[key] = {**base.get(key, {}), **parsed} if isinstance(parsed, dict) else parsed
        elif spec.kind is tuple:
            if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{source}: {key} must be a list of strings")
            base[key] = tuple(value)
        else:
            base[key] = _coerce(key, value, source)


def _entries(layer: Mapping[str, Any]) -> list[tuple[str | None, str, Any]]:
    """`(setting or None if it names none, how the file spells it, value)`, tables opened."""
    entries: list[tuple[str | None, str, Any]] = []
    for key, value in layer.items():
        if key in TABLES and isinstance(value, dict):
            for inner, item in value.items():
                entries.append((TABLES[key].get(inner), f"[{key}] {inner}", item))
        else:
            entries.append((key if key in SPECS else None, key, value))
    return entries


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
    sources: dict[str, str] = {}
    user_path = user_config_path()
    merge_layer(merged, read_toml(user_path), str(user_path), sources)
    project_path = workspace / ".acb" / "config.toml"
    try:
        layer, warnings = project_layer(
            read_toml(project_path), merged, str(project_path), str(user_path)
        )
    except ConfigError as error:  # unreadable: the repository's problem, not a reason to stop
        layer, warnings = {}, [f"ignored: {error}"]
    merge_layer(merged, layer, str(project_path), sources)
    env_layer = {key: os.environ[var] for var, key in ENV_KEYS.items() if os.environ.get(var)}
    merge_layer(merged, env_layer, "environment", sources)
    merge_layer(merged, flags or {}, "command line", sources)
    return Settings(**merged, warnings=tuple(warnings), sources=sources)
