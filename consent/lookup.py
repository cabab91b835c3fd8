"""Finding a consent for the party asking: another party's is as unknown as a missing one."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from consent import repository
from consent.models import Consent, ConsentKey
from gateway.auth.dependencies import BorrowerPrincipal
from gateway.core.errors import ConsentNotFound


async def get_for_lender(
    session: AsyncSession, lender_id: str, consent_id: str, *, for_update: bool = False
) -> Consent:
    """The lender's own consent; another lender's is as unknown as a missing one."""
    consent = await repository.get(session, consent_id, for_update=for_update)
    if consent is None or consent.lender_id != lender_id:
        raise ConsentNotFound()
    return consent


async def get_for_lender_with_key(
    session: AsyncSession, lender_id: str, consent_id: str, *, for_update: bool = False
) -> tuple[Consent, ConsentKey | None]:
    """The lender's own consent and its data key row, read together."""
    consent, key = await repository.get_with_key(session, consent_id, for_update=for_update)
    if consent is None or consent.lender_id != lender_id:
        raise ConsentNotFound()
    return consent, key


async def get_for_borrower(
    session: AsyncSession, borrower: BorrowerPrincipal, consent_id: str, *, for_update: bool = False
) -> Consent:
    """A consent naming the borrower's phone; any other is unknown to them."""
    consent = await repository.get(session, consent_id, for_update=for_update)
    if consent is None or consent.phone_index != borrower.phone_index:
        raise ConsentNotFound()
    return consent
