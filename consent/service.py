"""Consent decisions: requests, approvals with step-up, pauses, revocations, and their records."""

from __future__ import annotations

import json
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from consent import repository
from consent.models import Consent, ConsentKey
from consent.schemas import (
    Access,
    BorrowerConsentView,
    BorrowerIdentity,
    ConsentRequestCreate,
    ConsentTerms,
    Decision,
    Frequency,
    LenderConsentView,
    Notice,
)
from consent.states import ConsentAction, ConsentStatus, effective_status, event_type, transition
from gateway import jose, pseudonyms
from gateway.audit import service as audit_service
from gateway.audit.events import AuditEvent
from gateway.auth import BorrowerPrincipal, ClientPrincipal
from gateway.borrowers import service as borrowers_service
from gateway.clients import repository as clients_repository
from gateway.context import GatewayContext
from gateway.db import utcnow
from gateway.errors import ConsentNotFound, LendgateError
from gateway.protection import data_life
from gateway.protection import repository as protection_repository
from gateway.protection.envelope import field_context, new_data_key, open_sealed, seal
from gateway.protection.masking import mask_id_number, mask_name, mask_phone
from gateway.releases import repository as releases_repository
from policies import evaluation

log = structlog.get_logger()


def consent_event(consent: Consent, type_: str, actor: str, **fields: Any) -> AuditEvent:
    """An audit event about `consent`, carrying its identifiers and terms (never identity)."""
    fields.setdefault("features", tuple(consent.features))
    return AuditEvent(
        type=type_,
        actor=actor,
        consent_id=consent.id,
        lender_id=consent.lender_id,
        borrower_ref=consent.borrower_ref,
        purpose=consent.purpose,
        policy_version=consent.policy_version,
        **fields,
    )


def status_now(consent: Consent, now: datetime | None = None) -> ConsentStatus:
    """The consent's status with the clock applied."""
    return effective_status(
        ConsentStatus(consent.status),
        now or utcnow(),
        valid_until=consent.valid_until,
        request_expires_at=consent.request_expires_at,
    )


def terms_of(consent: Consent) -> ConsentTerms:
    """The consent's immutable terms."""
    return ConsentTerms(
        purpose=consent.purpose,
        features=list(consent.features),
        fetch_type=consent.fetch_type,
        frequency=Frequency.model_validate(
            {"unit": consent.frequency_unit, "value": consent.frequency_value}
        ),
        valid_from=consent.valid_from,
        valid_until=consent.valid_until,
        data_range_months=consent.data_range_months,
        data_life_days=consent.data_life_days,
        on_behalf_of=consent.on_behalf_of,
        callback_url=consent.callback_url,
    )


def approval_url(context: GatewayContext, consent_id: str) -> str:
    """Where the borrower reads and decides on the consent."""
    base = (context.settings.portal_url or context.settings.issuer).rstrip("/")
    return f"{base}/portal/consents/{consent_id}"


def lender_view(context: GatewayContext, consent: Consent) -> LenderConsentView:
    """What the requesting lender may see of a consent."""
    return LenderConsentView(
        consent_id=consent.id,
        status=status_now(consent),
        terms=terms_of(consent),
        borrower_ref=consent.borrower_ref,
        borrower_display=consent.borrower_display,
        approval_url=approval_url(context, consent.id),
        artefact=consent.artefact,
        use_count=consent.release_count,
        policy_version=consent.policy_version,
        created_at=consent.created_at,
        request_expires_at=consent.request_expires_at,
    )


