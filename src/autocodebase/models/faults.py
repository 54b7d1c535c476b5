"""Turn SDK and transport exceptions into `ModelError`s the retry policy understands.

Both official SDKs expose `status_code` and the HTTP response on their status errors, so one
duck-typed mapping serves every provider without importing either SDK here.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import time
from collections.abc import Iterator, Mapping
from typing import Any

from autocodebase.models.base import ModelError

RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 529})
TRANSPORT_MODULES = ("openai", "anthropic", "httpx", "httpx2", "httpcore", "h11", "h2")


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait as the server asked: `retry-after-ms`, `retry-after` seconds or HTTP date."""
    if not headers:
        return None
    lowered = {key.lower(): value for key, value in headers.items()}
    if "retry-after-ms" in lowered:
        try:
            return float(lowered["retry-after-ms"]) / 1000
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        when = email.utils.parsedate_to_datetime(value) if value else None
        return max(when.timestamp() - time.time(), 0.0) if when else None


def is_transport_error(exc: BaseException) -> bool:
    """True for faults raised by an SDK or HTTP stack, as opposed to bugs in our own code."""
    return isinstance(exc, OSError) or type(exc).__module__.split(".")[0] in TRANSPORT_MODULES


def describe_body(body: Any) -> str:
    """Pull the human message out of an error body such as {"error": {"message": ...}}."""
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])
        return json.dumps(body)[:300]
    return str(body)[:300] if body else ""


def to_model_error(exc: BaseException, provider: str) -> ModelError:
    """Classify `exc`: rate limits, server errors, timeouts and cut connections are retryable."""
    if isinstance(exc, ModelError):
        return exc
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None)
        detail = describe_body(getattr(exc, "body", None)) or str(exc)
        hint = {401: " (check the API key)", 404: " (check the model name and base URL)"}
        return ModelError(
            f"{provider} returned HTTP {status}: {detail}{hint.get(status, '')}",
            retryable=status in RETRYABLE_STATUS,
            retry_after=parse_retry_after(headers) if headers is not None else None,
        )
    name = type(exc).__name__
    if "Timeout" in name:
        return ModelError(f"{provider} timed out: {exc}", retryable=True)
    return ModelError(f"{provider} connection failed ({name}): {exc}", retryable=True)


@contextlib.contextmanager
def provider_faults(provider: str) -> Iterator[None]:
    """SDK and transport faults inside the block become `ModelError`s; our own bugs go through."""
    try:
        yield
    except ModelError:
        raise
    except Exception as exc:
        if is_transport_error(exc):
            raise to_model_error(exc, provider) from exc
        raise
