"""Every query on the notification outbox."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from consent.notifications.models import ConsentNotification
from consent.notifications.rules import DeliveryStatus
from gateway.core.pagination import Page, keyset_page

Notification = ConsentNotification


async def next_seq(session: AsyncSession, consent_id: str) -> int:
    """The consent's next event number, from 1.

    Callers hold the consent row (they have just changed its state), so two
    transactions never number events of one consent at once; the unique
    (consent_id, seq) constraint refuses it if they ever did.
    """
    query = select(func.max(Notification.seq)).where(Notification.consent_id == consent_id)
    return int(await session.scalar(query) or 0) + 1


def _unleased(now: datetime) -> ColumnElement[bool]:
    return or_(Notification.leased_until.is_(None), Notification.leased_until <= now)


async def claim_due(
    session: AsyncSession,
    now: datetime,
    lease_until: datetime,
    *,
    lender_id: str | None,
    limit: int,
) -> list[Notification]:
    """Lease up to `limit` due notifications, each the oldest undelivered one of its consent.

    A later event of a consent waits while an earlier one is pending, so every
    receiver gets a consent's events in order. The lease (a compare-and-swap on
    `leased_until`) keeps two dispatchers, in any process, off the same row; a
    dispatcher that dies mid-delivery only delays the row until the lease ends.
    """
    earlier = aliased(Notification)
    waiting_behind = exists().where(
        earlier.consent_id == Notification.consent_id,
        earlier.seq < Notification.seq,
        earlier.status == DeliveryStatus.PENDING,
    )
    query = (
        select(Notification)
        .where(
            Notification.status == DeliveryStatus.PENDING,
            Notification.next_attempt_at <= now,
            _unleased(now),
            ~waiting_behind,
        )
        .order_by(Notification.next_attempt_at, Notification.consent_id, Notification.seq)
        .limit(limit)
    )
    if lender_id is not None:
        query = query.where(Notification.lender_id == lender_id)
    claimed = []
    for notification in (await session.scalars(query)).all():
        leased = await session.execute(
            update(Notification)
            .where(
                Notification.id == notification.id,
                Notification.status == DeliveryStatus.PENDING,
                _unleased(now),
            )
            .values(leased_until=lease_until)
            .execution_options(synchronize_session=False)
        )
        if leased.rowcount == 1:  # type: ignore[attr-defined]
            claimed.append(notification)
    return claimed


async def record_attempt(
    session: AsyncSession,
    notification_id: str,
    *,
    status: DeliveryStatus,
    attempts: int,
    at: datetime,
    next_attempt_at: datetime,
    error: str | None,
) -> None:
    """Write down one delivery attempt and release the lease."""
    await session.execute(
        update(Notification)
        .where(Notification.id == notification_id)
        .values(
            status=status,
            attempts=attempts,
            last_attempt_at=at,
            next_attempt_at=next_attempt_at,
            last_error=error,
            leased_until=None,
            delivered_at=at if status is DeliveryStatus.DELIVERED else None,
        )
        .execution_options(synchronize_session=False)
    )


async def list_for_lender(
    session: AsyncSession,
    lender_id: str,
    *,
    status: str | None,
    consent_id: str | None,
    cursor: str | None,
    limit: int,
) -> Page[Notification]:
    """The lender's notifications, oldest first, from a cursor on."""
    query = select(Notification).where(Notification.lender_id == lender_id)
    if status is not None:
        query = query.where(Notification.status == status)
    if consent_id is not None:
        query = query.where(Notification.consent_id == consent_id)
    order = (Notification.created_at, Notification.id)
    return await keyset_page(session, query, order, cursor=cursor, limit=limit)


async def list_for_consents(
    session: AsyncSession, consent_ids: Collection[str]
) -> Sequence[Notification]:
    """Every notification about these consents, in each consent's order."""
    if not consent_ids:
        return []
    query = (
        select(Notification)
        .where(Notification.consent_id.in_(list(consent_ids)))
        .order_by(Notification.consent_id, Notification.seq)
    )
    return (await session.scalars(query)).all()


async def kids_awaiting_delivery(session: AsyncSession) -> set[str]:
    """Signing keys of the notifications still to be delivered."""
    query = select(Notification.kid).where(Notification.status == DeliveryStatus.PENDING).distinct()
    return set((await session.scalars(query)).all())
