"""Every query on one-time code challenges."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.borrowers.models import OtpChallenge


async def latest_open(
    session: AsyncSession, phone_index: str, purpose: str, consent_id: str | None
) -> OtpChallenge | None:
    """The newest unconsumed challenge for this phone and purpose."""
    query = (
        select(OtpChallenge)
        .where(
            OtpChallenge.phone_index == phone_index,
            OtpChallenge.purpose == purpose,
            OtpChallenge.consumed_at.is_(None),
        )
        .order_by(OtpChallenge.created_at.desc())
        .limit(1)
    )
    if consent_id is not None:
        query = query.where(OtpChallenge.consent_id == consent_id)
    return await session.scalar(query)


async def count_attempt(session: AsyncSession, challenge_id: str) -> None:
    """Add one wrong try to a challenge (in whichever transaction `session` is in)."""
    await session.execute(
        update(OtpChallenge)
        .where(OtpChallenge.id == challenge_id)
        .values(attempts=OtpChallenge.attempts + 1)
    )
