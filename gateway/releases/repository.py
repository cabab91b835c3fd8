"""Every query on release records."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.releases.models import Release


async def count_for_consent(
    session: AsyncSession, consent_id: str, since: datetime | None = None
) -> int:
    """How many releases a consent has had (since `since`, when given)."""
    query = select(func.count()).select_from(Release).where(Release.consent_id == consent_id)
    if since is not None:
        query = query.where(Release.created_at >= since)
    return int(await session.scalar(query) or 0)


async def list_for_consent(session: AsyncSession, consent_id: str) -> Sequence[Release]:
    """A consent's releases, newest first."""
    query = (
        select(Release)
        .where(Release.consent_id == consent_id)
        .order_by(Release.created_at.desc(), Release.id)
    )
    return (await session.scalars(query)).all()


async def get(
    session: AsyncSession, release_id: str, *, for_update: bool = False
) -> Release | None:
    """One release record, row-locked until the transaction ends when `for_update` (PostgreSQL)."""
    query = select(Release).where(Release.id == release_id)
    if for_update:
        query = query.with_for_update()
    return await session.scalar(query)


async def overdue_attestations(
    session: AsyncSession,
    now: datetime,
    *,
    lender_id: str | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> Sequence[Release]:
    """Releases past their `delete_by` whose lender has not attested deletion, oldest deadline
    first, after a cursor position."""
    query = select(Release).where(Release.delete_by <= now, Release.deletion_attested_at.is_(None))
    if lender_id is not None:
        query = query.where(Release.lender_id == lender_id)
    if after is not None:
        at, release_id = after
        query = query.where(
            or_(Release.delete_by > at, and_(Release.delete_by == at, Release.id > release_id))
        )
    query = query.order_by(Release.delete_by, Release.id).limit(limit)
    return (await session.scalars(query)).all()
