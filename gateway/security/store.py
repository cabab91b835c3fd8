"""State every gateway process must share: rate-limit windows and spent one-time values.

Two backends behind one small interface. With `LENDGATE_REDIS_URL` the counters live in
Redis (one atomic MULTI per hit, expiring by themselves); without it they live in the
database every replica already shares (one upsert in a short transaction of its own),
so the embedded default needs nothing more and a limit is never per-process.

Throughput limits (`throttle`) sit on every client request. In the database they are not
written per request: each process counts its own hits and adds them to the shared row at
most once a second (`LENDGATE_RATE_LIMIT_SYNC_SECONDS`), so a limit holds across replicas
to within about that much traffic.
Security counters (code failures, spent one-time values) use `hit` and `claim`: exact.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Final, Protocol

import structlog
from sqlalchemy import case, delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from gateway.core.db import create_engine, create_sessionmaker
from gateway.core.logging import RateLimitedLog
from gateway.core.settings import Settings
from gateway.security.models import SecurityCounter

log = structlog.get_logger()

KEY_PREFIX: Final = "lendgate:"
# Expired rows are swept every so many hits, so the table stays as small as the live windows.
_SWEEP_EVERY: Final = 256
_STORE_POOL_SIZE: Final = 5
"""Connections of the database store's own pool (and as many more at peaks)."""


outage_log = RateLimitedLog(interval_seconds=1.0)
"""The store not answering repeats on every request: one line a second, the rest counted."""


class StoreUnavailable(Exception):
    """The shared store did not answer; callers decide whether to fail open or closed."""


@dataclass(frozen=True)
class Window:
    """How often a key was hit in its current window, and when that window ends."""

    count: int
    resets_in: float


class SharedStore(Protocol):
    """Counters and one-time claims that every gateway process sees alike."""

    async def hit(self, key: str, window_seconds: float) -> Window:
        """Count one more hit of `key` in its window (a new window starts when none is open)."""
        ...

    async def throttle(self, key: str, window_seconds: float) -> Window:
        """Count a request against a throughput limit: like `hit`, possibly a second behind."""
        ...

    async def peek(self, key: str) -> Window:
        """The current window of `key` without counting (count 0 when none is open)."""
        ...

    async def claim(self, key: str, ttl_seconds: float) -> bool:
        """True for the first claim of `key` within `ttl_seconds`, False for any later one."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class _LocalWindow:
    """One process's view of a throttled key: the shared count at the last sync, and its own
    hits since."""

    shared: int
    pending: int
    expires_at_ms: int
    synced_at: float
    syncing: bool = False


class DatabaseStore:
    """The shared store in the gateway's database (table `security_counters`)."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        engine: AsyncEngine | None = None,
        *,
        sync_seconds: float = 1.0,
    ):
        self._sessionmaker = sessionmaker
        self._engine = engine
        self.sync_seconds = sync_seconds
        """How long this process counts throttled hits on its own before adding them."""
        self._hits = 0
        self._windows: dict[str, _LocalWindow] = {}

    async def hit(self, key: str, window_seconds: float) -> Window:
        """Count one more hit of `key` in its window (one upsert, committed at once)."""
        return await self._add(key, 1, window_seconds)

    async def throttle(self, key: str, window_seconds: float) -> Window:
        """Count a hit here; add this process's hits to the shared row at most once a second.

        A window's first hit is added at once, so a new window is shared from its start.
        """
        now = _now_ms()
        local = self._windows.get(key)
        if local is None or local.expires_at_ms <= now:
            window = await self._add(key, 1, window_seconds)
            self._windows[key] = _LocalWindow(
                window.count, 0, now + int(window.resets_in * 1000), time.monotonic()
            )
            self._forget_closed_windows(now)
            return window
        local.pending += 1
        if not local.syncing and time.monotonic() - local.synced_at >= self.sync_seconds:
            await self._sync(key, local, window_seconds)
        return Window(local.shared + local.pending, max(0, local.expires_at_ms - now) / 1000)

    async def _sync(self, key: str, local: _LocalWindow, window_seconds: float) -> None:
        """Add this process's pending hits of `key` to the shared count and read it back."""
        local.syncing = True
        try:
            added = local.pending
            window = await self._add(key, added, window_seconds)
            local.pending -= added
            local.shared = window.count - local.pending
            local.expires_at_ms = _now_ms() + int(window.resets_in * 1000)
            local.synced_at = time.monotonic()
        finally:
            local.syncing = False

    def _forget_closed_windows(self, now: int) -> None:
        if len(self._windows) > _SWEEP_EVERY:
            for key in [k for k, w in self._windows.items() if w.expires_at_ms <= now]:
                del self._windows[key]

    async def _add(self, key: str, amount: int, window_seconds: float) -> Window:
        """Add `amount` hits to `key`'s window in one upsert, committed at once."""
        now = _now_ms()
        try:
            async with self._sessionmaker() as session, session.begin():
                insert: Any = (
                    postgresql_insert
                    if session.get_bind().dialect.name == "postgresql"
                    else sqlite_insert
                )(SecurityCounter).values(
                    key=key, count=amount, expires_at_ms=now + int(window_seconds * 1000)
                )
                expired = SecurityCounter.expires_at_ms <= now
                statement = insert.on_conflict_do_update(
                    index_elements=[SecurityCounter.key],
                    set_={
                        "count": case((expired, amount), else_=SecurityCounter.count + amount),
                        "expires_at_ms": case(
                            (expired, insert.excluded.expires_at_ms),
                            else_=SecurityCounter.expires_at_ms,
                        ),
                    },
                ).returning(SecurityCounter.count, SecurityCounter.expires_at_ms)
                count, expires_at_ms = (await session.execute(statement)).one()
                self._hits += 1
                if self._hits % _SWEEP_EVERY == 0:
                    await session.execute(
                        delete(SecurityCounter).where(SecurityCounter.expires_at_ms <= now)
                    )
        except SQLAlchemyError as error:
            raise StoreUnavailable(type(error).__name__) from error
        return Window(int(count), max(0, int(expires_at_ms) - now) / 1000)

    async def peek(self, key: str) -> Window:
        """The current window of `key` without counting."""
        now = _now_ms()
        try:
            async with self._sessionmaker() as session:
                row = (
                    await session.execute(
                        select(SecurityCounter.count, SecurityCounter.expires_at_ms).where(
                            SecurityCounter.key == key, SecurityCounter.expires_at_ms > now
                        )
                    )
                ).one_or_none()
        except SQLAlchemyError as error:
            raise StoreUnavailable(type(error).__name__) from error
        if row is None:
            return Window(0, 0.0)
        count, expires_at_ms = row
        return Window(int(count), (int(expires_at_ms) - now) / 1000)

    async def claim(self, key: str, ttl_seconds: float) -> bool:
        """True only for the first claim of `key` while it lives."""
        return (await self.hit(key, ttl_seconds)).count == 1

    async def aclose(self) -> None:
        """Close the store's own engine, if it was given one to own."""
        if self._engine is not None:
            await self._engine.dispose()


