"""The security tables' periodic job: idempotency keys are deleted once their time is up.

A key is refused or replayed only until `expires_at`; past it the row is dead weight.
Several gateways may purge at once: each deletes what is expired, a second finds less.
"""

from __future__ import annotations

from typing import Protocol

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.core.clock import Clock
from gateway.core.db import unit_of_work
from gateway.core.settings import Settings
from gateway.security import idempotency

log = structlog.get_logger()


class JobContext(Protocol):
    """What the job needs of the gateway context (which lives in a layer above this one)."""

    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]: ...

    @property
    def clock(self) -> Clock: ...


def purge_interval(settings: Settings) -> float:
    """Seconds between purges of expired idempotency keys."""
    return settings.idempotency_purge_interval_seconds


async def purge_idempotency_keys(context: JobContext) -> int:
    """Delete the idempotency keys kept past their time; how many were deleted."""
    async with unit_of_work(context.sessionmaker) as session:
        purged = await idempotency.purge_expired(session, context.clock.now())
    if purged:
        log.info("idempotency.purged", keys=purged)
    return purged


JOBS = (("security.purge_idempotency_keys", purge_interval, purge_idempotency_keys),)
