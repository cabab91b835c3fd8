"""Appending to the audit log, inside the caller's transaction or in one of its own."""

from __future__ import annotations

import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.audit import repository
from gateway.audit.events import AuditEvent
from gateway.audit.merkle import canonical_json, leaf_hash
from gateway.audit.models import AuditEntry
from gateway.db import on_rollback, utcnow
from gateway.errors import AuditUnavailable

log = structlog.get_logger()


async def append(session: AsyncSession, event: AuditEvent) -> AuditEntry:
    """Add `event` to the log in the caller's transaction; it commits or vanishes with it."""
    try:
        seq = await repository.reserve_seq(session)
        now = utcnow()
        leaf = canonical_json(event.leaf(seq, now))
        entry = AuditEntry(
            seq=seq,
            ts=now,
            type=event.type,
            consent_id=event.consent_id,
            lender_id=event.lender_id,
            leaf=leaf.decode(),
            leaf_hash=leaf_hash(leaf).hex(),
        )
        session.add(entry)
        await session.flush()
    except SQLAlchemyError as error:
        log.error("audit.append_failed", event_type=event.type, error=type(error).__name__)
        raise AuditUnavailable() from error
    return entry


def append_if_refused(session: AsyncSession, *events: AuditEvent) -> None:
    """Record `events` if this request ends in a refusal (its own work is then rolled back)."""

    async def record(fresh: AsyncSession) -> None:
        for event in events:
            await append(fresh, event)

    on_rollback(session, record)