async def request_consent(
    session: AsyncSession,
    context: GatewayContext,
    lender: ClientPrincipal,
    body: ConsentRequestCreate,
) -> Consent:
    """Record a consent request (`PENDING`) once its terms fit the purpose."""
    catalog = context.catalog
    actor = f"lender:{lender.client_id}"
    try:
        evaluation.check_terms(
            catalog,
            evaluation.ConsentTerms(
                purpose=body.purpose,
                features=tuple(body.features),
                fetch_type=body.fetch_type,
                frequency_unit=body.frequency.unit,
                frequency_value=body.frequency.value,
                valid_from=body.valid_from,
                valid_until=body.valid_until,
                data_range_months=body.data_range_months,
                data_life_days=body.data_life_days,
            ),
        )
    except LendgateError as refusal:
        # Only catalog names go on record: anything else in the request is the lender's text.
        audit_service.append_if_refused(
            session,
            AuditEvent(
                type="consent.request_denied",
                actor=actor,
                lender_id=lender.client_id,
                purpose=body.purpose if body.purpose in catalog.purposes else None,
                features=tuple(name for name in body.features if name in catalog.features),
                outcome="denied",
                reason=refusal.code,
                policy_version=catalog.version,
            ),
        )
        raise

    keys = context.keys
    identity = body.borrower
    consent_id = f"cns_{secrets.token_hex(12)}"
    borrower = pseudonyms.borrower_index(keys, identity.id_number)
    data_key = new_data_key()
    consent = Consent(
        id=consent_id,
        lender_id=lender.client_id,
        borrower_index=borrower,
        phone_index=pseudonyms.phone_index(keys, identity.phone),
        borrower_ref=pseudonyms.borrower_ref(keys, lender.client_id, borrower),
        identity_sealed=seal(
            data_key, identity.model_dump_json().encode(), field_context(consent_id, "identity")
        ),
        borrower_display={
            "name": mask_name(identity.name),
            "id_number": mask_id_number(identity.id_number),
            "phone": mask_phone(identity.phone),
        },
        purpose=body.purpose,
        features=list(dict.fromkeys(body.features)),
        fetch_type=body.fetch_type,
        frequency_unit=body.frequency.unit,
        frequency_value=body.frequency.value,
        valid_from=body.valid_from,
        valid_until=body.valid_until,
        data_range_months=body.data_range_months,
        data_life_days=body.data_life_days,
        on_behalf_of=body.on_behalf_of,
        callback_url=str(body.callback_url) if body.callback_url else None,
        policy_version=catalog.version,
        status=ConsentStatus.PENDING,
        request_expires_at=utcnow() + timedelta(hours=context.settings.pending_consent_ttl_hours),
    )
    session.add(consent)
    session.add(
        ConsentKey(consent_id=consent_id, wrapped_key=keys.kms.wrap(data_key, consent_id.encode()))
    )
    await session.flush()
    await audit_service.append(session, consent_event(consent, "consent.requested", actor))
    log.info("consent.requested", consent_id=consent_id, lender_id=lender.client_id)
    return consent


async def get_for_lender(
    session: AsyncSession, lender_id: str, consent_id: str, *, for_update: bool = False
) -> Consent:
    """The lender's own consent; another lender's is as unknown as a missing one."""
    consent = await repository.get(session, consent_id, for_update=for_update)
    if consent is None or consent.lender_id != lender_id:
        raise ConsentNotFound()
    return consent


async def get_for_borrower(
    session: AsyncSession, borrower: BorrowerPrincipal, consent_id: str, *, for_update: bool = False
) -> Consent:
    """A consent naming the borrower's phone; any other is unknown to them."""
    consent = await repository.get(session, consent_id, for_update=for_update)
    if consent is None or consent.phone_index != borrower.phone_index:
        raise ConsentNotFound()
    return consent


async def data_key(session: AsyncSession, context: GatewayContext, consent_id: str) -> bytes | None:
    """The consent's data key, or None once it was shredded or its data life has ended."""
    key = await repository.get_key(session, consent_id)
    if key is None or key.wrapped_key is None:
        return None
    # Past its data life the key counts as destroyed before the sweep destroys it.
    consent = await session.get(Consent, consent_id)
    if consent is not None and await data_deleted_at(session, consent) is not None:
        return None
    return context.keys.kms.unwrap(key.wrapped_key, consent_id.encode())


async def data_deleted_at(
    session: AsyncSession, consent: Consent, now: datetime | None = None
) -> datetime | None:
    """When what the gateway kept about the consent was deleted; None while it is kept.

    That is when its key was shredded, or when its data life ended if that came
    first (`gateway.protection.data_life`): reads treat it as deleted from then on.
    """
    now = now or utcnow()
    key = await repository.get_key(session, consent.id)
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
        last_delete_by=await protection_repository.last_delete_by(session, consent.id),
    )
    return data_life.deleted_at(shredded_at, end, now)


async def open_identity(
    session: AsyncSession, context: GatewayContext, consent: Consent
) -> BorrowerIdentity | None:
    """The borrower's identity, decrypted for one use; None once the key was shredded."""
    key = await data_key(session, context, consent.id)
    if key is None or consent.identity_sealed is None:
        return None
    plaintext = open_sealed(key, consent.identity_sealed, field_context(consent.id, "identity"))
    return BorrowerIdentity.model_validate_json(plaintext)


