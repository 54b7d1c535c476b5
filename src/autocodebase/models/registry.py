"""Turn `--model` into a `Model`: `PROVIDER/NAME`, `replay:PATH`, or a provider named in config.

Providers are a table, not an if-chain: each entry knows its wire API, default base URL and the
environment variable holding its key, and a user's `[providers.NAME]` adds rows to that table.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from autocodebase.config import ProviderConfig, Settings, WireApi, user_config_path
from autocodebase.errors import UsageError
from autocodebase.models.base import Model


@dataclass(frozen=True)
class ProviderEntry:
    wire_api: WireApi
    base_url: str | None
    base_url_env: str | None
    api_key_env: str | None
    key_required: bool


BUILTIN_PROVIDERS: dict[str, ProviderEntry] = {
    "openai": ProviderEntry("chat", None, "OPENAI_BASE_URL", "OPENAI_API_KEY", True),
    "anthropic": ProviderEntry("anthropic", None, "ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY", True),
    "ollama": ProviderEntry("chat", "http://127.0.0.1:11434/v1", "OLLAMA_BASE_URL", None, False),
    "openrouter": ProviderEntry(
        "chat", "https://openrouter.ai/api/v1", None, "OPENROUTER_API_KEY", True
    ),
    "lmstudio": ProviderEntry("chat", "http://127.0.0.1:1234/v1", None, None, False),
    "llamacpp": ProviderEntry("chat", "http://127.0.0.1:8080/v1", None, None, False),
}


def _entry_for(provider: str, settings: Settings) -> ProviderEntry:
    configured: ProviderConfig | None = settings.providers.get(provider)
    builtin = BUILTIN_PROVIDERS.get(provider)
    if configured is None and builtin is None:
        known = sorted({*BUILTIN_PROVIDERS, *settings.providers})
        raise UsageError(
            f"unknown model provider {provider!r}; use one of {', '.join(known)}, "
            "replay:PATH, or define [providers.NAME] in your config"
        )
    if configured is None:
        assert builtin is not None
        return builtin
    return ProviderEntry(
        wire_api=configured.wire_api,
        base_url=configured.base_url or (builtin.base_url if builtin else None),
        base_url_env=builtin.base_url_env if builtin else None,
        api_key_env=configured.api_key_env or (builtin.api_key_env if builtin else None),
        key_required=configured.api_key_env is not None or bool(builtin and builtin.key_required),
    )


def no_model_chosen(default: str, key_env: str) -> str:
    """First contact: nobody chose a model, and the default one needs a key that is not set."""
    ways = [
        (f"export {key_env}=...", "to use the default"),
        ("--model anthropic/claude-sonnet-4-5", "any PROVIDER/NAME (this one: ANTHROPIC_API_KEY)"),
        ("--model ollama/qwen2.5-coder", "a local server, no key (also llamacpp/NAME,"),
        ("", "lmstudio/NAME, or your own [providers.NAME] base_url)"),
        (f'model = "PROVIDER/NAME" in {user_config_path()}', "(or ACB_MODEL) to keep a choice"),
    ]
    return "\n".join(
        [
            f"no model chosen, and acb's default ({default}) needs {key_env}, which is not set.",
            "Choose a model, any of these ways:",
            *(f"  {how:<38}{why}" if len(how) < 38 else f"  {how} {why}" for how, why in ways),
        ]
    )


def build_model(spec: str, settings: Settings) -> Model:
    """Build the model `spec` names, failing with one clear line when it cannot be used."""
    if spec.startswith("replay:"):
        from autocodebase.models.cassette import ReplayModel

        path = Path(spec.removeprefix("replay:")).expanduser()
        if not path.is_file():
            raise UsageError(f"cassette not found: {path}")
        return ReplayModel(path)
    provider, slash, model_id = spec.partition("/")
    if not slash or not provider or not model_id:
        raise UsageError(
            f"--model must look like PROVIDER/NAME (e.g. openai/gpt-5.1), not {spec!r}"
        )
    entry = _entry_for(provider, settings)
    base_url = (
        os.environ.get(entry.base_url_env) if entry.base_url_env else None
    ) or entry.base_url
    api_key = os.environ.get(entry.api_key_env, "").strip() if entry.api_key_env else ""
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in api_key):
        # It would go into an HTTP header, where it is refused; the value is never repeated.
        raise UsageError(f"{entry.api_key_env} contains a control character; set it again")
    if entry.key_required and not api_key:
        if spec == settings.model and "model" not in settings.sources:
            raise UsageError(no_model_chosen(spec, str(entry.api_key_env)))
        raise UsageError(
            f"{entry.api_key_env} is not set: export it to use {spec}, or pick another --model"
        )
    common = {
        "name": spec,
        "model_id": model_id,
        "api_key": api_key or "not-needed",
        "base_url": base_url,
        "stream": settings.stream,
        "timeout": settings.request_timeout_s,
        "provider_label": provider,
    }
    if entry.wire_api == "anthropic":
        from autocodebase.models.anthropic_messages import AnthropicModel

        return AnthropicModel(**common)  # type: ignore[arg-type]
    if entry.wire_api == "responses":
        from autocodebase.models.openai_responses import OpenAIResponsesModel

        return OpenAIResponsesModel(**common)  # type: ignore[arg-type]
    from autocodebase.models.openai_chat import OpenAIChatModel

    return OpenAIChatModel(**common)  # type: ignore[arg-type]
