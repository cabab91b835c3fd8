"""Compliance reads of consents and release records (the report, overdue attestations)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from consent import repository as consent_repository
from consent.models import Consent
from gateway.audit.models import AuditEntry
from gateway.core.db import scalars_in
from gateway.core.pagination import Page, keyset_page
from gateway.releases.models import Release


async def consents(session: AsyncSession, consent_ids: Collection[str]) -> dict[str, Consent]:
    """Consents by id (their terms are immutable, so today's row is the row of any moment)."""
    found = await scalars_in(session, select(Consent), Consent.id, consent_ids)
    return {consent.id: consent for consent in found}


async def consent_ids_with_product(
    session: AsyncSession, product: str, lender_id: str | None = None
) -> set[str]:
    """The consents asked under a lender's product `product` (of `lender_id`, if given)."""
    return set(
        (await session.scalars(consent_repository.ids_with_product(product, lender_id))).all()
    )


async def releases_created_between(
    session: AsyncSession, since: datetime, until: datetime, lender_id: str | None = None
) -> Sequence[Release]:
    """Release records written in `[since, until)`."""
    return await _releases_in(session, Release.created_at, since, until, lender_id)


async def releases_due_between(
    session: AsyncSession, since: datetime, until: datetime, lender_id: str | None = None
) -> Sequence[Release]:
    """Releases whose data life (`delete_by`) ended in `[since, until)`."""
    return await _releases_in(session, Release.delete_by, since, until, lender_id)


async def _releases_in(
    session: AsyncSession,
    moment: InstrumentedAttribute[datetime],
    since: datetime,
    until: datetime,
    lender_id: str | None,
) -> Sequence[Release]:
    query = select(Release).where(moment >= since, moment < until)
    if lender_id is not None:
        query = query.where(Release.lender_id == lender_id)
    return (await session.scalars(query.order_by(Release.leaf_index))).all()


async def releases_at_leaves(
    session: AsyncSession, positions: Collection[int]
) -> Sequence[Release]:
    """Release records whose audit leaf is at one of `positions`."""
    return await scalars_in(session, select(Release), Release.leaf_index, positions)


async def overdue_attestations(
    session: AsyncSession,
    now: datetime,
    *,
    lender_id: str | None,
    cursor: str | None,
    limit: int,
) -> Page[Release]:
    """Releases past their `delete_by` whose lender has not attested deletion, oldest deadline
    first, from a cursor on."""
    query = select(Release).where(Release.delete_by <= now, Release.deletion_attested_at.is_(None))
    if lender_id is not None:
        query = query.where(Release.lender_id == lender_id)
    order = (Release.delete_by, Release.id)
    return await keyset_page(session, query, order, cursor=cursor, limit=limit)


async def product_set_entries(
    session: AsyncSession, lender_id: str | None = None
) -> Sequence[AuditEntry]:
    """The `admin.product_set` entries (of `lender_id`, if given), in log order."""
    query = select(AuditEntry).where(AuditEntry.type == "admin.product_set")
    if lender_id is not None:
        query = query.where(AuditEntry.lender_id == lender_id)
    return (await session.scalars(query.order_by(AuditEntry.seq))).all()