async def borrower_decides(
    session: AsyncSession,
    context: GatewayContext,
    borrower: BorrowerPrincipal,
    consent_id: str,
    action: ConsentAction,
    code: str | None = None,
) -> Decision:
    """Apply the borrower's decision; approving needs the step-up code sent for this consent."""
    consent = await get_for_borrower(session, borrower, consent_id, for_update=True)
    after = transition(status_now(consent), action)
    if action is ConsentAction.APPROVE:
        try:
            await borrowers_service.check_code(
                session,
                context,
                phone_index=borrower.phone_index,
                purpose="approve",
                consent_id=consent.id,
                code=code or "",
            )
        except LendgateError as refusal:
            audit_service.append_if_refused(
                session,
                consent_event(
                    consent,
                    "consent.approval_failed",
                    "borrower",
                    outcome="denied",
                    reason=refusal.code,
                ),
            )
            raise
    return await _apply(session, context, consent, after, actor="borrower")


async def lender_revokes(
    session: AsyncSession, context: GatewayContext, lender: ClientPrincipal, consent_id: str
) -> Decision:
    """The lender ends its own consent."""
    consent = await get_for_lender(session, lender.client_id, consent_id, for_update=True)
    after = transition(status_now(consent), ConsentAction.REVOKE)
    return await _apply(session, context, consent, after, actor=f"lender:{lender.client_id}")


async def _apply(
    session: AsyncSession,
    context: GatewayContext,
    consent: Consent,
    after: ConsentStatus,
    *,
    actor: str,
    shred_reason: str | None = None,
) -> Decision:
    before = ConsentStatus(consent.status)
    now = utcnow()
    consent.status = after
    receipt = None
    if before is ConsentStatus.PENDING:
        consent.decided_at = now
    if after is ConsentStatus.ACTIVE and before is ConsentStatus.PENDING:
        consent.artefact = await _sign_artefact(session, context, consent, now)
        receipt = await consent_receipt(session, context, consent, now)
    if after in (ConsentStatus.REVOKED, ConsentStatus.REJECTED, ConsentStatus.EXPIRED):
        consent.ended_at = now
    await session.flush()
    await audit_service.append(session, consent_event(consent, event_type(before, after), actor))
    if after in (ConsentStatus.REVOKED, ConsentStatus.REJECTED):
        await shred(
            session, consent, actor=actor, reason=shred_reason or f"consent {after.lower()}"
        )
    log.info("consent.transition", consent_id=consent.id, before=before, after=after)
    return Decision(consent_id=consent.id, status=after, artefact=consent.artefact, receipt=receipt)


async def shred(session: AsyncSession, consent: Consent, *, actor: str, reason: str) -> None:
    """Destroy the consent's data key: everything sealed under it becomes unrecoverable.

    The ciphertexts stay where they are; without the key they are noise.
    """
    key = await repository.get_key(session, consent.id)
    if key is None or key.wrapped_key is None:
        return
    key.wrapped_key = None
    key.shredded_at = utcnow()
    await session.flush()
    await audit_service.append(
        session, consent_event(consent, "key.shredded", actor, reason=reason)
    )
    log.info("key.shredded", consent_id=consent.id, reason=reason)


async def borrower_requests_deletion(
    session: AsyncSession, context: GatewayContext, borrower: BorrowerPrincipal, consent_id: str
) -> Consent:
    """Delete what the gateway keeps about the borrower under this consent (PIPL Art. 47).

    A consent still in force ends first (active or paused: revoked; pending:
    rejected); then its data key is destroyed. Asking again changes nothing.
    """
    consent = await get_for_borrower(session, borrower, consent_id, for_update=True)
    reason = "deletion requested by the borrower"
    status = status_now(consent)
    if status in (ConsentStatus.ACTIVE, ConsentStatus.PAUSED, ConsentStatus.PENDING):
        action = ConsentAction.REJECT if status is ConsentStatus.PENDING else ConsentAction.REVOKE
        after = transition(status, action)
        await _apply(session, context, consent, after, actor="borrower", shred_reason=reason)
    await shred(session, consent, actor="borrower", reason=reason)
    return consent


