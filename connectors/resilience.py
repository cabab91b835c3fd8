"""Staying correct when sources fail: bounded retries with jitter, and a circuit breaker.

Both live in the connector process and hold no personal data: the breaker counts
outcomes per source, the retry policy only decides how long to wait.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from gateway.core.errors import SourceUnavailable

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
"""HTTP statuses worth asking again for: the source is busy or briefly broken."""


@dataclass
class RetryPolicy:
    """How often an idempotent read is retried, and how long to wait in between.

    Waits use "full jitter" (a random wait up to an exponentially growing cap) so
    that gateway replicas retrying the same struggling source do not do so in step.
    """

    retries: int = 2
    """Extra attempts after the first; 0 turns retrying off."""
    backoff_seconds: float = 0.1
    """The cap of the first wait; it doubles with every retry."""
    max_backoff_seconds: float = 2.0
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        if self.retries < 0 or self.backoff_seconds < 0 or self.max_backoff_seconds < 0:
            raise ValueError("retries and backoff must not be negative")

    def wait_before(self, retry: int) -> float:
        """Seconds to wait before retry number `retry` (0 for the first retry)."""
        cap = min(self.max_backoff_seconds, self.backoff_seconds * 2**retry)
        return self.rng.uniform(0, cap)


class BreakerState(StrEnum):
    """Where a circuit breaker stands."""

    CLOSED = "closed"
    """Calls go through; consecutive failures are counted."""
    OPEN = "open"
    """Calls fail at once without touching the source, until the reset time passes."""
    HALF_OPEN = "half_open"
    """One trial call goes through; its outcome closes or re-opens the circuit."""


class CircuitOpen(SourceUnavailable):
    """The source is not asked at all: its breaker is open (or its one trial call is out)."""


class CircuitBreaker:
    """A per-source, per-process breaker: closed → open → half-open → closed or open again.

    `failure_threshold` consecutive failed calls open it; after `reset_seconds` the
    next call is let through as a trial while others keep failing fast. A success
    closes the breaker, a failure opens it for another `reset_seconds`.
    Meant for one event loop (asyncio): it is not thread-safe.
    """

    def __init__(
        self,
        source: str,
        *,
        failure_threshold: int = 5,
        reset_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1 or reset_seconds < 0:
            raise ValueError("a breaker needs a threshold of at least 1 and a reset time")
        self.source = source
        self.failure_threshold = failure_threshold
        self.reset_seconds = reset_seconds
        self.clock = clock
        self.failures = 0
        self._opened_at: float | None = None
        self._trial_out = False

    def __repr__(self) -> str:
        return f"CircuitBreaker(source={self.source!r}, state={self.state.value!r})"

    @property
    def state(self) -> BreakerState:
        """The state now (an open breaker turns half-open once its reset time has passed)."""
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self.clock() - self._opened_at >= self.reset_seconds:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def retry_after(self) -> int:
        """Whole seconds until an open breaker lets a trial call through (at least 1)."""
        if self._opened_at is None:
            return 0
        remaining = self.reset_seconds - (self.clock() - self._opened_at)
        return max(1, int(remaining + 0.999))

    def before_call(self) -> None:
        """Let a call through or raise `CircuitOpen`; a half-open breaker admits one trial."""
        state = self.state
        if state is BreakerState.CLOSED:
            return
        if state is BreakerState.HALF_OPEN and not self._trial_out:
            self._trial_out = True
            return
        raise CircuitOpen(
            f"Source {self.source} is failing; it was not asked (circuit open).",
            headers={"Retry-After": str(self.retry_after())},
        )

    def record_success(self) -> None:
        """The call went well: close the breaker and forget past failures."""
        self.failures = 0
        self._opened_at = None
        self._trial_out = False

    def record_failure(self) -> None:
        """The call failed: count it, and open the breaker at the threshold or after a trial."""
        self.failures += 1
        if self._trial_out or self.failures >= self.failure_threshold:
            self._opened_at = self.clock()
        self._trial_out = False

    def abandon(self) -> None:
        """The call ended without an outcome (cancelled): a trial slot is handed back."""
        self._trial_out = False
