"""Shapes of the lender's notification feed."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

StatusFilter = Literal["pending", "delivered", "failed"]


class NotificationView(BaseModel):
    """One signed consent event and how its delivery went."""

    notification_id: str
    consent_id: str
    seq: int = Field(description="The event's number among the consent's events, from 1.")
    event: str = Field(description="`consent.requested`, `consent.approved`, … (audit types).")
    status: str = Field(description="`pending`, `delivered` or `failed` (no more attempts).")
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_error: str | None
    delivered_at: datetime | None
    callback_url: str
    jws: str = Field(description="The event as POSTed: a JWS by the gateway's key (JWKS).")


class NotificationPage(BaseModel):
    """A page of the lender's notifications, oldest first."""

    notifications: list[NotificationView]
    next_cursor: str | None
