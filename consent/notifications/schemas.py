"""Shapes of the lender's notification feed."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

StatusFilter = Literal["pending", "delivered", "failed"]


class NotificationView(BaseModel):
    """One signed consent event and how its delivery went."""

    notification_id: str = Field(description="The event's id (the JWS's `jti`).")
    consent_id: str = Field(description="The consent it is about.")
    seq: int = Field(description="The event's number among the consent's events, from 1.")
    event: str = Field(description="`consent.requested`, `consent.approved`, … (audit types).")
    status: str = Field(description="`pending`, `delivered` or `failed` (no more attempts).")
    attempts: int = Field(description="Delivery attempts made.")
    created_at: datetime = Field(description="When the event was written.")
    next_attempt_at: datetime | None = Field(
        description="When the next attempt is due; null once delivered or failed."
    )
    last_attempt_at: datetime | None = Field(
        description="When it was last tried; null before the first attempt."
    )
    last_error: str | None = Field(
        description="Why the last attempt failed (status or timeout); null if it did not."
    )
    delivered_at: datetime | None = Field(
        description="When the callback answered 2xx; null until then."
    )
    callback_url: str = Field(description="Where it is POSTed.")
    jws: str = Field(description="The event as POSTed: a JWS by the gateway's key (JWKS).")


class NotificationPage(BaseModel):
    """A page of the lender's notifications, oldest first."""

    notifications: list[NotificationView] = Field(
        description="Notifications on this page, oldest first."
    )
    next_cursor: str | None = Field(
        description="Opaque cursor of the next page; null on the last page."
    )
