"""Consent and withdrawal receipts (pure): the record a borrower keeps, signed by the gateway.

The fields follow the consent record of ISO/IEC TS 27560:2023 and the Kantara
Initiative's Consent Receipt Specification 1.1: a record id, the principal (here
the lender's pairwise pseudonym, never the identity), the controllers (the
lender, and the funding institution it asks for), the purpose in plain words
and its legal basis, the data categories and their sources, retention,
jurisdiction, how to withdraw, and the timestamps of the consent's life.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from lendgate_sdk.claims import ISSUER, ConsentReceiptClaims

from consent.models import Consent
from consent.notice import withdrawal
from policies.catalog import Catalog

RECEIPT_VERSION: Final = "lendgate-receipt/1"
SCHEMAS: Final = ("ISO/IEC TS 27560:2023", "Kantara Consent Receipt 1.1")
CONSENT: Final = "consent"
WITHDRAWAL: Final = "withdrawal"


@dataclass(frozen=True)
class Withdrawal:
    """What ended a consent, and what follows from it."""

    by: str
    at: datetime
    consent_receipt_id: str | None
    releases_made: int
    last_delete_by: datetime | None
    lender_notified: bool


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def digest(token: str | None) -> str | None:
    """`sha256:` over a signed token, to point at it without repeating it."""
    if token is None:
        return None
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


def _product(consent: Consent) -> dict[str, Any] | None:
    """The product the consent was asked under, named with the lender it belongs to."""
    product = consent.product_terms
    if product is None:
        return None
    keys = ("code", "title", "notice", "version", "client_id", "client_name")
    return {key: product.get(key) for key in keys}


def _record(
    consent: Consent,
    catalog: Catalog,
    *,
    receipt_id: str,
    kind: str,
    lender_name: str,
    issued_at: datetime,
    portal_url: str,
    audit_tree_head: dict[str, Any] | None,
) -> ConsentReceiptClaims:
    purpose = catalog.purposes.get(consent.purpose)
    features = [catalog.features[name] for name in consent.features if name in catalog.features]
    controllers: list[dict[str, Any]] = [
        {
            "id": consent.lender_id,
            "name": lender_name,
            "role": "controller",
            "receives_data": True,
        }
    ]
    if consent.on_behalf_of:
        controllers.append(
            {
                "id": consent.on_behalf_of_credit_code,
                "name": consent.on_behalf_of,
                "role": "funding_institution",
                "on_behalf_of": True,
                # DESIGN: features go to the requesting client only; the party is named.
                "receives_data": False,
            }
        )
    return {
        "iss": ISSUER,
        "sub": consent.id,
        "jti": receipt_id,
        "iat": int(issued_at.timestamp()),
        "version": RECEIPT_VERSION,
        "schemas": list(SCHEMAS),
        "receipt_id": receipt_id,
        "kind": kind,
        "record_id": consent.id,
        "issued_at": issued_at.isoformat(),
        "jurisdiction": "CN",
        "language": "zh-CN",
        "collection_method": "borrower portal, confirmed by a one-time code",
        "principal": {"pseudonym": consent.borrower_ref, "kind": "pairwise pseudonym"},
        "controllers": controllers,
        "purpose": {
            "code": consent.purpose,
            "title": purpose.title.as_dict() if purpose else {},
            "text": purpose.notice.as_dict() if purpose else {},
            "legal_basis": purpose.legal_basis if purpose else None,
            # The lender's own product (a county bank's, a funder's), as it stood then.
            "product": _product(consent),
        },
        "data_categories": list(consent.features),
        "personal_data": [
            {
                "feature": feature.name,
                "description": feature.description.as_dict(),
                "sources": list(feature.sources),
                "data_class": feature.data_class,
            }
            for feature in features
        ],
        "sources": sorted({source for feature in features for source in feature.sources}),
        "processing": {
            "fetch_type": consent.fetch_type,
            "frequency": {"unit": consent.frequency_unit, "value": consent.frequency_value},
            "data_range_months": consent.data_range_months,
        },
        "retention_days": consent.data_life_days,
        "retention": {
            "data_life_days": consent.data_life_days,
            "rule": "The lender deletes each release at most data_life_days after receiving "
            "it and attests the deletion; the gateway's copy for the borrower ends then too.",
        },
        "valid_from": consent.valid_from.isoformat(),
        "valid_until": consent.valid_until.isoformat(),
        "withdrawal": {
            "method": withdrawal(consent.id),
            "endpoint": f"POST /v1/borrower/consents/{consent.id}/revoke",
            "portal": f"{portal_url.rstrip('/')}/portal/consents/{consent.id}",
        },
        "timestamps": {
            "requested_at": _iso(consent.created_at),
            "approved_at": _iso(consent.decided_at if consent.artefact else None),
            "withdrawn_at": None,
        },
        "artefact_digest": digest(consent.artefact),
        "policy_version": consent.policy_version,
        # The newest audit tree head a regulator co-signed: the log this receipt's
        # events go into, as independently witnessed (None until one co-signs).
        "audit_tree_head": audit_tree_head,
    }


def consent_receipt(
    consent: Consent,
    catalog: Catalog,
    *,
    receipt_id: str,
    lender_name: str,
    issued_at: datetime,
    portal_url: str,
    audit_tree_head: dict[str, Any] | None,
) -> ConsentReceiptClaims:
    """The receipt of a consent given: its terms as approved."""
    claims = _record(
        consent,
        catalog,
        receipt_id=receipt_id,
        kind=CONSENT,
        lender_name=lender_name,
        issued_at=issued_at,
        portal_url=portal_url,
        audit_tree_head=audit_tree_head,
    )
    claims["consent_timestamp"] = claims["timestamps"]["approved_at"] or issued_at.isoformat()
    claims["event"] = {"type": "given", "at": claims["consent_timestamp"]}
    return claims


def withdrawal_receipt(
    consent: Consent,
    catalog: Catalog,
    ended: Withdrawal,
    *,
    receipt_id: str,
    lender_name: str,
    issued_at: datetime,
    portal_url: str,
    audit_tree_head: dict[str, Any] | None,
) -> ConsentReceiptClaims:
    """The receipt of a consent withdrawn: when, by whom, and what follows."""
    claims = _record(
        consent,
        catalog,
        receipt_id=receipt_id,
        kind=WITHDRAWAL,
        lender_name=lender_name,
        issued_at=issued_at,
        portal_url=portal_url,
        audit_tree_head=audit_tree_head,
    )
    claims["timestamps"]["withdrawn_at"] = ended.at.isoformat()
    claims["consent_timestamp"] = claims["timestamps"]["approved_at"]
    claims["event"] = {"type": "withdrawn", "by": ended.by, "at": ended.at.isoformat()}
    claims["refers_to"] = ended.consent_receipt_id
    claims["consequences"] = {
        "releases_stopped_at": ended.at.isoformat(),
        "data_key_destroyed": True,
        "releases_made": ended.releases_made,
        "lender_must_delete_by": _iso(ended.last_delete_by),
        "lender_notified": ended.lender_notified,
    }
    return claims
