"""Each consent's data key: what it seals, opening it while the data is kept, shredding it.

Past its data life a key counts as destroyed before the sweep destroys it
(`consent.data_life`): every read goes through `data_key` or `unwrap`, so what
was deleted stays deleted.
"""

from __future__ import annotations

from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from consent import data_life, repository
from consent.events import consent_event
from consent.models import Consent, ConsentKey
from consent.schemas import BorrowerIdentity
from consent.views import status_now
from gateway.audit import service as audit_service
from gateway.crypto.envelope import field_context, new_data_key, open_sealed, seal
from gateway.runtime.context import GatewayContext

log = structlog.get_logger()


def new_key(
    context: GatewayContext, consent_id: str, identity: BorrowerIdentity
) -> tuple[ConsentKey, bytes]:
    """A fresh data key for a new consent, wrapped by the KEK, and the identity sealed under it."""
    key = new_data_key()
    sealed = seal(key, identity.model_dump_json().encode(), field_context(consent_id, "identity"))
    wrapped = context.keys.kms.wrap(key, consent_id.encode())
    return ConsentKey(consent_id=consent_id, wrapped_key=wrapped), sealed


def deleted_at(consent: Consent, key: ConsentKey | None, now: datetime) -> datetime | None:
    """When what the gateway kept about the consent was deleted; None while it is kept.

    That is when its key was shredded, or when its data life ended if that came first.
    """
    shredded_at = key.shredded_at if key is not None else None
    status = status_now(consent, now)
    if status not in data_life.ENDED:
        return shredded_at
    end = data_life.consent_data_life_end(
        status,
        approved=consent.artefact is not None,
        ended_at=consent.ended_at,
        valid_until=consent.valid_until,
        request_expires_at=consent.request_expires_at,
        last_delete_by=consent.last_delete_by,
    )
    return data_life.deleted_at(shredded_at, end, now)


def unwrap(
    context: GatewayContext, consent: Consent | None, key: ConsentKey | None, now: datetime
) -> bytes | None:
    """The data key of a loaded key row, or None once it was shredded or its data life ended."""
    if key is None or key.wrapped_key is None:
        return None
    if consent is not None and deleted_at(consent, key, now) is not None:
        return None
    return context.keys.kms.unwrap(key.wrapped_key, key.consent_id.encode())


async def data_key(session: AsyncSession, context: GatewayContext, consent_id: str) -> bytes | None:
    """The consent's data key, or None once it was shredded or its data life has ended."""
    key = await repository.get_key(session, consent_id)
    if key is None or key.wrapped_key is None:
        return None
    return unwrap(context, await session.get(Consent, consent_id), key, context.clock.now())


async def data_deleted_at(
    session: AsyncSession, consent: Consent, now: datetime
) -> datetime | None:
    """When what the gateway kept about the consent was deleted; None while it is kept."""
    return deleted_at(consent, await repository.get_key(session, consent.id), now)


def open_identity_with(key: bytes | None, consent: Consent) -> BorrowerIdentity | None:
    """The borrower's identity opened with the consent's data key; None without one."""
    if key is None or consent.identity_sealed is None:
        return None
    plaintext = open_sealed(key, consent.identity_sealed, field_context(consent.id, "identity"))
    return BorrowerIdentity.model_validate_json(plaintext)


async def open_identity(
    session: AsyncSession, context: GatewayContext, consent: Consent
) -> BorrowerIdentity | None:
    """The borrower's identity, decrypted for one use; None once the key was shredded."""
    return open_identity_with(await data_key(session, context, consent.id), consent)


async def shred(
    session: AsyncSession, consent: Consent, *, actor: str, reason: str, now: datetime
) -> None:
    """Destroy the consent's data key: everything sealed under it becomes unrecoverable.

    The ciphertexts stay where they are; without the key they are noise.
    """
    key = await repository.get_key(session, consent.id)
    if key is None or key.wrapped_key is None:
        return
    key.wrapped_key = None
    key.shredded_at = now
    await session.flush()
    await audit_service.append(
        session, consent_event(consent, "key.shredded", actor, reason=reason)
    )
    log.info("key.shredded", consent_id=consent.id, reason=reason)
