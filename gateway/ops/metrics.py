"""The gauges that describe state, read when `/metrics` is scraped rather than on every request."""

from __future__ import annotations

import structlog
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import QueuePool

from connectors.resilience import BreakerState
from consent.notifications.models import ConsentNotification
from consent.notifications.rules import DeliveryStatus
from gateway.audit.models import AuditHead, AuditTreeHead
from gateway.core.clock import utcnow
from gateway.core.metrics import (
    AUDIT_SIGNED_HEAD_AGE,
    AUDIT_SIGNED_TREE_SIZE,
    AUDIT_TREE_SIZE,
    DB_POOL_CONNECTIONS,
    NOTIFICATION_BACKLOG,
    SOURCE_CIRCUIT_STATE,
)
from gateway.runtime.context import GatewayContext

log = structlog.get_logger()

BACKLOG_STATUSES = (DeliveryStatus.PENDING, DeliveryStatus.FAILED)


async def refresh(context: GatewayContext) -> None:
    """Set every state gauge from this process and the database (which may be down)."""
    for name, connector in context.connectors.items():
        current = connector.circuit
        for state in BreakerState:
            SOURCE_CIRCUIT_STATE.labels(name, state.value).set(int(state.value == current))
    pool = context.engine.sync_engine.pool
    if isinstance(pool, QueuePool):
        DB_POOL_CONNECTIONS.labels("in_use").set(pool.checkedout())
        DB_POOL_CONNECTIONS.labels("idle").set(pool.checkedin())
        DB_POOL_CONNECTIONS.labels("overflow").set(max(0, pool.overflow()))
        DB_POOL_CONNECTIONS.labels("limit").set(pool.size() + pool._max_overflow)
    try:
        await _refresh_stored(context)
    except SQLAlchemyError as error:
        # The database's own alerts say why; the gauges keep their last values.
        log.warning("metrics.database_unavailable", error=type(error).__name__)


async def _refresh_stored(context: GatewayContext) -> None:
    async with context.sessionmaker() as session:
        size = await session.scalar(select(AuditHead.size))
        latest = (
            await session.execute(
                select(AuditTreeHead.tree_size, AuditTreeHead.timestamp)
                .order_by(AuditTreeHead.tree_size.desc())
                .limit(1)
            )
        ).first()
        backlog = dict(
            (
                await session.execute(
                    select(ConsentNotification.status, func.count())
                    .where(ConsentNotification.status.in_(BACKLOG_STATUSES))
                    .group_by(ConsentNotification.status)
                )
            ).all()
        )
    AUDIT_TREE_SIZE.set(size or 0)
    if latest is None:
        AUDIT_SIGNED_TREE_SIZE.set(0)
        AUDIT_SIGNED_HEAD_AGE.set(0)
    else:
        AUDIT_SIGNED_TREE_SIZE.set(latest.tree_size)
        AUDIT_SIGNED_HEAD_AGE.set(max(0.0, utcnow().timestamp() - latest.timestamp / 1000))
    for status in BACKLOG_STATUSES:
        NOTIFICATION_BACKLOG.labels(status.value).set(backlog.get(status, 0))
