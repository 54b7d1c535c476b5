"""The official SDKs' clients, built the one way acb wants them: their own retries off (ours are
visible and configurable), and each SDK imported only when a request is about to be made."""

from __future__ import annotations

from typing import Any

OPENAI_ENDPOINT = "https://api.openai.com/v1"
"""Where the OpenAI SDK sends requests when no base URL is given."""
ANTHROPIC_ENDPOINT = "https://api.anthropic.com"
"""Where the Anthropic SDK sends requests when no base URL is given."""


def openai_client(api_key: str, base_url: str | None, timeout: float) -> Any:
    """An OpenAI SDK client (Chat Completions and Responses)."""
    import openai  # lazy: 0.4 s of import we only pay when a request is made

    return openai.OpenAI(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0)


def anthropic_client(api_key: str, base_url: str | None, timeout: float) -> Any:
    """An Anthropic SDK client (Messages)."""
    import anthropic  # lazy: ~0.9 s of import

    # The SDK appends /v1/messages itself; accept the OpenAI-style ".../v1" users often paste
    # instead of failing every request with a 404.
    base_url = base_url.rstrip("/").removesuffix("/v1") if base_url else None
    return anthropic.Anthropic(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0)
