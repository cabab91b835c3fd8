"""One-time code challenges and borrower sessions.

Phones are kept only as keyed blind indexes; codes only hashed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.core.db import Base, CreatedAt


class OtpChallenge(CreatedAt, Base):
    """A code sent to a phone for one purpose (`login`, or `approve` of one consent)."""

    __tablename__ = "otp_challenges"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    phone_index: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(16))
    consent_id: Mapped[str | None] = mapped_column(String(64))
    code_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    consumed_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_otp_challenges_phone_index_purpose", "phone_index", "purpose"),)


class LoginSession(CreatedAt, Base):
    """A borrower's signed-in session; its token names it (`sid`), so logout ends it at once."""

    __tablename__ = "borrower_sessions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    phone_index: Mapped[str] = mapped_column(String(64), index=True)
    delivery: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
