"""The run's time limit, as a request in flight sees it.

Retries already stop at the limit, but a single request could outlive it by far: the SDKs' timeout
(600 s by default) bounds each read, not the request, so a local server that takes minutes before
its first byte, or one that trickles a token every few seconds, held a run with `--max-minutes 5`
for as long as it liked. The loop states the deadline once; providers read it here, so the `Model`
protocol (which scripted models and cassettes implement too) stays as it is.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from autocodebase.models.base import ModelError

T = TypeVar("T")

MIN_REQUEST_TIMEOUT_S = 1.0
"""A request always gets this long: a deadline a few milliseconds away would only turn a reply
that was about to arrive into a timeout."""

_ENDS_AT: ContextVar[float | None] = ContextVar("acb_requests_end_by", default=None)


@contextmanager
def requests_end_by(deadline: float | None) -> Iterator[None]:
    """Within the block, requests end by `deadline` (a `time.monotonic()` value; None: no
    limit)."""
    token = _ENDS_AT.set(deadline)
    try:
        yield
    finally:
        _ENDS_AT.reset(token)


def current_deadline() -> float | None:
    """The `time.monotonic()` by which requests must end (None: no limit)."""
    return _ENDS_AT.get()


def request_timeout(configured: float) -> float:
    """The timeout for a request starting now: the user's, or the time left if that is less."""
    deadline = _ENDS_AT.get()
    if deadline is None:
        return configured
    return min(configured, max(deadline - time.monotonic(), MIN_REQUEST_TIMEOUT_S))


def until_deadline(events: Iterable[T], stream: Any, provider: str) -> Iterator[T]:
    """The stream's events until the deadline passes, then close it and raise a retryable
    fault (the retry policy sees the time is up and stops there).

    The timeout given when the request started bounds each wait for the next event; this bounds
    a stream that keeps sending, slowly, past the run's end."""
    for event in events:
        yield event
        deadline = _ENDS_AT.get()
        if deadline is not None and time.monotonic() >= deadline:
            close = getattr(stream, "close", None)
            if callable(close):
                close()
            raise ModelError(
                f"{provider} was still streaming its answer when the run's time limit came",
                retryable=True,
            )
