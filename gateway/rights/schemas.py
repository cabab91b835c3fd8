"""Response shapes of the borrower's rights: their consents with every access, the access
log across them, and the complete copy (PIPL Art. 45)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from consent.schemas import BorrowerIdentity, ConsentTerms, Notice, ReceiptView


class Access(BaseModel):
    """One release made under a consent, as the borrower sees it."""

    release_id: str
    released_at: datetime
    features: list[str]
    delete_by: datetime
    values: dict[str, Any] | None = Field(
        None, description="What was released; null once the gateway's copy was deleted."
    )
    deleted_at: datetime | None = Field(
        None, description="When the gateway's copy of the values was deleted; null while kept."
    )
    deletion_attested_at: datetime | None = Field(
        None, description="When the lender attested it deleted what it received."
    )


class BorrowerConsentView(BaseModel):
    """What the borrower sees of a consent: who, what, why, how long, and every access."""

    consent_id: str
    status: str
    lender: dict[str, str]
    on_behalf_of: str | None
    borrower_display: dict[str, str] = Field(
        description="The identity the lender gave, masked (张* / 110***********002X), so "
        "that someone who is not this person can say so."
    )
    notice: Notice
    terms: ConsentTerms
    created_at: datetime
    request_expires_at: datetime
    decided_at: datetime | None
    ended_at: datetime | None
    data_deleted_at: datetime | None
    use_count: int
    accesses: list[Access]


class BorrowerConsentList(BaseModel):
    """The borrower's consents, newest first."""

    consents: list[BorrowerConsentView]


class AccessLogEntry(BaseModel):
    """One release of the borrower's data, across all their consents."""

    release_id: str
    consent_id: str
    lender: dict[str, str]
    on_behalf_of: str | None
    purpose: dict[str, Any]
    released_at: datetime
    features: list[str]
    sources: list[str]
    delete_by: datetime
    deletion_attested_at: datetime | None


class AccessLog(BaseModel):
    """Every access to the borrower's data, newest first."""

    accesses: list[AccessLogEntry]
    next_cursor: str | None


class IdentityCopy(BaseModel):
    """The identity a lender gave for the borrower, as the gateway holds it."""

    values: BorrowerIdentity | None = Field(
        description="Decrypted for this export; null once deleted."
    )
    masked: dict[str, str]
    deleted_at: datetime | None


class ExportedNotification(BaseModel):
    """An event the lender was sent about the consent."""

    seq: int
    event: str
    status: str
    created_at: datetime
    delivered_at: datetime | None


class ExportedAuditEvent(BaseModel):
    """An audit log entry about the consent, as the regulator sees it."""

    index: int
    leaf_hash: str
    leaf: dict[str, Any]


class ExportedConsent(BaseModel):
    """Everything the gateway holds about one of the borrower's consents."""

    consent_id: str
    status: str
    lender: dict[str, str]
    on_behalf_of: str | None
    terms: ConsentTerms
    borrower_ref: str
    identity: IdentityCopy
    created_at: datetime
    request_expires_at: datetime
    decided_at: datetime | None
    ended_at: datetime | None
    data_deleted_at: datetime | None
    use_count: int
    artefact: str | None
    receipts: list[ReceiptView]
    accesses: list[Access]
    notifications: list[ExportedNotification]
    audit_events: list[ExportedAuditEvent]


class ExportedCode(BaseModel):
    """A one-time code sent to the borrower's phone (never the code itself)."""

    purpose: str
    consent_id: str | None
    sent_at: datetime
    expires_at: datetime
    attempts: int
    used_at: datetime | None


class BorrowerExport(BaseModel):
    """A complete copy of what the gateway holds about the borrower (PIPL Art. 45)."""

    format: str = "lendgate-borrower-export/1"
    generated_at: datetime
    consents: list[ExportedConsent]
    one_time_codes: list[ExportedCode]
