"""Retry with exponential backoff and full jitter, honouring a server's Retry-After.

Providers send each request once (no hidden retries in a client library), so that every retry
is visible as an event and the policy (attempts, delays) comes from one place the user can
configure.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from autocodebase.models.base import ModelError

if TYPE_CHECKING:
    from autocodebase.config import Settings

T = TypeVar("T")
RetryNotice = Callable[[int, float, ModelError], None]


@dataclass
class RetryPolicy:
    """How hard to try before giving up on a provider fault."""

    max_attempts: int = 6
    """Total attempts, the first included."""
    base_delay: float = 1.0
    """Seconds; doubled on each attempt before jitter."""
    max_delay: float = 60.0
    """Ceiling for one wait, Retry-After included, so a hostile header cannot stall a run."""
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    jitter: Callable[[], float] = field(default=random.random, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        """The user's `retry_*` settings (at least one attempt)."""
        return cls(
            max_attempts=max(settings.retry_attempts, 1),
            base_delay=settings.retry_base_delay_s,
            max_delay=settings.retry_max_delay_s,
        )

    def delay_for(self, attempt: int, error: ModelError) -> float:
        """Wait before attempt `attempt + 1`; a server's Retry-After wins over our own backoff."""
        if error.retry_after is not None:
            return float(min(max(error.retry_after, 0.0), self.max_delay))
        ceiling: float = min(self.base_delay * (2 ** (attempt - 1)), self.max_delay)
        return ceiling * (0.5 + 0.5 * self.jitter())


def call_with_retries(
    call: Callable[[], T],
    policy: RetryPolicy,
    on_retry: RetryNotice | None = None,
    deadline: float | None = None,
) -> T:
    """Run `call`, retrying retryable `ModelError`s as the policy says; re-raise the last one.
    No retry waits past `deadline` (a `time.monotonic()` value): the run's time limit."""
    attempt = 1
    while True:
        try:
            return call()
        except ModelError as error:
            if not error.retryable or attempt >= policy.max_attempts:
                raise
            delay = policy.delay_for(attempt, error)
            if deadline is not None and time.monotonic() + delay > deadline:
                raise
            if on_retry is not None:
                on_retry(attempt, delay, error)
            policy.sleep(delay)
            attempt += 1
