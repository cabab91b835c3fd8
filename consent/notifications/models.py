"""The notification outbox: one row per consent event, written with the state change it reports."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from consent.notifications.rules import DeliveryStatus
from gateway.core.db import Base, CreatedAt, string_enum


class ConsentNotification(CreatedAt, Base):
    """A signed consent event for the lender's `callback_url`, and how its delivery went.

    `seq` counts the consent's events from 1, so a receiver can put them in order
    and see a gap. `status` is `pending` (to be delivered; `next_attempt_at`),
    `delivered`, or `failed` (given up after the last attempt; kept for the lender).
    """

    __tablename__ = "consent_notifications"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    consent_id: Mapped[str] = mapped_column(ForeignKey("consents.id"))
    lender_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(Integer)
    event: Mapped[str] = mapped_column(String(40))
    callback_url: Mapped[str] = mapped_column(String(500))
    jws: Mapped[str] = mapped_column(Text)
    kid: Mapped[str] = mapped_column(String(64))
    status: Mapped[DeliveryStatus] = mapped_column(
        string_enum(DeliveryStatus), default=DeliveryStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    leased_until: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(200))
    delivered_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("consent_id", "seq"),
        Index("ix_consent_notifications_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_consent_notifications_lender_id_created_at", "lender_id", "created_at"),
    )
