"""Response shapes of the borrower's rights: their consents with every access, the access
log across them, and the complete copy (PIPL Art. 45)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from consent.schemas import BorrowerIdentity, ConsentTerms, Notice, ReceiptView


class Access(BaseModel):
    """One release made under a consent, as the borrower sees it."""

    release_id: str = Field(description="The release's id.")
    released_at: datetime = Field(description="When the data was released to the lender.")
    features: list[str] = Field(description="The features released, by name.")
    delete_by: datetime = Field(description="When the lender must have deleted what it received.")
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

    consent_id: str = Field(description="The consent's id.")
    status: str = Field(
        description="`PENDING`, `ACTIVE`, `PAUSED`, `REJECTED`, `REVOKED` or `EXPIRED`."
    )
    lender: dict[str, str] = Field(description="The lender: its client `id` and `name`.")
    on_behalf_of: str | None = Field(
        description="The institution the lender asks for (助贷 platform's funder), if any."
    )
    borrower_display: dict[str, str] = Field(
        description="The identity the lender gave, masked (张* / 110***********002X), so "
        "that someone who is not this person can say so."
    )
    notice: Notice = Field(description="The plain-language notice the borrower decides on.")
    terms: ConsentTerms = Field(
        description="What the consent allows: purpose, features, sources, frequency, dates."
    )
    created_at: datetime = Field(description="When the lender asked.")
    request_expires_at: datetime = Field(
        description="Until when a `PENDING` request waits for the borrower."
    )
    decided_at: datetime | None = Field(
        description="When the borrower approved or rejected; null while pending."
    )
    ended_at: datetime | None = Field(
        description="When the consent was revoked or expired; null while it holds."
    )
    data_deleted_at: datetime | None = Field(
        description="When the borrower's data under it was deleted; null until then."
    )
    use_count: int = Field(description="How many releases were made under it.")
    accesses: list[Access] = Field(description="Every release under it, newest first.")


class BorrowerConsentList(BaseModel):
    """The borrower's consents, newest first."""

    consents: list[BorrowerConsentView] = Field(
        description="The borrower's consents, newest first."
    )


class AccessLogEntry(BaseModel):
    """One release of the borrower's data, across all their consents."""

    release_id: str = Field(description="The release's id.")
    consent_id: str = Field(description="The consent it was made under.")
    lender: dict[str, str] = Field(description="The lender: its client `id` and `name`.")
    on_behalf_of: str | None = Field(description="The institution the lender asked for, if any.")
    purpose: dict[str, Any] = Field(description="The purpose: `code` and its `title` (zh, en).")
    released_at: datetime = Field(description="When the data was released.")
    features: list[str] = Field(description="The features released, by name.")
    sources: list[str] = Field(description="The sources read for it.")
    delete_by: datetime = Field(description="When the lender must have deleted what it received.")
    deletion_attested_at: datetime | None = Field(
        description="When the lender attested deletion; null until it does."
    )


class AccessLog(BaseModel):
    """Every access to the borrower's data, newest first."""

    accesses: list[AccessLogEntry] = Field(description="Accesses on this page, newest first.")
    next_cursor: str | None = Field(
        description="Opaque cursor of the next page; null on the last page."
    )


class IdentityCopy(BaseModel):
    """The identity a lender gave for the borrower, as the gateway holds it."""

    values: BorrowerIdentity | None = Field(
        description="Decrypted for this export; null once deleted."
    )
    masked: dict[str, str] = Field(description="The identity masked as the borrower is shown it.")
    deleted_at: datetime | None = Field(
        description="When the identity was deleted; null while kept."
    )


class ExportedNotification(BaseModel):
    """An event the lender was sent about the consent."""

    seq: int = Field(description="The consent's events counted from 1.")
    event: str = Field(description="What happened, e.g. `consent.approved`.")
    status: str = Field(description="Delivery: `pending`, `delivered` or `failed`.")
    created_at: datetime = Field(description="When the event was written.")
    delivered_at: datetime | None = Field(
        description="When the lender acknowledged it; null until then."
    )


class ExportedAuditEvent(BaseModel):
    """An audit log entry about the consent, as the regulator sees it."""

    index: int = Field(description="The leaf's position in the audit log.")
    leaf_hash: str = Field(description="Hex RFC 6962 hash of the leaf.")
    leaf: dict[str, Any] = Field(description="The logged event (ids and pseudonyms only).")


class ExportedConsent(BaseModel):
    """Everything the gateway holds about one of the borrower's consents."""

    consent_id: str = Field(description="The consent's id.")
    status: str = Field(description="The consent's state.")
    lender: dict[str, str] = Field(description="The lender: its client `id` and `name`.")
    on_behalf_of: str | None = Field(description="The institution the lender asked for, if any.")
    terms: ConsentTerms = Field(description="What the consent allows.")
    borrower_ref: str = Field(description="The pseudonym this lender knows the borrower by.")
    identity: IdentityCopy = Field(description="The identity the lender gave, as held.")
    created_at: datetime = Field(description="When the lender asked.")
    request_expires_at: datetime = Field(description="Until when a `PENDING` request waited.")
    decided_at: datetime | None = Field(
        description="When the borrower decided; null while pending."
    )
    ended_at: datetime | None = Field(
        description="When it was revoked or expired; null while it holds."
    )
    data_deleted_at: datetime | None = Field(
        description="When the data under it was deleted; null until then."
    )
    use_count: int = Field(description="How many releases were made under it.")
    artefact: str | None = Field(
        description="The signed consent artefact (compact JWS); null before approval."
    )
    receipts: list[ReceiptView] = Field(description="The consent and withdrawal receipts.")
    accesses: list[Access] = Field(description="Every release under it.")
    notifications: list[ExportedNotification] = Field(
        description="The events the lender was sent about it."
    )
    audit_events: list[ExportedAuditEvent] = Field(description="The audit log's entries about it.")


class ExportedCode(BaseModel):
    """A one-time code sent to the borrower's phone (never the code itself)."""

    purpose: str = Field(description="`login` or `approve`.")
    consent_id: str | None = Field(description="The consent an `approve` code was for.")
    sent_at: datetime = Field(description="When it was texted.")
    expires_at: datetime = Field(description="When it stopped being valid.")
    attempts: int = Field(description="Wrong tries made with it.")
    used_at: datetime | None = Field(description="When it was used; null if never.")


class BorrowerExport(BaseModel):
    """A complete copy of what the gateway holds about the borrower (PIPL Art. 45)."""

    format: str = Field(
        "lendgate-borrower-export/1", description="The export's format and version."
    )
    generated_at: datetime = Field(description="When the copy was made.")
    consents: list[ExportedConsent] = Field(
        description="Every consent, with everything held about it."
    )
    one_time_codes: list[ExportedCode] = Field(
        description="The one-time codes sent to the borrower's phone (never the codes)."
    )
