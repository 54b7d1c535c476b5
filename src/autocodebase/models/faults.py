"""Turn transport exceptions into `ModelError`s the retry policy understands.

An HTTP error carries `status_code`, `body` and `response.headers` (`transport.HttpStatusError`,
as the official SDKs' errors did), so one duck-typed mapping serves every provider.
"""

from __future__ import annotations

import contextlib
import email.utils
import ipaddress
import json
import math
import time
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from autocodebase.models.base import ModelError

RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 529})
TRANSPORT_MODULES = ("autocodebase.models.transport", "http", "ssl", "socket")


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait as the server asked: `retry-after-ms`, `retry-after` seconds or HTTP date."""
    if not headers:
        return None
    lowered = {key.lower(): value for key, value in headers.items()}
    if "retry-after-ms" in lowered:
        try:
            return _finite(float(lowered["retry-after-ms"]) / 1000)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return _finite(float(value))
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value) if value else None
        except (TypeError, ValueError):  # neither seconds nor a date: no advice taken
            return None
        return max(when.timestamp() - time.time(), 0.0) if when else None


def _finite(seconds: float) -> float | None:
    """A server's wait in seconds, if it is one ("nan" and "inf" parse as floats)."""
    return max(seconds, 0.0) if math.isfinite(seconds) else None


def is_transport_error(exc: BaseException) -> bool:
    """True for faults of the HTTP stack or the network, as opposed to bugs in our own code."""
    module = type(exc).__module__
    return isinstance(exc, OSError) or any(
        module == name or module.startswith(name + ".") for name in TRANSPORT_MODULES
    )


def describe_body(body: Any) -> str:
    """Pull the human message out of an error body such as {"error": {"message": ...}}."""
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])
        return json.dumps(body)[:300]
    return str(body)[:300] if body else ""


REQUEST_FAULTS = (
    "invalid_request",
    "authentication",
    "permission",
    "not_found",
    "billing",
    "context_length",
    "too_large",
)
"""Error types and codes that say the request itself was wrong: sending it again will not help."""


def stream_error_is_transient(body: dict[str, Any]) -> bool:
    """Whether an error sent inside a stream is worth a retry, from its type or code."""
    inner = body.get("error", body)
    if not isinstance(inner, dict):
        return True
    code = inner.get("code")
    if isinstance(code, int):
        return code in RETRYABLE_STATUS or code >= 500
    named = f"{inner.get('type') or ''} {code or ''}"
    return not any(fault in named for fault in REQUEST_FAULTS)


def on_this_machine(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _root_cause(exc: BaseException) -> BaseException:
    seen: set[int] = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        nested = exc.__cause__ or exc.__context__
        if nested is None:
            break
        exc = nested
    return exc


def _refused_locally(exc: BaseException, endpoint: str | None) -> bool:
    """Connection refused by a server on this machine: nothing listens there, and waiting a
    minute of retries will not start it."""
    if endpoint is None or not on_this_machine(urlsplit(endpoint).hostname):
        return False
    root = _root_cause(exc)
    return isinstance(root, ConnectionRefusedError) or "Connection refused" in str(root)


def to_model_error(exc: BaseException, provider: str, endpoint: str | None = None) -> ModelError:
    """Classify `exc`: rate limits, server errors, timeouts and cut connections are retryable;
    a refused connection to this machine is not. Messages name the endpoint, so that a wrong
    `base_url` shows itself."""
    if isinstance(exc, ModelError):
        return exc
    where = f" at {endpoint}" if endpoint else ""
    status = getattr(exc, "status_code", None)
    body = getattr(exc, "body", None)
    if (status is None or status < 400) and isinstance(body, dict):
        # An error event inside a 200 stream (Anthropic's overloaded_error, OpenRouter's
        # upstream failure): the HTTP status says nothing; the error's own type does.
        return ModelError(
            f"{provider}{where} reported an error in the middle of its answer: "
            f"{describe_body(body) or exc}",
            retryable=stream_error_is_transient(body),
        )
    if isinstance(status, int):
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None)
        detail = describe_body(body) or str(exc)
        hint = {401: " (check the API key)", 404: " (check the model name and base URL)"}
        return ModelError(
            f"{provider}{where} returned HTTP {status}: {detail}{hint.get(status, '')}",
            retryable=status in RETRYABLE_STATUS,
            retry_after=parse_retry_after(headers) if headers is not None else None,
        )
    name = type(exc).__name__
    if "Timeout" in name:
        return ModelError(f"{provider}{where} timed out: {exc}", retryable=True)
    root = _root_cause(exc)
    cause = f"{exc}" if root is exc else f"{exc} {root}"
    if _refused_locally(exc, endpoint):
        return ModelError(
            f"{provider}{where}: connection refused; is the server running on that port?",
            retryable=False,
        )
    return ModelError(f"{provider}{where}: connection failed ({name}: {cause})", retryable=True)


@contextlib.contextmanager
def provider_faults(provider: str, endpoint: str | None = None) -> Iterator[None]:
    """Transport faults inside the block become `ModelError`s; our own bugs go through."""
    try:
        yield
    except ModelError:
        raise
    except (json.JSONDecodeError, RecursionError) as exc:  # a body or SSE line not JSON
        where = f" at {endpoint}" if endpoint else ""
        raise ModelError(
            f"{provider}{where} sent a malformed answer: {exc}", retryable=True
        ) from exc
    except (AttributeError, TypeError) as exc:
        # JSON of the wrong shape where the wire format has an object (a list of `choices`
        # that are strings): the provider's parsing met it, and says so.
        where = f" at {endpoint}" if endpoint else ""
        raise ModelError(
            f"{provider}{where} sent a malformed answer ({type(exc).__name__}: {exc})",
            retryable=True,
        ) from exc
    except Exception as exc:
        if is_transport_error(exc):
            raise to_model_error(exc, provider, endpoint) from exc
        raise


def api_object(value: Any, provider: str) -> dict[str, Any]:
    """The parsed answer, or a retryable fault when the server sent a 200 whose body is not an
    API response at all (an HTML error page from a proxy, plain text, a bare JSON value)."""
    if isinstance(value, dict):
        return value
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    shown = " ".join(text.split())[:200]
    raise ModelError(
        f"{provider} answered with something that is not an API response: {shown!r}",
        retryable=True,
    )


def fields_of(value: Any, provider: str) -> dict[str, Any]:
    """A JSON object inside an answer; anything else there is a malformed answer (retried)."""
    if isinstance(value, dict):
        return value
    raise ModelError(
        f"{provider} sent a malformed answer: expected an object, got {json.dumps(value)[:100]}",
        retryable=True,
    )
