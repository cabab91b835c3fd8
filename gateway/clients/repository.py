"""Every query on client registrations and spent assertions."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.clients.models import Client, ProductRegistration, UsedAssertion


async def get(session: AsyncSession, client_id: str, *, for_update: bool = False) -> Client | None:
    """The client registered as `client_id` (row-locked for an operator's change)."""
    return await session.get(Client, client_id, with_for_update=for_update or None)


async def list_all(session: AsyncSession) -> list[Client]:
    """Every registered client, oldest first."""
    return list((await session.scalars(select(Client).order_by(Client.created_at))).all())


async def spend_assertion(
    session: AsyncSession, client_id: str, jti: str, expires_at: datetime, now: datetime
) -> bool:
    """Record `jti` as used; False if it was used before (by any gateway process)."""
    await session.execute(delete(UsedAssertion).where(UsedAssertion.expires_at < now))
    try:
        async with session.begin_nested():
            session.add(UsedAssertion(client_id=client_id, jti=jti, expires_at=expires_at))
    except IntegrityError:
        return False
    return True


async def get_many(session: AsyncSession, client_ids: Collection[str]) -> Sequence[Client]:
    """Registered clients by id (the witnesses named in an audit export)."""
    if not client_ids:
        return []
    return (await session.scalars(select(Client).where(Client.id.in_(sorted(client_ids))))).all()


async def latest_product_registration(
    session: AsyncSession, client_id: str
) -> ProductRegistration | None:
    """The client's products registered last (the ones in force), if any."""
    query = (
        select(ProductRegistration)
        .where(ProductRegistration.client_id == client_id)
        .order_by(ProductRegistration.created_at.desc(), ProductRegistration.id.desc())
        .limit(1)
    )
    return (await session.scalars(query)).first()


async def product_registrations(
    session: AsyncSession, client_id: str
) -> Sequence[ProductRegistration]:
    """Every version of the client's registered products, oldest first."""
    query = (
        select(ProductRegistration)
        .where(ProductRegistration.client_id == client_id)
        .order_by(ProductRegistration.created_at, ProductRegistration.id)
    )
    return (await session.scalars(query)).all()
