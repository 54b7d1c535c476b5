"""The HTTP clients of the two wire families, built with the headers each API wants."""

from __future__ import annotations

import os

from autocodebase.models.transport import JsonHttp

OPENAI_ENDPOINT = "https://api.openai.com/v1"
"""Where OpenAI requests go when no base URL is given."""
ANTHROPIC_ENDPOINT = "https://api.anthropic.com"
"""Where Anthropic requests go when no base URL is given."""
ANTHROPIC_VERSION = "2023-06-01"
"""The Messages API version acb speaks (the one the API reference documents)."""


def openai_http(api_key: str, base_url: str | None) -> JsonHttp:
    """Chat Completions and Responses: a bearer key, and the organisation and project the
    official SDK would send from the environment."""
    headers = {"Authorization": f"Bearer {api_key}"}
    for variable, header in (
        ("OPENAI_ORG_ID", "OpenAI-Organization"),
        ("OPENAI_PROJECT_ID", "OpenAI-Project"),
    ):
        value = os.environ.get(variable, "").strip()
        if value and value.isprintable():
            headers[header] = value
    return JsonHttp(base_url or OPENAI_ENDPOINT, headers)


def anthropic_http(api_key: str, base_url: str | None) -> JsonHttp:
    """Messages: the key in `x-api-key` and the API version. The OpenAI-style ".../v1" users
    often paste as the base URL is accepted (the path adds /v1 itself)."""
    base = base_url.rstrip("/").removesuffix("/v1") if base_url else ANTHROPIC_ENDPOINT
    return JsonHttp(base, {"x-api-key": api_key, "anthropic-version": ANTHROPIC_VERSION})
