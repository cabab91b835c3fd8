"""Retries with jitter and the circuit breaker, on their own and inside a connector."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable

import httpx
import pytest

from connectors.base import Month, MonthRange
from connectors.resilience import BreakerState, CircuitBreaker, CircuitOpen, RetryPolicy
from connectors.sources.housing_fund.connector import HousingFundConnector
from gateway.core.errors import SourceUnavailable

MONTHS = MonthRange.ending(Month(2026, 10), 24)
ZHANG_SAN = "11010519491231002X"
GOOD = {"source": "housing_fund", "as_of": "2026-10", "found": True, "record": {}}


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Source:
    """A scripted source: answers from `script` in turn (the last one repeats); counts calls."""

    def __init__(self, *script: int | Callable[[httpx.Request], httpx.Response]) -> None:
        self.script = list(script)
        self.calls = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        step = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        if callable(step):
            return step(request)
        if step == 200:
            return httpx.Response(200, json=GOOD)
        if step == 0:
            raise httpx.ConnectError("refused", request=request)
        if step == -1:
            await asyncio.sleep(5)
        return httpx.Response(step, json={"error": "x"})


def connector(
    source: Source,
    *,
    retries: int = 2,
    threshold: int = 3,
    clock: Clock | None = None,
    timeout: float = 0.2,
) -> HousingFundConnector:
    return HousingFundConnector(
        "http://hf.test",
        "k",
        timeout_seconds=timeout,
        client=httpx.AsyncClient(transport=httpx.MockTransport(source)),
        retry=RetryPolicy(retries=retries, backoff_seconds=0.001),
        breaker=CircuitBreaker(
            "housing_fund", failure_threshold=threshold, reset_seconds=30, clock=clock or Clock()
        ),
    )


async def fetch(hf: HousingFundConnector) -> None:
    await hf.fetch(ZHANG_SAN, ["account_status"], MONTHS)


# -- retries -------------------------------------------------------------------------------------


def test_waits_are_jittered_and_capped() -> None:
    policy = RetryPolicy(
        retries=5, backoff_seconds=0.1, max_backoff_seconds=0.3, rng=random.Random(1)
    )

    waits = [[policy.wait_before(retry) for retry in range(5)] for _ in range(200)]

    for retry, cap in enumerate((0.1, 0.2, 0.3, 0.3, 0.3)):
        column = [row[retry] for row in waits]
        assert all(0 <= wait <= cap for wait in column)
        assert len(set(column)) > 150  # replicas do not retry in step
    with pytest.raises(ValueError):
        RetryPolicy(retries=-1)


@pytest.mark.parametrize("transient", [500, 502, 503, 504, 429, 0])
async def test_a_transient_failure_is_retried_and_the_read_succeeds(transient: int) -> None:
    source = Source(transient, 200)

    await fetch(connector(source))

    assert source.calls == 2


async def test_retries_are_bounded() -> None:
    source = Source(503)

    with pytest.raises(SourceUnavailable) as caught:
        await fetch(connector(source, retries=2))

    assert source.calls == 3
    assert caught.value.detail == "Source housing_fund answered with HTTP status 503."
    assert type(caught.value) is SourceUnavailable


@pytest.mark.parametrize(
    ("script", "detail"),
    [
        ((-1,), "Source housing_fund did not answer in time."),
        ((400,), "Source housing_fund answered with HTTP status 400."),
        ((401,), "Source housing_fund answered with HTTP status 401."),
        (
            (lambda request: httpx.Response(200, content=b'{"source": "hou'),),
            "Source housing_fund answered with a malformed body.",
        ),
    ],
)
async def test_what_asking_again_cannot_cure_is_not_retried(
    script: tuple[int | Callable[[httpx.Request], httpx.Response]], detail: str
) -> None:
    source = Source(*script, 200)

    with pytest.raises(SourceUnavailable) as caught:
        await fetch(connector(source))

    assert source.calls == 1
    assert caught.value.detail == detail


async def test_every_retry_presents_a_fresh_signature() -> None:
    """The bureau refuses a reused nonce, so a retried signed request must be signed anew."""
    from connectors.sources.credit_bureau.connector import CreditBureauConnector

    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            return httpx.Response(503)
        return httpx.Response(200, json={**GOOD, "source": "credit_bureau"})

    bureau = CreditBureauConnector(
        "http://cb.test",
        "secret",
        client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        retry=RetryPolicy(retries=1, backoff_seconds=0),
    )
    await bureau.fetch(ZHANG_SAN, ["inquiries"], MONTHS)

    first, second = seen
    assert first.headers["X-Nonce"] != second.headers["X-Nonce"]
    assert "X-Api-Key" not in first.headers
    assert "secret" not in json.dumps(dict(first.headers))


# -- the breaker on its own ----------------------------------------------------------------------


def test_breaker_opens_at_the_threshold_then_tries_once_after_the_reset() -> None:
    clock = Clock()
    breaker = CircuitBreaker("housing_fund", failure_threshold=2, reset_seconds=30, clock=clock)

    breaker.before_call()
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED
    breaker.before_call()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    with pytest.raises(CircuitOpen) as caught:
        breaker.before_call()
    assert caught.value.headers == {"Retry-After": "30"}
    assert caught.value.code == "SourceUnavailable" and caught.value.status == 503

    clock.now += 29.5
    assert breaker.state is BreakerState.OPEN
    assert breaker.retry_after() == 1
    clock.now += 0.5
    assert breaker.state is BreakerState.HALF_OPEN
    breaker.before_call()  # the one trial
    with pytest.raises(CircuitOpen):
        breaker.before_call()  # everyone else still fails fast
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.failures == 0


def test_a_failed_trial_opens_the_breaker_again() -> None:
    clock = Clock()
    breaker = CircuitBreaker("credit_bureau", failure_threshold=5, reset_seconds=10, clock=clock)
    for _ in range(5):
        breaker.record_failure()
    clock.now += 10

    breaker.before_call()
    breaker.record_failure()

    assert breaker.state is BreakerState.OPEN
    assert breaker.retry_after() == 10


def test_a_success_forgives_earlier_failures() -> None:
    breaker = CircuitBreaker("utility", failure_threshold=3)
    for outcome in ("fail", "fail", "ok", "fail", "fail"):
        breaker.before_call()
        breaker.record_failure() if outcome == "fail" else breaker.record_success()

    assert breaker.state is BreakerState.CLOSED


def test_an_abandoned_trial_frees_the_slot() -> None:
    clock = Clock()
    breaker = CircuitBreaker("utility", failure_threshold=1, reset_seconds=1, clock=clock)
    breaker.record_failure()
    clock.now += 1
    breaker.before_call()

    breaker.abandon()

    breaker.before_call()  # a new trial may go
    assert breaker.state is BreakerState.HALF_OPEN


# -- the breaker inside a connector --------------------------------------------------------------


async def test_an_open_breaker_fails_fast_without_asking_the_source_and_recovers() -> None:
    clock = Clock()
    source = Source(503)
    hf = connector(source, retries=0, threshold=3, clock=clock)

    for _ in range(3):
        with pytest.raises(SourceUnavailable):
            await fetch(hf)
    assert (source.calls, hf.circuit) == (3, "open")

    with pytest.raises(CircuitOpen) as caught:
        await fetch(hf)
    assert source.calls == 3  # not asked
    assert caught.value.detail == (
        "Source housing_fund is failing; it was not asked (circuit open)."
    )

    clock.now += 30
    assert hf.circuit == "half_open"
    source.script = [200]
    await fetch(hf)
    assert (source.calls, hf.circuit) == (4, "closed")


async def test_a_malformed_answer_counts_against_the_source() -> None:
    source = Source(lambda request: httpx.Response(200, json={"found": "maybe"}))
    hf = connector(source, threshold=2)

    for _ in range(2):
        with pytest.raises(SourceUnavailable):
            await fetch(hf)

    assert hf.circuit == "open"


async def test_a_fetch_cancelled_by_another_source_is_no_verdict() -> None:
    clock = Clock()
    source = Source(503)
    hf = connector(source, retries=0, threshold=1, clock=clock)
    with pytest.raises(SourceUnavailable):
        await fetch(hf)
    clock.now += 30
    source.script = [-1]  # the trial call hangs ...
    hf.timeout_seconds = 10

    trial = asyncio.create_task(fetch(hf))
    await asyncio.sleep(0.05)
    trial.cancel()  # ... and is cancelled when another source fails
    with pytest.raises(asyncio.CancelledError):
        await trial

    assert hf.circuit == "half_open"
    source.script = [200]
    await fetch(hf)
    assert hf.circuit == "closed"


async def test_retries_inside_one_fetch_count_once_against_the_breaker() -> None:
    source = Source(503)
    hf = connector(source, retries=2, threshold=2)

    with pytest.raises(SourceUnavailable):
        await fetch(hf)

    assert source.calls == 3
    assert (hf.breaker.failures, hf.circuit) == (1, "closed")
