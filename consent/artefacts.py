"""The signed consent artefact and the borrower's receipts, signed by the gateway's key."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from lendgate_sdk.claims import (
    ARTEFACT_TYPE,
    ISSUER,
    RECEIPT_TYPE,
    ConsentArtefactClaims,
    ConsentReceiptClaims,
)
from sqlalchemy.ext.asyncio import AsyncSession

from consent import receipts as receipt_claims
from consent import repository
from consent.expiry import settle
from consent.lookup import get_for_borrower
from consent.models import Consent, ConsentReceipt
from consent.schemas import ConsentReceipts, ReceiptView
from consent.states import state_error
from consent.views import lender_name, portal_base, terms_of
from gateway.audit import tree_heads as audit_tree_heads
from gateway.core.ids import new_id
from gateway.crypto import jose
from gateway.runtime.context import GatewayContext
from gateway.security.principals import BorrowerPrincipal


def sign_artefact(context: GatewayContext, consent: Consent, approved_at: datetime) -> str:
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


async def consent_receipt(
    session: AsyncSession, context: GatewayContext, consent: Consent, at: datetime
) -> ConsentReceipt:
    """Issue and keep the consent receipt (after ISO/IEC TS 27560 and Kantara receipts)."""
    claims = receipt_claims.consent_receipt(
        consent, context.catalog, **await _issued(session, context, consent, at)
    )
    return await _keep(session, context, consent, claims, at)


async def withdrawal_receipt(
    session: AsyncSession, context: GatewayContext, consent: Consent, actor: str, at: datetime
) -> ConsentReceipt:
    """Issue and keep the withdrawal receipt of a consent just revoked by `actor`.

    What it says of the releases comes from the consent's own row, which the release
    pipeline keeps current (`release_count`, `last_delete_by`).
    """
    given = await repository.receipt_of(session, consent.id, receipt_claims.CONSENT)
    claims = receipt_claims.withdrawal_receipt(
        consent,
        context.catalog,
        receipt_claims.Withdrawal(
            by="lender" if actor.startswith("lender:") else "borrower",
            at=at,
            consent_receipt_id=given.id if given else None,
            releases_made=consent.release_count,
            last_delete_by=consent.last_delete_by,
            lender_notified=consent.callback_url is not None,
        ),
        **await _issued(session, context, consent, at),
    )
    return await _keep(session, context, consent, claims, at)


async def _issued(
    session: AsyncSession, context: GatewayContext, consent: Consent, at: datetime
) -> dict[str, Any]:
    """What every receipt says of its issuing: its id, the lender, when, where to see it."""
    return {
        "receipt_id": new_id("rcp"),
        "lender_name": await lender_name(session, consent.lender_id),
        "issued_at": at,
        "portal_url": portal_base(context),
        # The newest audit tree head a regulator co-signed: the log this receipt's
        # events go into, as independently witnessed (None until one co-signs).
        "audit_tree_head": await audit_tree_heads.latest_cosigned_head(session),
    }


async def _keep(
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
    now = context.clock.now()
    # `settle`: a refusal below must not lose the expiry it found.
    status = await settle(session, context, consent, now)
    given = await repository.receipt_of(session, consent.id, receipt_claims.CONSENT)
    if given is None:
        if consent.artefact is None:
            raise state_error(status)
        # Approved before receipts were kept: issue one now, from the terms as approved.
        given = await consent_receipt(session, context, consent, now)
    withdrawn = await repository.receipt_of(session, consent.id, receipt_claims.WITHDRAWAL)
    return ConsentReceipts(
        consent_id=consent.id,
        consent_receipt=receipt_view(given),
        withdrawal_receipt=receipt_view(withdrawn) if withdrawn else None,
    )