class RedisStore:
    """The shared store in Redis: counters with a TTL, claims with `SET NX PX`."""

    def __init__(self, url: str):
        import redis.asyncio

        self._redis = redis.asyncio.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    async def hit(self, key: str, window_seconds: float) -> Window:
        """Count one more hit of `key` in its window (SET NX PX, INCR, PTTL in one MULTI)."""
        import redis

        name = KEY_PREFIX + key
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.set(name, 0, px=max(1, int(window_seconds * 1000)), nx=True)
                pipe.incr(name)
                pipe.pttl(name)
                _, count, ttl_ms = await pipe.execute()
        except redis.RedisError as error:
            raise StoreUnavailable(type(error).__name__) from error
        return Window(int(count), max(0, int(ttl_ms)) / 1000)

    async def throttle(self, key: str, window_seconds: float) -> Window:
        """Count a request against a throughput limit (exact: one MULTI, as `hit`)."""
        return await self.hit(key, window_seconds)

    async def peek(self, key: str) -> Window:
        """The current window of `key` without counting."""
        import redis

        name = KEY_PREFIX + key
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.get(name)
                pipe.pttl(name)
                count, ttl_ms = await pipe.execute()
        except redis.RedisError as error:
            raise StoreUnavailable(type(error).__name__) from error
        if count is None:
            return Window(0, 0.0)
        return Window(int(count), max(0, int(ttl_ms)) / 1000)

    async def claim(self, key: str, ttl_seconds: float) -> bool:
        """True only for the first claim of `key` while it lives."""
        import redis

        try:
            claimed = await self._redis.set(
                KEY_PREFIX + key, 1, px=max(1, int(ttl_seconds * 1000)), nx=True
            )
        except redis.RedisError as error:
            raise StoreUnavailable(type(error).__name__) from error
        return bool(claimed)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()


def open_store(settings: Settings) -> SharedStore:
    """Redis when `LENDGATE_REDIS_URL` is set, otherwise the database, on a pool of its own.

    Requests count their hits while they hold a connection of the request pool; drawing
    the counters' connections from that pool too would let a burst of requests, each
    holding one connection and waiting for a second, exhaust it and stall every one of
    them. The store's own pool is only ever held for one short statement.
    """
    if settings.redis_url:
        return RedisStore(settings.redis_url)
    engine = create_engine(
        settings.resolved_database_url,
        pool_size=_STORE_POOL_SIZE,
        max_overflow=_STORE_POOL_SIZE,
        pool_timeout=settings.database_pool_timeout_seconds,
        connect_timeout=settings.database_connect_timeout_seconds,
    )
    return DatabaseStore(
        create_sessionmaker(engine), engine=engine, sync_seconds=settings.rate_limit_sync_seconds
    )
