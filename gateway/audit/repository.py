"""Every query on the audit tables."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.audit.models import AuditEntry, AuditHead

HEAD_ID = 1


async def reserve_seq(session: AsyncSession) -> int:
    """Take the next sequence number, holding the head row's lock until the transaction ends.

    The row lock is what serializes appends across every gateway process; a
    rolled-back transaction gives its number back, so the log has no gaps.
    """
    size = await session.scalar(
        update(AuditHead)
        .where(AuditHead.id == HEAD_ID)
        .values(size=AuditHead.size + 1)
        .returning(AuditHead.size)
    )
    if size is None:
        raise RuntimeError("audit head row is missing; run the migrations")
    return int(size) - 1


async def list_entries(
    session: AsyncSession,
    *,
    after: int | None,
    limit: int,
    lender_id: str | None = None,
    consent_id: str | None = None,
    event_type: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Sequence[AuditEntry]:
    """Entries in log order matching the filters, after the cursor."""
    query = select(AuditEntry).order_by(AuditEntry.seq).limit(limit)
    if after is not None:
        query = query.where(AuditEntry.seq > after)
    if lender_id is not None:
        query = query.where(AuditEntry.lender_id == lender_id)
    if consent_id is not None:
        query = query.where(AuditEntry.consent_id == consent_id)
    if event_type is not None:
        query = query.where(AuditEntry.type == event_type)
    if since is not None:
        query = query.where(AuditEntry.ts >= since)
    if until is not None:
        query = query.where(AuditEntry.ts < until)
    return (await session.scalars(query)).all()


async def entries_for_consent(session: AsyncSession, consent_id: str) -> Sequence[AuditEntry]:
    """Every entry about one consent, in log order."""
    query = select(AuditEntry).where(AuditEntry.consent_id == consent_id).order_by(AuditEntry.seq)
    return (await session.scalars(query)).all()
