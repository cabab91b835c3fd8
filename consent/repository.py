"""Every query on consents, their data keys and receipts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from consent.models import Consent, ConsentKey, ConsentReceipt
from consent.states import ConsentStatus


async def get(
    session: AsyncSession, consent_id: str, *, for_update: bool = False
) -> Consent | None:
    """The consent, row-locked until the transaction ends when `for_update` (PostgreSQL)."""
    query = select(Consent).where(Consent.id == consent_id)
    if for_update:
        query = query.with_for_update()
    return await session.scalar(query)


async def get_with_key(
    session: AsyncSession, consent_id: str, *, for_update: bool = False
) -> tuple[Consent | None, ConsentKey | None]:
    """The consent and its data key row in one query (the consent's row locked as in `get`)."""
    query = (
        select(Consent, ConsentKey)
        .outerjoin(ConsentKey, ConsentKey.consent_id == Consent.id)
        .where(Consent.id == consent_id)
    )
    if for_update:
        query = query.with_for_update(of=Consent)
    row = (await session.execute(query)).one_or_none()
    return (None, None) if row is None else (row[0], row[1])


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


async def mark_expired(
    session: AsyncSession, consent_id: str, *, stored: ConsentStatus, ended_at: datetime
) -> bool:
    """Record the expiry if the consent is still stored as `stored`; whether this call did.

    A compare-and-swap: of any number of concurrent callers exactly one moves the
    row (PostgreSQL makes the others wait for its commit and then match nothing;
    SQLite has one writer at a time), so the expiry is written down once.
    """
    result = await session.execute(
        update(Consent)
        .where(Consent.id == consent_id, Consent.status == stored)
        .values(status=ConsentStatus.EXPIRED, ended_at=ended_at)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def due_for_expiry(session: AsyncSession, now: datetime, limit: int) -> Sequence[str]:
    """Consents stored as live whose time is up at `now` (oldest first)."""
    query = (
        select(Consent.id)
        .where(
            or_(
                and_(
                    Consent.status.in_([ConsentStatus.ACTIVE, ConsentStatus.PAUSED]),
                    Consent.valid_until <= now,
                ),
                and_(Consent.status == ConsentStatus.PENDING, Consent.request_expires_at <= now),
            )
        )
        .order_by(Consent.created_at, Consent.id)
        .limit(limit)
    )
    return (await session.scalars(query)).all()


async def add_receipt(session: AsyncSession, receipt: ConsentReceipt) -> None:
    """Keep a signed receipt."""
    session.add(receipt)
    await session.flush()


async def receipt_of(session: AsyncSession, consent_id: str, kind: str) -> ConsentReceipt | None:
    """The consent's receipt of `kind` (`consent`, `withdrawal`)."""
    query = select(ConsentReceipt).where(
        ConsentReceipt.consent_id == consent_id, ConsentReceipt.kind == kind
    )
    return await session.scalar(query)


async def receipts_for(session: AsyncSession, consent_id: str) -> Sequence[ConsentReceipt]:
    """Every receipt of the consent, oldest first."""
    query = (
        select(ConsentReceipt)
        .where(ConsentReceipt.consent_id == consent_id)
        .order_by(ConsentReceipt.issued_at, ConsentReceipt.id)
    )
    return (await session.scalars(query)).all()


def ids_with_product(product: str, lender_id: str | None = None) -> Select[str]:
    """The ids of consents asked under a lender's product `product` (of `lender_id`, if given).

    A query, not a result: other domains' reads (the audit log's) filter by it in place.
    """
    query = select(Consent.id).where(Consent.product == product)
    if lender_id is not None:
        query = query.where(Consent.lender_id == lender_id)
    return query
