"""The database side of the shared store: counters and one-time claims with an expiry."""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, String
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
