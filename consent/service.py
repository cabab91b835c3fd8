"""Consent decisions: requests, approvals with step-up, pauses, revocations, expiry, and records.

Every transition is one transaction holding the consent's row: the new state,
its audit event, the lender's signed notification (outbox) and, where one is
due, the borrower's signed receipt commit together or not at all.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timedelta
from typing import Any

import structlog
from lendgate_sdk.claims import (
    ARTEFACT_TYPE,
    ISSUER,
    RECEIPT_TYPE,
    ConsentArtefactClaims,
    ConsentReceiptClaims,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from connectors.schemas import SOURCE_TITLES
from consent import data_life, repository
from consent import receipts as receipt_claims
from consent.models import Consent, ConsentKey, ConsentReceipt
from consent.notice import NoticeTerms, summary, withdrawal
from consent.notifications import service as notifications_service
from consent.notifications.rules import callback_url_problem
from consent.schemas import (
    Access,
    BorrowerConsentView,
    BorrowerIdentity,
    ConsentReceipts,
    ConsentRequestCreate,
    ConsentTerms,
    Decision,
    Frequency,
    LenderConsentView,
    Notice,
    ReceiptView,
)
from consent.states import (
    ENDED,
    ConsentAction,
    ConsentStatus,
    decide,
    effective_status,
    event_type,
    expired_at,
    state_error,
)
from gateway.audit import service as audit_service
from gateway.audit.events import AuditEvent
from gateway.auth.dependencies import BorrowerPrincipal, ClientPrincipal
from gateway.borrowers import service as borrowers_service
from gateway.clients import repository as clients_repository
from gateway.core.db import on_rollback, utcnow
from gateway.core.errors import ConsentNotFound, InvalidRequest, LendgateError
from gateway.crypto import jose, pseudonyms
from gateway.crypto.envelope import field_context, new_data_key, open_sealed, seal
from gateway.privacy.masking import mask_id_number, mask_name, mask_phone
from gateway.releases import repository as releases_repository
from gateway.retention import repository as protection_repository
from gateway.runtime.context import GatewayContext
from policies import evaluation

log = structlog.get_logger()

GATEWAY_ACTOR = "gateway"


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
    return f"{portal_base(context)}/portal/consents/{consent_id}"


def portal_base(context: GatewayContext) -> str:
    """The base URL of the borrower portal."""
    return (context.settings.portal_url or context.settings.issuer).rstrip("/")


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


# --- requests ------------------------------------------------------------------------


def requested_terms(body: ConsentRequestCreate) -> dict[str, Any]:
    """The request's terms except features, flat, as the policy check and the row take them."""
    return {
        "purpose": body.purpose,
        "fetch_type": body.fetch_type,
        "frequency_unit": body.frequency.unit,
        "frequency_value": body.frequency.value,
        "valid_from": body.valid_from,
        "valid_until": body.valid_until,
        "data_range_months": body.data_range_months,
        "data_life_days": body.data_life_days,
    }


async def request_consent(
    session: AsyncSession,
    context: GatewayContext,
    lender: ClientPrincipal,
    body: ConsentRequestCreate,
) -> Consent:
    """Record a consent request (`PENDING`) once its terms fit the purpose."""
    catalog = context.catalog
    actor = f"lender:{lender.client_id}"
    now = utcnow()
    terms = requested_terms(body)
    try:
        check_request(context, body, now)
        evaluation.check_terms(
            catalog, evaluation.ConsentTerms(**terms, features=tuple(body.features))
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
    # A request nobody answers lapses after the configured wait, and never outlives its window.
    waits_until = now + timedelta(hours=context.settings.pending_consent_ttl_hours)
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
        **terms,
        features=list(dict.fromkeys(body.features)),
        on_behalf_of=body.on_behalf_of,
        callback_url=str(body.callback_url) if body.callback_url else None,
        policy_version=catalog.version,
        status=ConsentStatus.PENDING,
        request_expires_at=min(waits_until, body.valid_until),
        created_at=now,
    )
    session.add(consent)
    session.add(
        ConsentKey(consent_id=consent_id, wrapped_key=keys.kms.wrap(data_key, consent_id.encode()))
    )
    await session.flush()
    await audit_service.append(session, consent_event(consent, "consent.requested", actor))
    await notifications_service.enqueue(
        session,
        context,
        consent,
        event="consent.requested",
        previous_status=None,
        actor=actor,
        at=now,
    )
    log.info("consent.requested", consent_id=consent_id, lender_id=lender.client_id)
    return consent


