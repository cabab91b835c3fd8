"""Consent tables: the consent with its immutable terms, its wrapped data key, its receipts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from consent.states import ConsentStatus
from gateway.core.db import Base, CreatedAt, string_enum


class Consent(CreatedAt, Base):
    """A borrower's authorization of one lender, for one purpose, on fixed terms.

    The borrower's identity is kept only sealed under the consent's data key
    (`identity_sealed`) and as keyed blind indexes for lookup.
    """

    __tablename__ = "consents"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    lender_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    borrower_index: Mapped[str] = mapped_column(String(64), index=True)
    phone_index: Mapped[str] = mapped_column(String(64), index=True)
    borrower_ref: Mapped[str] = mapped_column(String(64))
    identity_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    borrower_display: Mapped[dict[str, str]] = mapped_column(JSON)

    purpose: Mapped[str] = mapped_column(String(64))
    product: Mapped[str | None] = mapped_column(String(64), index=True)
    product_terms: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """The lender's product as it stood when asked: title, notice, features, ceilings, version."""
    features: Mapped[list[str]] = mapped_column(JSON)
    fetch_type: Mapped[str] = mapped_column(String(16))
    frequency_unit: Mapped[str] = mapped_column(String(8))
    frequency_value: Mapped[int] = mapped_column(Integer)
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime]
    data_range_months: Mapped[int] = mapped_column(Integer)
    data_life_days: Mapped[int] = mapped_column(Integer)
    on_behalf_of: Mapped[str | None] = mapped_column(String(200))
    on_behalf_of_credit_code: Mapped[str | None] = mapped_column(String(18))
    callback_url: Mapped[str | None] = mapped_column(String(500))
    policy_version: Mapped[str] = mapped_column(String(80))

    status: Mapped[ConsentStatus] = mapped_column(
        string_enum(ConsentStatus), default=ConsentStatus.PENDING
    )
    request_expires_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    artefact: Mapped[str | None] = mapped_column(Text)
    release_count: Mapped[int] = mapped_column(Integer, default=0)
    last_delete_by: Mapped[datetime | None]
    """The latest `delete_by` of the consent's releases, kept by the release pipeline."""


class ConsentKey(CreatedAt, Base):
    """A consent's data key, wrapped by the KEK. Shredding clears `wrapped_key` for good."""

    __tablename__ = "consent_keys"

    consent_id: Mapped[str] = mapped_column(ForeignKey("consents.id"), primary_key=True)
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    shredded_at: Mapped[datetime | None]


class ConsentReceipt(CreatedAt, Base):
    """A receipt the borrower keeps: of the consent given, and of its withdrawal.

    `claims` are what the gateway signed (`jws`, by the key `kid`); they name the
    borrower only by the lender's pairwise pseudonym. One of each kind per consent.
    """

    __tablename__ = "consent_receipts"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    consent_id: Mapped[str] = mapped_column(ForeignKey("consents.id"))
    kind: Mapped[str] = mapped_column(String(16))
    issued_at: Mapped[datetime]
    claims: Mapped[dict[str, Any]] = mapped_column(JSON)
    jws: Mapped[str] = mapped_column(Text)
    kid: Mapped[str] = mapped_column(String(64))

    __table_args__ = (UniqueConstraint("consent_id", "kind"),)
