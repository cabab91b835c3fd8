"""Every query on release records."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
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