def check_request(context: GatewayContext, body: ConsentRequestCreate, now: datetime) -> None:
    """Refuse requests no purpose could make valid: a window already over, a bad callback."""
    if body.valid_until <= now:
        raise InvalidRequest("`valid_until` has already passed.")
    if body.callback_url is not None:
        problem = callback_url_problem(
            str(body.callback_url), development=context.settings.is_development
        )
        if problem is not None:
            raise InvalidRequest(problem)


# --- finding consents ----------------------------------------------------------------


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


# --- expiry --------------------------------------------------------------------------


async def settle(
    session: AsyncSession, context: GatewayContext, consent: Consent, now: datetime | None = None
) -> ConsentStatus:
    """The consent's status at `now`, for an action holding its row; an expiry found is recorded.

    Expiry needs no job to be right (`status_now` applies the clock), but it must
    be on record: the first read or action that finds the consent expired writes
    `EXPIRED`, the `consent.expired` event and the lender's notification, once.
    Here it is written in the action's transaction; if the action is then refused
    and rolled back, it is written again in a transaction of its own.
    """
    now = now or utcnow()
    status = status_now(consent, now)
    if status is ConsentStatus.EXPIRED and consent.status != ConsentStatus.EXPIRED:
        consent_id = consent.id

        async def record_if_refused(fresh: AsyncSession) -> None:
            again = await repository.get(fresh, consent_id)
            if again is not None:
                await record_expiry(fresh, context, again, now)

        on_rollback(session, record_if_refused)
        await record_expiry(session, context, consent, now)
    return status


async def settle_for_read(
    session: AsyncSession, context: GatewayContext, consent: Consent, now: datetime | None = None
) -> ConsentStatus:
    """`settle` for a read that holds no lock: the expiry commits at once, on its own.

    A read never keeps the consent's row (or the audit log's head) locked while it
    goes on to other consents, so concurrent reads and releases cannot wait on
    each other in a circle. Call it before the read writes anything itself.
    """
    now = now or utcnow()
    status = status_now(consent, now)
    if status is ConsentStatus.EXPIRED and consent.status != ConsentStatus.EXPIRED:
        async with context.sessionmaker() as own, own.begin():
            fresh = await repository.get(own, consent.id)
            if fresh is not None:
                await record_expiry(own, context, fresh, now)
        await session.refresh(consent)
    return status


async def record_expiry(
    session: AsyncSession, context: GatewayContext, consent: Consent, now: datetime
) -> bool:
    """Write down that the consent expired; whether this call did (False: not due, or done).

    Safe to race: a compare-and-swap on the stored status lets exactly one caller write.
    """
    stored = ConsentStatus(consent.status)
    if stored is ConsentStatus.EXPIRED or status_now(consent, now) is not ConsentStatus.EXPIRED:
        return False
    moment = expired_at(
        stored, valid_until=consent.valid_until, request_expires_at=consent.request_expires_at
    )
    if not await repository.mark_expired(session, consent.id, stored=stored, ended_at=moment):
        await session.refresh(consent)
        return False
    set_committed_value(consent, "status", ConsentStatus.EXPIRED)
    set_committed_value(consent, "ended_at", moment)
    reason = (
        "the request was not answered in time"
        if stored is ConsentStatus.PENDING
        else "the validity window ended"
    )
    await audit_service.append(
        session, consent_event(consent, "consent.expired", GATEWAY_ACTOR, reason=reason)
    )
    await notifications_service.enqueue(
        session,
        context,
        consent,
        event="consent.expired",
        previous_status=stored,
        actor=GATEWAY_ACTOR,
        at=now,
        occurred_at=moment,
    )
    log.info("consent.expired", consent_id=consent.id, was=stored)
    return True


