"""Consent requests and decisions: requests, approvals with step-up, pauses, revocations.

Every transition holds the consent's row: the new state, its audit event, the
lender's signed notification (outbox) and, where one is due, the borrower's
signed receipt are flushed into the caller's unit of work and commit together
or not at all.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from consent import artefacts, keys, repository
from consent import receipts as receipt_claims
from consent.events import consent_event
from consent.expiry import settle
from consent.lookup import get_for_borrower, get_for_lender
from consent.models import Consent
from consent.notifications import service as notifications_service
from consent.notifications.rules import callback_url_problem
from consent.schemas import ConsentRequestCreate, Decision
from consent.states import ENDED, ConsentAction, ConsentStatus, decide, event_type
from gateway.audit import service as audit_service
from gateway.audit.events import AuditEvent
from gateway.auth.dependencies import BorrowerPrincipal, ClientPrincipal
from gateway.borrowers import service as borrowers_service
from gateway.clients.products import product_of
from gateway.core.errors import InvalidRequest, LendgateError
from gateway.core.ids import new_id
from gateway.crypto import pseudonyms
from gateway.privacy.masking import mask_id_number, mask_name, mask_phone
from gateway.runtime.context import GatewayContext
from policies import evaluation
from policies.catalog import Product

log = structlog.get_logger()


# --- requests ------------------------------------------------------------------------


def requested_terms(body: ConsentRequestCreate, purpose: str) -> evaluation.ConsentTerms:
    """The request's terms, flat, as the policy check and the consent's row take them."""
    return evaluation.ConsentTerms(
        purpose=purpose,
        features=tuple(body.features),
        fetch_type=body.fetch_type,
        frequency_unit=body.release_frequency.unit,
        frequency_value=body.release_frequency.value,
        valid_from=body.valid_from,
        valid_until=body.valid_until,
        data_range_months=body.data_range_months,
        data_life_days=body.data_life_days,
    )


async def request_consent(
    session: AsyncSession,
    context: GatewayContext,
    lender: ClientPrincipal,
    body: ConsentRequestCreate,
) -> Consent:
    """Record a consent request (`PENDING`) once its terms fit the purpose (and product)."""
    catalog = context.catalog
    actor = f"lender:{lender.client_id}"
    now = context.clock.now()
    product: Product | None = None
    purpose = body.purpose
    try:
        if body.product is not None:
            product = await product_of(session, context, lender, body.product)
            purpose = purpose or product.purpose
        if purpose is None:
            raise InvalidRequest("`purpose` is required unless `product` names one.")
        terms = requested_terms(body, purpose)
        check_request(context, body, now)
        evaluation.check_terms(catalog, terms, product)
    except LendgateError as refusal:
        # Only catalog names go on record: anything else in the request is the lender's text.
        audit_service.append_if_refused(
            session,
            AuditEvent(
                type="consent.request_denied",
                actor=actor,
                lender_id=lender.client_id,
                purpose=purpose if purpose in catalog.purposes else None,
                features=tuple(name for name in body.features if name in catalog.features),
                outcome="denied",
                reason=refusal.code,
                policy_version=catalog.version,
            ),
        )
        raise

    pseudonym_keys = context.keys
    identity = body.borrower
    consent_id = new_id("cns")
    borrower = pseudonyms.borrower_index(pseudonym_keys, identity.id_number)
    key, identity_sealed = keys.new_key(context, consent_id, identity)
    columns = dataclasses.asdict(terms) | {"features": list(dict.fromkeys(terms.features))}
    # A request nobody answers lapses after the configured wait, and never outlives its window.
    waits_until = now + timedelta(hours=context.settings.pending_consent_ttl_hours)
    consent = Consent(
        id=consent_id,
        lender_id=lender.client_id,
        borrower_index=borrower,
        phone_index=pseudonyms.phone_index(pseudonym_keys, identity.phone),
        borrower_ref=pseudonyms.borrower_ref(pseudonym_keys, lender.client_id, borrower),
        identity_sealed=identity_sealed,
        borrower_display={
            "name": mask_name(identity.name),
            "id_number": mask_id_number(identity.id_number),
            "phone": mask_phone(identity.phone),
        },
        **columns,
        product=product.code if product else None,
        product_terms=product_record(product, lender) if product else None,
        on_behalf_of=body.on_behalf_of.name if body.on_behalf_of else None,
        on_behalf_of_credit_code=body.on_behalf_of.credit_code if body.on_behalf_of else None,
        callback_url=str(body.callback_url) if body.callback_url else None,
        policy_version=catalog.version,
        status=ConsentStatus.PENDING,
        request_expires_at=min(waits_until, body.valid_until),
        created_at=now,
    )
    session.add(consent)
    session.add(key)
    await session.flush()
    # A product's code (a catalog name) goes in `reason`, so the log itself says which of the
    # lender's products the consent was asked under; later events reach it through the consent.
    reason = f"product={consent.product}" if consent.product is not None else None
    await audit_service.append(
        session, consent_event(consent, "consent.requested", actor, reason=reason)
    )
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


def product_record(product: Product, lender: ClientPrincipal) -> dict[str, Any]:
    """The product as the consent keeps it: its terms then, and the lender it belongs to."""
    return product.public_view() | {"client_id": lender.client_id, "client_name": lender.name}


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
    now = context.clock.now()
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
    now = context.clock.now()
    await settle(session, context, consent, now)
    actor = f"lender:{lender.client_id}"
    return await _apply(session, context, consent, ConsentAction.REVOKE, actor=actor, now=now)


async def borrower_requests_deletion(
    session: AsyncSession, context: GatewayContext, borrower: BorrowerPrincipal, consent_id: str
) -> Consent:
    """Delete what the gateway keeps about the borrower under this consent (PIPL Art. 47).

    A consent still in force ends first (active or paused: revoked; pending:
    rejected); then its data key is destroyed. Asking again changes nothing.
    """
    consent = await get_for_borrower(session, borrower, consent_id, for_update=True)
    reason = "deletion requested by the borrower"
    now = context.clock.now()
    status = await settle(session, context, consent, now)
    if status in (ConsentStatus.ACTIVE, ConsentStatus.PAUSED, ConsentStatus.PENDING):
        action = ConsentAction.REJECT if status is ConsentStatus.PENDING else ConsentAction.REVOKE
        await _apply(
            session, context, consent, action, actor="borrower", now=now, shred_reason=reason
        )
    await keys.shred(session, consent, actor="borrower", reason=reason, now=now)
    return consent


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
    before = consent.status
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
        consent.artefact = artefacts.sign_artefact(context, consent, now)
    await session.flush()
    event = event_type(before, after)
    await audit_service.append(session, consent_event(consent, event, actor))
    receipt = None
    if given:
        receipt = await artefacts.consent_receipt(session, context, consent, now)
    elif after is ConsentStatus.REVOKED:
        receipt = await artefacts.withdrawal_receipt(session, context, consent, actor, now)
    await notifications_service.enqueue(
        session, context, consent, event=event, previous_status=before, actor=actor, at=now
    )
    if after in (ConsentStatus.REVOKED, ConsentStatus.REJECTED):
        await keys.shred(
            session,
            consent,
            actor=actor,
            reason=shred_reason or f"consent {after.lower()}",
            now=now,
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
