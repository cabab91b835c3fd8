"""Key-management tables: the progress marker of key-encryption-key rotations."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.core.db import Base, CreatedAt


class KekRotation(CreatedAt, Base):
    """One re-wrapping of every data key under a new KEK; an unfinished one is resumed.

    `last_consent_id` is the progress marker: data keys are re-wrapped in batches
    in consent-id order, and each batch commits together with the marker.
    """

    __tablename__ = "kek_rotations"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kek_id: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(64))
    last_consent_id: Mapped[str | None] = mapped_column(String(64))
    rewrapped: Mapped[int] = mapped_column(Integer, default=0)
    finished_at: Mapped[datetime | None]