async def expire_due(
    context: GatewayContext, now: datetime | None = None, limit: int = 100
) -> list[str]:
    """Record up to `limit` expiries nobody has come across yet, each in its own transaction.

    Not needed for correctness: it makes the lender's `consent.expired`
    notification leave when the consent expires, not when someone next looks.
    """
    now = now or utcnow()
    async with context.sessionmaker() as session:
        due = await repository.due_for_expiry(session, now, limit)
    recorded = []
    for consent_id in due:
        async with context.sessionmaker() as session, session.begin():
            consent = await repository.get(session, consent_id)
            if consent is not None and await record_expiry(session, context, consent, now):
                recorded.append(consent_id)
    return recorded


# --- decisions -----------------------------------------------------------------------


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
    now = utcnow()
    after = decide(await settle(session, context, consent, now), action)
    if action is ConsentAction.APPROVE and after is not None:
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
    return await _apply(session, context, consent, action, actor="borrower", now=now)


async def lender_revokes(
    session: AsyncSession, context: GatewayContext, lender: ClientPrincipal, consent_id: str
) -> Decision:
    """The lender ends its own consent."""
    consent = await get_for_lender(session, lender.client_id, consent_id, for_update=True)
    now = utcnow()
    await settle(session, context, consent, now)
    actor = f"lender:{lender.client_id}"
    return await _apply(session, context, consent, ConsentAction.REVOKE, actor=actor, now=now)


async def _apply(
    session: AsyncSession,
    context: GatewayContext,
    consent: Consent,
    action: ConsentAction,
    *,
    actor: str,
    now: datetime,
    shred_reason: str | None = None,
) -> Decision:
    before = ConsentStatus(consent.status)
    after = decide(before, action)
    if after is None:
        return await _repeat(session, consent, action)
    consent.status = after
    if before is ConsentStatus.PENDING:
        consent.decided_at = now
    if after in ENDED:
        consent.ended_at = now
    given = before is ConsentStatus.PENDING and after is ConsentStatus.ACTIVE
    if given:
        consent.artefact = await _sign_artefact(session, context, consent, now)
    await session.flush()
    event = event_type(before, after)
    await audit_service.append(session, consent_event(consent, event, actor))
    receipt = None
    if given:
        receipt = await _keep_receipt(
            session, context, consent, await consent_receipt(session, context, consent, now), now
        )
    elif after is ConsentStatus.REVOKED:
        receipt = await _withdrawal_receipt(session, context, consent, actor, now)
    await notifications_service.enqueue(
        session, context, consent, event=event, previous_status=before, actor=actor, at=now
    )
    if after in (ConsentStatus.REVOKED, ConsentStatus.REJECTED):
        await shred(
            session, consent, actor=actor, reason=shred_reason or f"consent {after.lower()}"
        )
    log.info("consent.transition", consent_id=consent.id, before=before, after=after)
    return Decision(
        consent_id=consent.id,
        status=after,
        artefact=consent.artefact,
        receipt=receipt.claims if receipt else None,
        receipt_jws=receipt.jws if receipt else None,
    )


async def _repeat(session: AsyncSession, consent: Consent, action: ConsentAction) -> Decision:
    """A decision the consent is already the outcome of: the current state, nothing written."""
    kind = {
        ConsentAction.APPROVE: receipt_claims.CONSENT,
        ConsentAction.REVOKE: receipt_claims.WITHDRAWAL,
    }.get(action)
    receipt = await repository.receipt_of(session, consent.id, kind) if kind else None
    log.info("consent.repeat", consent_id=consent.id, status=consent.status, action=action)
    return Decision(
        consent_id=consent.id,
        status=consent.status,
        changed=False,
        artefact=consent.artefact,
        receipt=receipt.claims if receipt else None,
        receipt_jws=receipt.jws if receipt else None,
    )


# --- data keys -----------------------------------------------------------------------


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
    first (`consent.data_life`): reads treat it as deleted from then on.
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
    now = utcnow()
    status = await settle(session, context, consent, now)
    if status in (ConsentStatus.ACTIVE, ConsentStatus.PAUSED, ConsentStatus.PENDING):
        action = ConsentAction.REJECT if status is ConsentStatus.PENDING else ConsentAction.REVOKE
        await _apply(
            session, context, consent, action, actor="borrower", now=now, shred_reason=reason
        )
    await shred(session, consent, actor="borrower", reason=reason)
    return consent


