"""Database engine, sessions and the declarative base every domain's models share."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, TypeVar

import structlog
from fastapi import Depends, Request
from sqlalchemy import DateTime, Enum, MetaData, Select, event
from sqlalchemy.engine import Dialect
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, InstrumentedAttribute, Mapped, mapped_column
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator

from gateway.core.clock import utcnow
from gateway.core.errors import RateLimited
from gateway.core.logging import RateLimitedLog

log = structlog.get_logger()
outage_log = RateLimitedLog(interval_seconds=1.0)
"""Database outages: at most one line a second, the rest counted in the next line."""

Row = TypeVar("Row")
Key = TypeVar("Key", str, int)

# Keeps every IN list well under SQLite's and asyncpg's bound-parameter limits.
_IN_CHUNK = 500

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite keeps no zone, so values are normalised to UTC on the way in and
    marked UTC on the way out; PostgreSQL stores `timestamptz`.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def string_enum(enum_type: type[StrEnum]) -> Enum:
    """A column of `enum_type` stored as its plain values in a VARCHAR(16), no database enum."""
    return Enum(
        enum_type,
        native_enum=False,
        length=16,
        values_callable=lambda members: [member.value for member in members],
    )


class Base(DeclarativeBase):
    """Declarative base with a naming convention, so migrations name constraints stably."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime}


class CreatedAt:
    """Mixin: the row's creation time."""

    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def _configure_sqlite(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers and one writer proceed together; the busy timeout makes a
    # second writer wait for the first instead of failing at once.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def create_engine(
    url: str,
    *,
    pool_size: int = 10,
    max_overflow: int = 20,
    pool_timeout: float = 30.0,
    connect_timeout: float = 10.0,
) -> AsyncEngine:
    """An async engine for `url`, tuned for the embedded or the server database.

    The pool sizes apply to the server database; SQLite serializes writers on its file.
    Connections are opened within `connect_timeout`. No pre-ping: it would cost every
    request three round trips (BEGIN, a ping, ROLLBACK). A connection that turns out dead
    raises a disconnect error, which invalidates every connection the pool held before it,
    so the next requests connect afresh and a restarted server is used again without
    restarting the gateway.
    """
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 10})
        event.listen(engine.sync_engine, "connect", _configure_sqlite)
        return engine
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout,
        connect_args={"timeout": connect_timeout},
    )
    event.listen(engine.sync_engine, "do_connect", _connect_or_outage)
    return engine


def _connect_or_outage(
    dialect: Dialect, _record: ConnectionPoolEntry, cargs: list[Any], cparams: dict[str, Any]
) -> DBAPIConnection:
    """Open a connection; a refused or timed-out socket becomes the driver's OperationalError,
    which SQLAlchemy reports as `OperationalError` like every other outage."""
    try:
        return dialect.connect(*cargs, **cparams)
    except (OSError, TimeoutError) as error:
        raise dialect.loaded_dbapi.OperationalError(
            f"cannot connect: {type(error).__name__}", error
        ) from error


OUTAGE_ERRORS = (OperationalError, InterfaceError, PoolTimeout)
"""The database did not answer (down, restarting, unreachable, pool exhausted)."""


def is_outage(error: BaseException) -> bool:
    """Whether `error` (or what caused it) says the database is not answering."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, OUTAGE_ERRORS) or (
            isinstance(seen, DBAPIError) and seen.connection_invalidated
        ):
            return True
        seen = seen.__cause__
    return False


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def is_postgres(session: AsyncSession) -> bool:
    """Whether the session talks to PostgreSQL (row locks and advisory locks exist)."""
    return session.get_bind().dialect.name == "postgresql"


async def scalars_in(
    session: AsyncSession,
    query: Select[Row],
    column: InstrumentedAttribute[Any],
    values: Collection[Key],
) -> list[Row]:
    """The rows `query` finds with `column` in `values`, asked for a few hundred values at a time.

    Chunks go in ascending order of the values, each in the query's own order.
    """
    wanted = sorted(set(values))
    found: list[Row] = []
    for at in range(0, len(wanted), _IN_CHUNK):
        chunk = query.where(column.in_(wanted[at : at + _IN_CHUNK]))
        found.extend((await session.scalars(chunk)).all())
    return found


@asynccontextmanager
async def unit_of_work(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """A transaction of its own, for work no request carries: committed if the block
    succeeds, rolled back if it raises."""
    async with sessionmaker() as session, session.begin():
        yield session


RollbackHook = Callable[[AsyncSession], Awaitable[None]]
ON_ROLLBACK = "lendgate.on_rollback"


def on_rollback(session: AsyncSession, hook: RollbackHook) -> None:
    """Run `hook` in a fresh transaction if the request's own work is rolled back.

    For what must stay on record when a request is refused: the refusal's audit
    event, a wrong one-time code's attempt count. The hook runs after the
    rollback, so it never waits on locks the failed work was holding.
    """
    session.info.setdefault(ON_ROLLBACK, []).append(hook)


async def _run_rollback_hooks(session: AsyncSession) -> None:
    hooks: list[RollbackHook] = session.info.pop(ON_ROLLBACK, [])
    if not hooks:
        return
    try:
        for hook in hooks:
            await hook(session)
        await session.commit()
    except SQLAlchemyError as error:
        await session.rollback()
        if is_outage(error):
            outage_log.failure("db.rollback_hook_failed", error)
        else:
            log.error("db.rollback_hook_failed", error=type(error).__name__)


class Admission:
    """How many requests of this process work on the database at once.

    Past that, a request waits its turn for `wait_seconds`, then is refused `RateLimited`
    (429, Retry-After) at once: under a burst larger than the process can serve, clients
    get a prompt answer to retry, never a timeout, and the requests admitted keep the
    pool's connections (and its overflow, for jobs) to themselves.
    """

    def __init__(self, limit: int, wait_seconds: float):
        self.limit = limit
        self.wait_seconds = wait_seconds
        self._slots = asyncio.Semaphore(limit)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the process's database slots, or `RateLimited` after the wait."""
        try:
            async with asyncio.timeout(self.wait_seconds):
                await self._slots.acquire()
        except TimeoutError:
            raise RateLimited(
                "The gateway is serving as many requests as it can; retry after the time given.",
                headers={"Retry-After": "1"},
            ) from None
        try:
            yield
        finally:
            self._slots.release()


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's unit of work: committed when the endpoint succeeds, rolled back otherwise.

    The request first takes one of the process's database slots (`Admission`).
    """
    context = request.app.state.context
    sessionmaker: async_sessionmaker[AsyncSession] = context.sessionmaker
    admission: Admission = context.admission
    async with admission.slot(), sessionmaker() as session:
        try:
            yield session
        except Exception:
            await session.rollback()
            await _run_rollback_hooks(session)
            raise
        except BaseException:
            await session.rollback()
            raise
        else:
            session.info.pop(ON_ROLLBACK, None)
            await session.commit()


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
