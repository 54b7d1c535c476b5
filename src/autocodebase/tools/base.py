"""What a tool is: a typed function whose JSON schema and description are derived, not hand-written.

`@tool` reads the signature (after the `ToolContext` parameter) and the docstring's summary and
`Args:` section; pydantic builds the schema and validates what the model sends, so a bad argument
becomes an error message the model can act on.

Pydantic is 0.1-0.3 s of import and model building, and the first request needs only the
schemas: acb's own tools' schemas are read from `specs.json` (written by `python -m
autocodebase.tools.specs`, checked against pydantic's derivation by a test, and ignored for a
tool whose signature or docstring changed since), and each validation model is built on first
use, and only for calls whose arguments are not plainly valid (`Tool.plainly_valid`).
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import re
import time
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autocodebase.events import Event
from autocodebase.models.base import ToolCall, ToolSpec


class ToolError(Exception):
    """A tool could not do what was asked; the message goes back to the model, the run goes on."""


@dataclass(frozen=True)
class ToolResult:
    """Text for the model, structured data for the event stream."""

    output: str
    is_error: bool = False
    data: dict[str, Any] = field(default_factory=dict)


RECENT_FILES = 20


@dataclass
class ToolContext:
    """What a tool may touch: the workspace, limits, and the event stream."""

    workspace: Path
    emit: Callable[[Event], None]
    shell_timeout_s: int = 120
    output_limit: int = 10_000
    env: dict[str, str] = field(default_factory=dict)
    """Environment for commands, already stripped of secrets."""
    commands: Any = None
    """The `CommandGate` every command goes through; None means a default sandboxed one."""
    plan: list[dict[str, str]] = field(default_factory=list)
    context_engine: Any = None
    """The run's `ContextEngine` (repo map), created on first use."""
    test_command: str | None = None
    """The configured `[test] command`; None means detect it from the project's files."""
    test_timeout_s: int = 900
    test_reports: list[Any] = field(default_factory=list)
    """Every `TestReport` of the run, in order: the test gate compares the last with the first."""
    recent_files: list[str] = field(default_factory=list)
    """Files the model read or edited, most recent last: the repo map leans toward them."""

    def remember(self, path: str) -> None:
        if path in self.recent_files:
            self.recent_files.remove(path)
        self.recent_files.append(path)
        del self.recent_files[:-RECENT_FILES]


ToolFunction = Callable[..., ToolResult]
Normaliser = Callable[[ToolContext, dict[str, Any]], dict[str, Any]]
"""Rewrites the arguments a model sent in another agent's habits into this tool's own
(`accepting`); raises `ToolError` for one it recognises but cannot honour."""


def _docstring_parts(doc: str) -> tuple[str, dict[str, str]]:
    """Split a Google-style docstring into its description and per-argument texts."""
    text = inspect.cleandoc(doc or "")
    head, _, args_block = text.partition("\nArgs:\n")
    described: dict[str, str] = {}
    current = None
    for line in args_block.splitlines():
        match = re.match(r"^\s{2,}(\w+):\s*(.*)$", line)
        if match and len(line) - len(line.lstrip()) <= 4:
            current = match.group(1)
            described[current] = match.group(2).strip()
        elif current and line.strip():
            described[current] += " " + line.strip()
    return head.strip(), described


def _portable(schema: Any, definitions: Mapping[str, Any] | None = None) -> Any:
    """Pydantic's schema in the subset every provider accepts: no titles, `X | None` shown as
    X (None means omitted) with no `default: null`, `$ref`s inlined and no `$defs` (Gemini's
    and some local servers' OpenAI-compatible endpoints reject references), and no nested
    `additionalProperties` (validation still forbids extra fields)."""
    if isinstance(schema, dict):
        if definitions is None:
            definitions = schema.get("$defs", {})
        reference = schema.get("$ref")
        if isinstance(reference, str) and reference.startswith("#/$defs/"):
            inlined = definitions[reference.removeprefix("#/$defs/")]
            schema = {**inlined, **{k: v for k, v in schema.items() if k != "$ref"}}
        options = schema.get("anyOf")
        if isinstance(options, list) and {"type": "null"} in options and len(options) == 2:
            rest = {k: v for k, v in schema.items() if k != "anyOf"}
            schema = {**next(o for o in options if o != {"type": "null"}), **rest}
        return {
            k: _portable(v, definitions)
            for k, v in schema.items()
            if k not in ("title", "$defs", "additionalProperties")
            and not (k == "default" and v is None)
        }
    if isinstance(schema, list):
        return [_portable(item, definitions) for item in schema]
    return schema


SPECS_FILE = Path(__file__).with_name("specs.json")