# --- artefacts and receipts ----------------------------------------------------------


async def _sign_artefact(
    session: AsyncSession, context: GatewayContext, consent: Consent, approved_at: datetime
) -> str:
    """The signed consent artefact: the immutable terms, by the gateway's key."""
    terms = json.loads(terms_of(consent).model_dump_json())
    claims: ConsentArtefactClaims = {
        "iss": ISSUER,
        "sub": consent.id,
        "aud": consent.lender_id,
        "iat": int(approved_at.timestamp()),
        "nbf": int(consent.valid_from.timestamp()),
        "exp": int(consent.valid_until.timestamp()),
        "borrower_ref": consent.borrower_ref,
        "terms": terms,
        "policy_version": consent.policy_version,
    }
    return jose.sign_jwt(
        claims,
        context.keys.signing_key.private_key,
        context.keys.signing_key.kid,
        typ=ARTEFACT_TYPE,
    )


async def _lender_name(session: AsyncSession, lender_id: str) -> str:
    lender = await clients_repository.get(session, lender_id)
    return lender.name if lender else lender_id


async def consent_receipt(
    session: AsyncSession, context: GatewayContext, consent: Consent, at: datetime
) -> ConsentReceiptClaims:
    """A consent receipt for the borrower (after ISO/IEC TS 27560 and Kantara receipts)."""
    return receipt_claims.consent_receipt(
        consent,
        context.catalog,
        receipt_id=f"rcp_{secrets.token_hex(12)}",
        lender_name=await _lender_name(session, consent.lender_id),
        issued_at=at,
        portal_url=portal_base(context),
        # The newest audit tree head a regulator co-signed: the log this receipt's
        # events go into, as independently witnessed (None until one co-signs).
        audit_tree_head=await audit_service.latest_cosigned_head(session),
    )


async def _withdrawal_receipt(
    session: AsyncSession, context: GatewayContext, consent: Consent, actor: str, at: datetime
) -> ConsentReceipt:
    given = await repository.receipt_of(session, consent.id, receipt_claims.CONSENT)
    claims = receipt_claims.withdrawal_receipt(
        consent,
        context.catalog,
        receipt_claims.Withdrawal(
            by="lender" if actor.startswith("lender:") else "borrower",
            at=at,
            consent_receipt_id=given.id if given else None,
            releases_made=consent.release_count,
            last_delete_by=await protection_repository.last_delete_by(session, consent.id),
            lender_notified=consent.callback_url is not None,
        ),
        receipt_id=f"rcp_{secrets.token_hex(12)}",
        lender_name=await _lender_name(session, consent.lender_id),
        issued_at=at,
        portal_url=portal_base(context),
        audit_tree_head=await audit_service.latest_cosigned_head(session),
    )
    return await _keep_receipt(session, context, consent, claims, at)


async def _keep_receipt(
    session: AsyncSession,
    context: GatewayContext,
    consent: Consent,
    claims: ConsentReceiptClaims,
    at: datetime,
) -> ConsentReceipt:
    """Sign a receipt with the gateway's key and keep it for the borrower to fetch again."""
    signing_key = context.keys.signing_key
    receipt = ConsentReceipt(
        id=claims["receipt_id"],
        consent_id=consent.id,
        kind=claims["kind"],
        issued_at=at,
        claims=claims,
        jws=jose.sign_jwt(claims, signing_key.private_key, signing_key.kid, typ=RECEIPT_TYPE),
        kid=signing_key.kid,
    )
    await repository.add_receipt(session, receipt)
    return receipt


def receipt_view(receipt: ConsentReceipt) -> ReceiptView:
    """A kept receipt as the borrower fetches it."""
    return ReceiptView(
        receipt_id=receipt.id,
        kind=receipt.kind,
        issued_at=receipt.issued_at,
        claims=receipt.claims,
        jws=receipt.jws,
    )


