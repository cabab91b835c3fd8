"""Every query on one-time code challenges and borrower sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.borrowers.models import LoginSession, OtpChallenge


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


async def get_session(session: AsyncSession, session_id: str) -> LoginSession | None:
    """The borrower session named `session_id`."""
    return await session.get(LoginSession, session_id)


async def revoke_session(session: AsyncSession, session_id: str, when: datetime) -> None:
    """End a borrower session (logout): its token and cookie stop working at once."""
    await session.execute(
        update(LoginSession)
        .where(LoginSession.id == session_id, LoginSession.revoked_at.is_(None))
        .values(revoked_at=when)
    )
