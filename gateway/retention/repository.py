"""Every query of key management: wrapped data keys, rotation markers, what keys still sign for."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, LargeBinary, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from consent.models import Consent, ConsentKey
from consent.states import ConsentStatus
from gateway.crypto.kms import kek_prefix
from gateway.releases.models import Release
from gateway.retention.models import KekRotation


def _wrapped_prefix(kek_id: str) -> ColumnElement[bytes]:
    """The leading bytes of each wrapped key, as long as `kek_id`'s header."""
    return func.substr(ConsentKey.wrapped_key, 1, len(kek_prefix(kek_id)), type_=LargeBinary)


async def unfinished_rotation(session: AsyncSession) -> KekRotation | None:
    """The KEK rotation still in progress, row-locked for this transaction (PostgreSQL)."""
    query = (
        select(KekRotation)
        .where(KekRotation.finished_at.is_(None))
        .order_by(KekRotation.created_at)
        .limit(1)
        .with_for_update()
    )
    return await session.scalar(query)


async def keys_not_wrapped_by(
    session: AsyncSession, kek_id: str, *, after: str | None, limit: int
) -> Sequence[tuple[str, bytes]]:
    """Up to `limit` live data keys wrapped by another KEK, in consent-id order after `after`."""
    query = (
        select(ConsentKey.consent_id, ConsentKey.wrapped_key)
        .where(
            ConsentKey.wrapped_key.is_not(None),
            _wrapped_prefix(kek_id) != kek_prefix(kek_id),
        )
        .order_by(ConsentKey.consent_id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(ConsentKey.consent_id > after)
    rows = (await session.execute(query)).all()
    return [(consent_id, wrapped) for consent_id, wrapped in rows if wrapped is not None]


async def swap_wrapped_key(
    session: AsyncSession, consent_id: str, *, expected: bytes, replacement: bytes
) -> bool:
    """Replace a wrapped key only if it is still `expected` (never revive a shredded key)."""
    result = await session.execute(
        update(ConsentKey)
        .where(ConsentKey.consent_id == consent_id, ConsentKey.wrapped_key == expected)
        .values(wrapped_key=replacement)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def count_wrapped_by(session: AsyncSession, kek_id: str) -> int:
    """How many live data keys `kek_id` still wraps."""
    query = (
        select(func.count())
        .select_from(ConsentKey)
        .where(ConsentKey.wrapped_key.is_not(None), _wrapped_prefix(kek_id) == kek_prefix(kek_id))
    )
    return int(await session.scalar(query) or 0)


async def artefacts_valid_after(session: AsyncSession, now: datetime) -> Sequence[str]:
    """Signed consent artefacts whose terms are still valid at `now`."""
    query = select(Consent.artefact).where(Consent.artefact.is_not(None), Consent.valid_until > now)
    return [artefact for artefact in (await session.scalars(query)).all() if artefact]


async def releases_kept(session: AsyncSession, *, signed_by: datetime, now: datetime) -> bool:
    """Whether a release made by `signed_by` may still be kept by its lender at `now`."""
    query = select(Release.id).where(Release.created_at <= signed_by, Release.delete_by > now)
    return (await session.scalar(query.limit(1))) is not None


async def consents_with_keys_past(session: AsyncSession, now: datetime) -> Sequence[Consent]:
    """Consents whose data key still exists though they may have ended by `now`."""
    query = (
        select(Consent)
        .join(ConsentKey, ConsentKey.consent_id == Consent.id)
        .where(
            ConsentKey.wrapped_key.is_not(None),
            or_(
                Consent.status.in_(
                    [ConsentStatus.EXPIRED, ConsentStatus.REVOKED, ConsentStatus.REJECTED]
                ),
                and_(
                    Consent.status.in_([ConsentStatus.ACTIVE, ConsentStatus.PAUSED]),
                    Consent.valid_until <= now,
                ),
                and_(Consent.status == ConsentStatus.PENDING, Consent.request_expires_at <= now),
            ),
        )
        .order_by(Consent.id)
    )
    return (await session.scalars(query)).all()


async def erase_overdue_copies(session: AsyncSession, now: datetime) -> int:
    """Erase the sealed copy of every release past its `delete_by`; how many were erased."""
    result = await session.execute(
        update(Release)
        .where(Release.delete_by <= now, Release.payload_sealed.is_not(None))
        .values(payload_sealed=None)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