async def receipts_of(
    session: AsyncSession, context: GatewayContext, borrower: BorrowerPrincipal, consent_id: str
) -> ConsentReceipts:
    """The borrower's receipts of one consent; refused while no consent was ever given."""
    consent = await get_for_borrower(session, borrower, consent_id)
    now = utcnow()
    status = await settle_for_read(session, context, consent, now)
    given = await repository.receipt_of(session, consent.id, receipt_claims.CONSENT)
    if given is None:
        if consent.artefact is None:
            raise state_error(status)
        # Approved before receipts were kept: issue one now, from the terms as approved.
        claims = await consent_receipt(session, context, consent, now)
        given = await _keep_receipt(session, context, consent, claims, now)
    withdrawn = await repository.receipt_of(session, consent.id, receipt_claims.WITHDRAWAL)
    return ConsentReceipts(
        consent_id=consent.id,
        consent_receipt=receipt_view(given),
        withdrawal_receipt=receipt_view(withdrawn) if withdrawn else None,
    )


# --- the borrower's view -------------------------------------------------------------


async def accesses(
    session: AsyncSession, context: GatewayContext, consent: Consent, now: datetime
) -> list[Access]:
    """Every release under the consent, newest first, with the values while they are kept."""
    dek = await data_key(session, context, consent.id)
    consent_deleted_at = await data_deleted_at(session, consent, now)
    found = []
    for release in await releases_repository.list_for_consent(session, consent.id):
        moments = [data_life.copy_deleted_at(release.delete_by, now), consent_deleted_at]
        deleted_at = min((moment for moment in moments if moment is not None), default=None)
        values = None
        if dek is not None and deleted_at is None and release.payload_sealed is not None:
            sealed_for = field_context(consent.id, f"release:{release.id}")
            values = json.loads(open_sealed(dek, release.payload_sealed, sealed_for))
        found.append(
            Access(
                release_id=release.id,
                released_at=release.created_at,
                features=list(release.features),
                delete_by=release.delete_by,
                values=values,
                deleted_at=deleted_at,
                deletion_attested_at=release.deletion_attested_at,
            )
        )
    return found


def notice_of(context: GatewayContext, consent: Consent, lender_name: str) -> Notice:
    """The plain-language notice: the purpose's text, the features, and a summary of the terms."""
    catalog = context.catalog
    purpose = catalog.purposes.get(consent.purpose)
    features = [catalog.features[name] for name in consent.features if name in catalog.features]
    sources = sorted({source for feature in features for source in feature.sources})
    title = purpose.title.as_dict() if purpose else {}
    return Notice(
        title=title,
        text=purpose.notice.as_dict() if purpose else {},
        features=[
            {
                "name": feature.name,
                "description": feature.description.as_dict(),
                "sources": list(feature.sources),
            }
            for feature in features
        ],
        sources=sources,
        summary=summary(
            NoticeTerms(
                lender_name=lender_name,
                on_behalf_of=consent.on_behalf_of,
                purpose_title=title,
                source_titles=[
                    SOURCE_TITLES.get(source, {"zh": source, "en": source}) for source in sources
                ],
                feature_count=len(features),
                fetch_type=consent.fetch_type,
                frequency_unit=consent.frequency_unit,
                frequency_value=consent.frequency_value,
                valid_from=consent.valid_from,
                valid_until=consent.valid_until,
                data_range_months=consent.data_range_months,
                data_life_days=consent.data_life_days,
            )
        ),
        withdrawal=withdrawal(consent.id),
    )


async def borrower_view(
    session: AsyncSession, context: GatewayContext, consent: Consent
) -> BorrowerConsentView:
    """Who, what, from where, why, how long — and every access made, in the borrower's terms."""
    now = utcnow()
    status = status_now(consent, now)
    lender_name = await _lender_name(session, consent.lender_id)
    return BorrowerConsentView(
        consent_id=consent.id,
        status=status,
        lender={"id": consent.lender_id, "name": lender_name},
        on_behalf_of=consent.on_behalf_of,
        notice=notice_of(context, consent, lender_name),
        terms=terms_of(consent),
        created_at=consent.created_at,
        request_expires_at=consent.request_expires_at,
        decided_at=consent.decided_at,
        ended_at=consent.ended_at,
        data_deleted_at=await data_deleted_at(session, consent, now),
        use_count=consent.release_count,
        accesses=await accesses(session, context, consent, now),
    )
