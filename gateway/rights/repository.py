"""Every query of the borrower's rights: their consents' keys, releases and lenders at once."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from consent.models import Consent, ConsentKey
from gateway.borrowers.models import OtpChallenge
from gateway.clients.models import Client
from gateway.core.pagination import Page, keyset_page
from gateway.releases.models import Release


async def keys_of(session: AsyncSession, consent_ids: Collection[str]) -> dict[str, ConsentKey]:
    """The data key rows of these consents, by consent id."""
    if not consent_ids:
        return {}
    query = select(ConsentKey).where(ConsentKey.consent_id.in_(list(consent_ids)))
    return {key.consent_id: key for key in (await session.scalars(query)).all()}


async def releases_of(
    session: AsyncSession, consent_ids: Collection[str]
) -> dict[str, list[Release]]:
    """The releases under each of these consents, newest first, by consent id."""
    found: defaultdict[str, list[Release]] = defaultdict(list)
    if not consent_ids:
        return found
    query = (
        select(Release)
        .where(Release.consent_id.in_(list(consent_ids)))
        .order_by(Release.created_at.desc(), Release.id)
    )
    for release in (await session.scalars(query)).all():
        found[release.consent_id].append(release)
    return found


async def lender_names(session: AsyncSession, lender_ids: Collection[str]) -> dict[str, str]:
    """Display names of lenders, by id (the id itself for one no longer registered)."""
    names = {lender_id: lender_id for lender_id in lender_ids}
    if names:
        query = select(Client.id, Client.name).where(Client.id.in_(list(names)))
        names.update({row.id: row.name for row in (await session.execute(query)).all()})
    return names


async def accesses_for_phone(
    session: AsyncSession, phone_index: str, *, cursor: str | None, limit: int
) -> Page[Release]:
    """Releases under every consent naming this phone, newest first, from a cursor on."""
    query = (
        select(Release)
        .join(Consent, Consent.id == Release.consent_id)
        .where(Consent.phone_index == phone_index)
    )
    order = (Release.created_at, Release.id)
    return await keyset_page(session, query, order, cursor=cursor, limit=limit, newest_first=True)


async def codes_for_phone(session: AsyncSession, phone_index: str) -> Sequence[OtpChallenge]:
    """Every one-time code challenge of this phone, oldest first (for the borrower's export)."""
    query = (
        select(OtpChallenge)
        .where(OtpChallenge.phone_index == phone_index)
        .order_by(OtpChallenge.created_at, OtpChallenge.id)
    )
    return (await session.scalars(query)).all()
