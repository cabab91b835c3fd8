"""Audit tables: the append-only leaves and the single log-head row that serializes appends."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base


class AuditEntry(Base):
    """One leaf of the log. The database refuses UPDATE and DELETE on this table."""

    __tablename__ = "audit_entries"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    ts: Mapped[datetime]
    type: Mapped[str] = mapped_column(String(64))
    consent_id: Mapped[str | None] = mapped_column(String(64))
    lender_id: Mapped[str | None] = mapped_column(String(64))
    leaf: Mapped[str] = mapped_column(Text)
    leaf_hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_audit_entries_consent_id_seq", "consent_id", "seq"),
        Index("ix_audit_entries_lender_id_seq", "lender_id", "seq"),
        Index("ix_audit_entries_type_seq", "type", "seq"),
    )


class AuditHead(Base):
    """The log's one head row: its size. Incrementing it takes the append lock."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