@functools.cache
def recorded_specs() -> dict[str, dict[str, Any]]:
    """The committed schemas of acb's own tools, by name (see the module docstring)."""
    try:
        loaded = json.loads(SPECS_FILE.read_text())
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def fingerprint(function: ToolFunction) -> str:
    """What a tool's schema is derived from: its module's source (the signature, the docstring
    and the types it names, aliases included). A recorded schema with another fingerprint is
    stale and derived again."""
    try:
        source = Path(function.__code__.co_filename).read_bytes()
    except OSError:
        return ""  # no source to compare: never trust a recorded schema
    return hashlib.sha256(function.__qualname__.encode() + b"\0" + source).hexdigest()[:16]


class Tool:
    """A callable tool with its derived spec."""

    def __init__(
        self,
        function: ToolFunction,
        read_only: bool = False,
        changes_files: Callable[[Mapping[str, Any]], bool] | None = None,
    ):
        self.function = function
        self.normalise: Normaliser | None = None
        """Set by `accepting`: other agents' argument habits, rewritten before validation."""
        self.read_only = read_only
        """Never changes files, so the loop need not snapshot the tree around its calls."""
        self._changes_files = changes_files
        self.name = function.__name__.rstrip("_")
        self._spec: ToolSpec | None = None
        self._arguments_model: Any = None
        self._signature: list[inspect.Parameter] | None = None

    # Computed once, without a lock: `functools.cached_property` holds one lock for every
    # instance on Python 3.11, so the main thread asking a tool for its schema waited for the
    # warm-up thread building another tool's validation model.
    @property
    def spec(self) -> ToolSpec:
        if self._spec is None:
            recorded = recorded_specs().get(self.name)
            stamp = fingerprint(self.function)
            if recorded is not None and stamp and recorded.get("fingerprint") == stamp:
                self._spec = ToolSpec(self.name, recorded["description"], recorded["parameters"])
            else:
                self._spec = self.derived_spec()
        return self._spec

    @spec.setter
    def spec(self, value: ToolSpec) -> None:
        self._spec = value

    def derived_spec(self) -> ToolSpec:
        """The spec from the signature and docstring, through pydantic."""
        description, arg_docs = _docstring_parts(self.function.__doc__ or "")
        schema = _portable(self.arguments_model.model_json_schema())
        # An optional parameter without an `Args:` text is accepted but not offered: it exists
        # for what other agents' models send (Codex's `workdir`), and every request would carry it.
        unadvertised = {
            p.name
            for p in self._parameters()
            if p.name not in arg_docs and p.default is not inspect.Parameter.empty
        }
        schema["properties"] = {
            k: v for k, v in schema.get("properties", {}).items() if k not in unadvertised
        }
        return ToolSpec(self.name, description, schema)

    def _parameters(self) -> list[inspect.Parameter]:
        if self._signature is None:
            self._signature = list(inspect.signature(self.function).parameters.values())[1:]
        return self._signature

    @property
    def arguments_model(self) -> Any:
        """The pydantic model that validates a call's arguments."""
        if self._arguments_model is None:
            self._arguments_model = self._build_arguments_model()
        return self._arguments_model

    def _build_arguments_model(self) -> Any:
        import pydantic

        _, arg_docs = _docstring_parts(self.function.__doc__ or "")
        hints = typing.get_type_hints(self.function, include_extras=True)
        fields: dict[str, Any] = {}
        for param in self._parameters():
            default = ... if param.default is inspect.Parameter.empty else param.default
            fields[param.name] = (
                hints[param.name],
                pydantic.Field(default, description=arg_docs.get(param.name)),
            )
        return pydantic.create_model(
            f"{self.name}_arguments",
            __config__=pydantic.ConfigDict(extra="forbid"),
            **fields,
        )

    def may_change_files(self, arguments: Any) -> bool:
        """Whether a call with these arguments may change the working tree. The loop snapshots
        the tree (two scans of it) only around such calls, so a tool that cannot tell says yes;
        a wrong "no" costs attribution, never the change, which the run's final diff holds."""
        if self.read_only:
            return False
        if self._changes_files is None or not isinstance(arguments, Mapping):
            return True
        return self._changes_files(arguments)

    def run(self, context: ToolContext, arguments: dict[str, Any]) -> ToolResult:
        if self.normalise is not None:
            try:
                arguments = self.normalise(context, dict(arguments))
            except ToolError as exc:
                return ToolResult(f"invalid arguments for {self.name}: {exc}", is_error=True)
        values = self.plainly_valid(arguments)
        if values is None:
            checked = self.validated(arguments)
            if isinstance(checked, ToolResult):
                return checked
            values = checked
        try:
            return self.function(context, **values)
        except ToolError as exc:
            return ToolResult(f"error: {exc}", is_error=True)

    def validated(self, arguments: dict[str, Any]) -> dict[str, Any] | ToolResult:
        """The arguments as pydantic validates (and coerces) them, or the error for the model."""
        import pydantic

        try:
            parsed = self.arguments_model.model_validate(arguments)
        except pydantic.ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}"
                for e in exc.errors()
            )
            return ToolResult(f"invalid arguments for {self.name}: {problems}", is_error=True)
        return {name: getattr(parsed, name) for name in type(parsed).model_fields}

    def plainly_valid(self, arguments: dict[str, Any]) -> dict[str, Any] | None:
        """The call's arguments with defaults filled in, when every one is a value pydantic
        would take exactly as it is: a known parameter with a plain schema (`string`,
        `integer`, `boolean`, nothing else) and a value of that very type; all required ones
        present. None otherwise, and pydantic decides (coercions, nested values, the error
        message). Most calls are like this, and skip pydantic's import (0.1-0.3 s) altogether."""
        properties = self.spec.parameters.get("properties", {})
        for name, value in arguments.items():
            schema = properties.get(name)
            if not isinstance(schema, dict) or not set(schema) <= PLAIN_SCHEMA_KEYS:
                return None
            if type(value) is not PLAIN_TYPES.get(schema.get("type", "")):
                return None
        values: dict[str, Any] = {}
        for parameter in self._parameters():
            if parameter.name in arguments:
                values[parameter.name] = arguments[parameter.name]
            elif parameter.default is inspect.Parameter.empty:
                return None  # missing: pydantic says so
            else:
                values[parameter.name] = parameter.default
        return values


