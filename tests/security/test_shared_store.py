"""The shared store behind rate limits and DPoP replay checks, on each backend.

Two store objects stand for two gateway processes: what one counts or claims, the other
sees. Redis follows the PostgreSQL pattern: used when a server answers on
127.0.0.1:6379 (or `LENDGATE_TEST_REDIS_URL`), required under `CI=true`.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import urlsplit

import pytest

from gateway.core.db import create_engine, create_sessionmaker
from gateway.security.store import DatabaseStore, RedisStore, SharedStore, StoreUnavailable
from tests.support.databases import in_ci
from tests.support.stack import Stack

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def require_redis() -> str:
    """The Redis URL, or a skip (a failure under CI) when none answers."""
    url = os.environ.get("LENDGATE_TEST_REDIS_URL", DEFAULT_REDIS_URL)
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), 2):
            return url
    except OSError:
        message = f"no Redis answers at {parts.hostname}:{parts.port or 6379}"
        if in_ci():
            pytest.fail(message + " (CI=true: Redis tests are mandatory)", pytrace=False)
        pytest.skip(message)


@pytest.fixture(params=["database", "redis"])
async def two_processes(
    request: pytest.FixtureRequest, stack: Stack
) -> AsyncIterator[tuple[SharedStore, SharedStore]]:
    """Two stores over one backing service, as two gateway processes would hold them."""
    if request.param == "redis":
        url = require_redis()
        first, second = RedisStore(url), RedisStore(url)
        try:
            yield first, second
        finally:
            await first.aclose()
            await second.aclose()
        return
    engine = create_engine(stack.context.settings.resolved_database_url)
    try:
        yield DatabaseStore(stack.context.sessionmaker), DatabaseStore(create_sessionmaker(engine))
    finally:
        await engine.dispose()


def unique(prefix: str) -> str:
    return f"test:{prefix}:{secrets.token_hex(8)}"


async def test_hits_are_counted_across_processes(
    two_processes: tuple[SharedStore, SharedStore],
) -> None:
    first, second = two_processes
    key = unique("hits")
    counts = [(await store.hit(key, 60)).count for store in (first, second, first, second)]
    assert counts == [1, 2, 3, 4]
    window = await second.peek(key)
    assert window.count == 4 and 0 < window.resets_in <= 60
    assert (await first.peek(unique("never"))).count == 0


async def test_a_window_ends_and_a_new_one_starts(
    two_processes: tuple[SharedStore, SharedStore],
) -> None:
    first, second = two_processes
    key = unique("window")
    await first.hit(key, 0.2)
    await second.hit(key, 0.2)
    await asyncio.sleep(0.35)
    assert (await second.hit(key, 0.2)).count == 1


async def test_a_claim_succeeds_once_in_any_process(
    two_processes: tuple[SharedStore, SharedStore],
) -> None:
    first, second = two_processes
    key = unique("claim")
    results = await asyncio.gather(*(store.claim(key, 60) for store in (first, second) * 4))
    assert sorted(results) == [False] * 7 + [True]
    assert await first.claim(unique("claim"), 60)


async def test_concurrent_hits_lose_no_count(
    two_processes: tuple[SharedStore, SharedStore],
) -> None:
    first, second = two_processes
    key = unique("concurrent")
    windows = await asyncio.gather(*(store.hit(key, 60) for store in (first, second) * 10))
    assert sorted(window.count for window in windows) == list(range(1, 21))


async def test_an_unreachable_redis_is_reported_not_hidden() -> None:
    store = RedisStore("redis://127.0.0.1:1/0")
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: store.hit("k", 1),
        lambda: store.peek("k"),
        lambda: store.claim("k", 1),
    ]
    try:
        for call in calls:
            with pytest.raises(StoreUnavailable):
                await call()
    finally:
        await store.aclose()


async def test_the_gateway_runs_on_redis(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rate limits and DPoP replay checks through Redis, end to end."""
    from lendgate_sdk import dpop, jose

    from tests.support.stack import TOKEN_URL, client_assertion, request_token

    store = RedisStore(require_redis())
    monkeypatch.setattr(stack.context, "shared_store", store)
    monkeypatch.setattr(stack.context.settings, "client_rate_limit", 2)
    try:
        client = await stack.register_client(dpop_required=True)
        key = jose.generate_signing_key()
        proof = dpop.make_proof(key, "POST", TOKEN_URL)
        token = await request_token(stack.http, client_assertion(client), headers={"DPoP": proof})
        replay = await request_token(stack.http, client_assertion(client), headers={"DPoP": proof})
        assert token.status_code == 200 and replay.status_code == 401
        access = token.json()["access_token"]
        statuses = []
        for _ in range(3):
            url = "http://testserver/v1/consents/cns_000000000000000000000000"
            headers = {
                "Authorization": f"DPoP {access}",
                "DPoP": dpop.make_proof(key, "GET", url, access_token=access),
            }
            statuses.append((await stack.http.get(url, headers=headers)).status_code)
        assert statuses == [404, 404, 429]
    finally:
        await store.aclose()


async def test_throttled_hits_are_shared_across_processes(
    two_processes: tuple[SharedStore, SharedStore],
) -> None:
    first, second = two_processes
    key = unique("throttle")
    counts = [(await first.throttle(key, 60)).count for _ in range(5)]
    assert counts == [1, 2, 3, 4, 5]
    # The other process sees at least the window's first hit at once, and never more
    # than were made.
    seen = (await second.throttle(key, 60)).count
    assert 2 <= seen <= 6


async def test_throttled_hits_are_not_written_one_by_one(stack: Stack) -> None:
    """In the database a process adds its throttled hits to the shared row in batches."""
    engine = create_engine(stack.context.settings.resolved_database_url)
    try:
        batched = DatabaseStore(create_sessionmaker(engine), sync_seconds=3600)
        observer = DatabaseStore(stack.context.sessionmaker)
        key = unique("batched")
        counts = [(await batched.throttle(key, 60)).count for _ in range(20)]
        assert counts == list(range(1, 21))
        # Only the window's first hit reached the database; the rest wait for the next sync.
        assert (await observer.peek(key)).count == 1
        eager = DatabaseStore(create_sessionmaker(engine), sync_seconds=0)
        assert (await eager.throttle(key, 60)).count == 2
        assert (await eager.throttle(key, 60)).count == 3
        assert (await observer.peek(key)).count == 3
    finally:
        await engine.dispose()
