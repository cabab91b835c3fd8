"""Release records: what left the gateway, to whom, and until when the lender may keep it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.core.db import Base, CreatedAt


class Release(CreatedAt, Base):
    """One delivery of features. The features themselves are kept only sealed, for the borrower."""

    __tablename__ = "releases"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    consent_id: Mapped[str] = mapped_column(ForeignKey("consents.id"))
    lender_id: Mapped[str] = mapped_column(String(64))
    features: Mapped[list[str]] = mapped_column(JSON)
    source_fields: Mapped[list[str]] = mapped_column(JSON)
    payload_digest: Mapped[str] = mapped_column(String(80))
    payload_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    leaf_index: Mapped[int] = mapped_column(BigInteger)
    delete_by: Mapped[datetime]
    deletion_attested_at: Mapped[datetime | None]
    deletion_attestation_leaf: Mapped[int | None] = mapped_column(BigInteger)
    """Audit position of the lender's `deletion.attested` event."""

    __table_args__ = (
        Index("ix_releases_consent_id_created_at", "consent_id", "created_at"),
        Index("ix_releases_delete_by", "delete_by"),
    )