PLAIN_SCHEMA_KEYS = frozenset({"type", "description", "default"})
PLAIN_TYPES: dict[str, type] = {"string": str, "integer": int, "boolean": bool}


def tool(function: ToolFunction) -> Tool:
    """Decorator: make `function(context, **arguments) -> ToolResult` a tool."""
    return Tool(function)


def tool_changing_files_when(
    predicate: Callable[[Mapping[str, Any]], bool],
) -> Callable[[ToolFunction], Tool]:
    """Decorator for a tool that changes files only for some arguments, which `predicate`
    recognises (a shell command the classifier knows only reads does not)."""
    return lambda function: Tool(function, changes_files=predicate)


def read_only_tool(function: ToolFunction) -> Tool:
    """Decorator for a tool that only reads: its calls cannot have changed the working tree."""
    return Tool(function, read_only=True)


def accepting(normalise: Normaliser) -> Callable[[Tool], Tool]:
    """Decorator, above `@tool`: rewrite the arguments models trained on other agents send
    (Codex's `apply_patch{"input"}`, `shell{"command": [...], "timeout_ms"}`) into this tool's
    own before validation. Aliases cost nothing in the schema every request carries, where an
    extra optional parameter would; `normalise` is declared beside the tool it serves."""

    def attach(chosen: Tool) -> Tool:
        chosen.normalise = normalise
        return chosen

    return attach


def renamed(arguments: dict[str, Any], aliases: Mapping[str, str]) -> dict[str, Any]:
    """`arguments` with each alias key renamed to its own name, unless both were sent (then
    validation names the alias as unexpected, and the model sees which one to drop)."""
    for alias, own in aliases.items():
        if alias in arguments and own not in arguments:
            arguments[own] = arguments.pop(alias)
    return arguments


@dataclass
class Toolbox:
    """The tools offered in a run, and the single place a model's call is turned into a result."""

    tools: Sequence[Tool]
    hidden: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Optional parameters not offered to the model, by tool (e.g. asking to leave the sandbox
    when no one can be asked): every request carries the schemas, so unusable ones cost tokens
    on every step."""
    unoffered: frozenset[str] = frozenset()
    """Tools that answer a call but are left out of the specs sent with each request."""

    def __post_init__(self) -> None:
        self.by_name = {t.name: t for t in self.tools}

    @property
    def specs(self) -> list[ToolSpec]:
        return [self._offered(t.spec) for t in self.tools if t.name not in self.unoffered]

    def _offered(self, spec: ToolSpec) -> ToolSpec:
        hidden = self.hidden.get(spec.name)
        if not hidden:
            return spec
        schema = dict(spec.parameters)
        schema["properties"] = {
            k: v for k, v in schema.get("properties", {}).items() if k not in hidden
        }
        if "required" in schema:
            schema["required"] = [r for r in schema["required"] if r not in hidden]
        return ToolSpec(spec.name, spec.description, schema)

    def call(self, context: ToolContext, call: ToolCall) -> tuple[ToolResult, float]:
        """Run `call`; malformed or unknown calls come back as errors the model can fix."""
        started = time.monotonic()
        chosen = self.by_name.get(call.name)
        if chosen is None:
            known = ", ".join(self.by_name)
            result = ToolResult(f"error: unknown tool {call.name!r}; available: {known}", True)
        elif call.arguments is None:
            result = ToolResult(
                f"error: the arguments for {call.name} are not a valid JSON object: "
                f"{call.raw_arguments[:200]!r}. Send the call again with valid JSON.",
                is_error=True,
            )
        else:
            result = chosen.run(context, call.arguments)
        return result, time.monotonic() - started
