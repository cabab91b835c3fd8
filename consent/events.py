"""The audit events consents go on record with."""

from __future__ import annotations

from typing import Any

from consent.models import Consent
from gateway.audit.events import AuditEvent

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
