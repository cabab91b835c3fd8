"""The security tables: the shared store's counters and one-time claims, idempotency keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.core.db import Base


class SecurityCounter(Base):
    """A rate-limit window's count, or a spent one-time value (count 1), until `expires_at_ms`.

    Used when no Redis is configured; expiry is epoch milliseconds so the comparison is
    the same plain integer one on SQLite and PostgreSQL.
    """

    __tablename__ = "security_counters"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    expires_at_ms: Mapped[int] = mapped_column(BigInteger, index=True)


class IdempotencyRecord(Base):
    """A client's `Idempotency-Key`: the request it was first used with (a digest) and,
    once that request succeeded, its answer, kept until `expires_at`."""

    __tablename__ = "idempotency_keys"

    client_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    response: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
