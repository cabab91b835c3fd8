"""Every query on consents and their data keys."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from consent.models import Consent, ConsentKey


async def get(
    session: AsyncSession, consent_id: str, *, for_update: bool = False
) -> Consent | None:
    """The consent, row-locked until the transaction ends when `for_update` (PostgreSQL)."""
    query = select(Consent).where(Consent.id == consent_id)
    if for_update:
        query = query.with_for_update()
    return await session.scalar(query)


async def list_for_phone(session: AsyncSession, phone_index: str) -> Sequence[Consent]:
    """Every consent naming this phone, newest first."""
    query = (
        select(Consent)
        .where(Consent.phone_index == phone_index)
        .order_by(Consent.created_at.desc(), Consent.id)
    )
    return (await session.scalars(query)).all()


async def get_key(session: AsyncSession, consent_id: str) -> ConsentKey | None:
    """The consent's wrapped data key row."""
    return await session.get(ConsentKey, consent_id)