async def _sign_artefact(
    session: AsyncSession, context: GatewayContext, consent: Consent, approved_at: datetime
) -> str:
    """The signed consent artefact: the immutable terms, by the gateway's key."""
    terms = json.loads(terms_of(consent).model_dump_json())
    return jose.sign_jwt(
        {
            "iss": "lendgate",
            "sub": consent.id,
            "aud": consent.lender_id,
            "iat": int(approved_at.timestamp()),
            "nbf": int(consent.valid_from.timestamp()),
            "exp": int(consent.valid_until.timestamp()),
            "borrower_ref": consent.borrower_ref,
            "terms": terms,
            "policy_version": consent.policy_version,
        },
        context.keys.signing_key.private_key,
        context.keys.signing_key.kid,
        typ="consent+jwt",
    )


async def consent_receipt(
    session: AsyncSession, context: GatewayContext, consent: Consent, at: datetime
) -> dict[str, Any]:
    """A consent receipt for the borrower (after ISO/IEC TS 27560 and Kantara receipts)."""
    purpose = context.catalog.purposes[consent.purpose]
    lender = await clients_repository.get(session, consent.lender_id)
    controllers: list[dict[str, str | None]] = [
        {"id": consent.lender_id, "name": lender.name if lender else consent.lender_id}
    ]
    if consent.on_behalf_of:
        controllers.append(
            {"id": None, "name": consent.on_behalf_of, "role": "funding_institution"}
        )
    return {
        "receipt_id": str(uuid.uuid4()),
        "version": "lendgate-receipt/1",
        "jurisdiction": "CN",
        "consent_timestamp": at.isoformat(),
        "collection_method": "borrower portal, confirmed by one-time code",
        "principal": {"pseudonym": consent.borrower_ref},
        "controllers": controllers,
        "purpose": {
            "code": purpose.code,
            "title": purpose.title.as_dict(),
            "text": purpose.notice.as_dict(),
        },
        "data_categories": list(consent.features),
        "sources": sorted(
            {
                source
                for name in consent.features
                for source in context.catalog.features[name].sources
            }
        ),
        "retention_days": consent.data_life_days,
        "valid_from": consent.valid_from.isoformat(),
        "valid_until": consent.valid_until.isoformat(),
        "withdrawal": f"POST /v1/borrower/consents/{consent.id}/revoke, or the portal",
        "policy_version": consent.policy_version,
        # The newest audit tree head a regulator co-signed: the log this receipt's
        # events go into, as independently witnessed (None until one co-signs).
        "audit_tree_head": await audit_service.latest_cosigned_head(session),
    }


async def borrower_view(
    session: AsyncSession, context: GatewayContext, consent: Consent
) -> BorrowerConsentView:
    """Who, what, from where, why, how long — and every access made, in the borrower's terms."""
    catalog = context.catalog
    purpose = catalog.purposes.get(consent.purpose)
    lender = await clients_repository.get(session, consent.lender_id)
    now = utcnow()
    dek = await data_key(session, context, consent.id)
    accesses = []
    for release in await releases_repository.list_for_consent(session, consent.id):
        values = None
        copy_kept = data_life.copy_deleted_at(release.delete_by, now) is None
        if dek is not None and copy_kept and release.payload_sealed is not None:
            sealed_for = field_context(consent.id, f"release:{release.id}")
            values = json.loads(open_sealed(dek, release.payload_sealed, sealed_for))
        accesses.append(
            Access(
                release_id=release.id,
                released_at=release.created_at,
                features=list(release.features),
                delete_by=release.delete_by,
                values=values,
            )
        )
    features = [catalog.features[name] for name in consent.features if name in catalog.features]
    return BorrowerConsentView(
        consent_id=consent.id,
        status=status_now(consent),
        lender={"id": consent.lender_id, "name": lender.name if lender else consent.lender_id},
        on_behalf_of=consent.on_behalf_of,
        notice=Notice(
            title=purpose.title.as_dict() if purpose else {},
            text=purpose.notice.as_dict() if purpose else {},
            features=[
                {
                    "name": feature.name,
                    "description": feature.description.as_dict(),
                    "sources": list(feature.sources),
                }
                for feature in features
            ],
            sources=sorted({source for feature in features for source in feature.sources}),
        ),
        terms=terms_of(consent),
        created_at=consent.created_at,
        decided_at=consent.decided_at,
        ended_at=consent.ended_at,
        data_deleted_at=await data_deleted_at(session, consent, now),
        accesses=accesses,
    )
