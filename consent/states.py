"""The consent lifecycle as pure code: states, legal transitions, and what time does to them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from gateway.errors import (
    ConsentExpired,
    ConsentNotYetValid,
    ConsentPaused,
    ConsentPending,
    ConsentRejected,
    ConsentRevoked,
    LendgateError,
    PolicyViolation,
)


class ConsentStatus(StrEnum):
    """Where a consent is in its life."""

    PENDING = "PENDING"
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"
    REJECTED = "REJECTED"
    REVOKED = "REVOKED"
    EXPIRED = "EXPIRED"


class ConsentAction(StrEnum):
    """What a party (or time) can do to a consent."""

    APPROVE = "approve"
    REJECT = "reject"
    PAUSE = "pause"
    RESUME = "resume"
    REVOKE = "revoke"
    EXPIRE = "expire"


TRANSITIONS: dict[tuple[ConsentStatus, ConsentAction], ConsentStatus] = {
    (ConsentStatus.PENDING, ConsentAction.APPROVE): ConsentStatus.ACTIVE,
    (ConsentStatus.PENDING, ConsentAction.REJECT): ConsentStatus.REJECTED,
    (ConsentStatus.PENDING, ConsentAction.EXPIRE): ConsentStatus.EXPIRED,
    (ConsentStatus.ACTIVE, ConsentAction.PAUSE): ConsentStatus.PAUSED,
    (ConsentStatus.PAUSED, ConsentAction.RESUME): ConsentStatus.ACTIVE,
    (ConsentStatus.ACTIVE, ConsentAction.REVOKE): ConsentStatus.REVOKED,
    (ConsentStatus.PAUSED, ConsentAction.REVOKE): ConsentStatus.REVOKED,
    (ConsentStatus.ACTIVE, ConsentAction.EXPIRE): ConsentStatus.EXPIRED,
    (ConsentStatus.PAUSED, ConsentAction.EXPIRE): ConsentStatus.EXPIRED,
}

EVENT_TYPES: dict[ConsentStatus, str] = {
    ConsentStatus.ACTIVE: "consent.approved",
    ConsentStatus.REJECTED: "consent.rejected",
    ConsentStatus.PAUSED: "consent.paused",
    ConsentStatus.REVOKED: "consent.revoked",
    ConsentStatus.EXPIRED: "consent.expired",
}

_STATE_ERRORS: dict[ConsentStatus, type[LendgateError]] = {
    ConsentStatus.PENDING: ConsentPending,
    ConsentStatus.PAUSED: ConsentPaused,
    ConsentStatus.REJECTED: ConsentRejected,
    ConsentStatus.REVOKED: ConsentRevoked,
    ConsentStatus.EXPIRED: ConsentExpired,
}


def state_error(status: ConsentStatus) -> LendgateError:
    """The refusal that explains why a consent in `status` cannot be used."""
    error = _STATE_ERRORS.get(status)
    if error is None:
        return PolicyViolation(f"The consent is already {status}.")
    return error()


def transition(status: ConsentStatus, action: ConsentAction) -> ConsentStatus:
    """The state after `action`, or the refusal naming the state that forbids it."""
    try:
        return TRANSITIONS[(status, action)]
    except KeyError:
        raise state_error(status) from None


def event_type(before: ConsentStatus, after: ConsentStatus) -> str:
    """The audit event type of a transition (resume is its own event)."""
    if before is ConsentStatus.PAUSED and after is ConsentStatus.ACTIVE:
        return "consent.resumed"
    return EVENT_TYPES[after]


def effective_status(
    status: ConsentStatus, now: datetime, *, valid_until: datetime, request_expires_at: datetime
) -> ConsentStatus:
    """The status with the clock applied: needs no background job to be right."""
    if status is ConsentStatus.PENDING and now >= request_expires_at:
        return ConsentStatus.EXPIRED
    if status in (ConsentStatus.ACTIVE, ConsentStatus.PAUSED) and now >= valid_until:
        return ConsentStatus.EXPIRED
    return status


def check_releasable(status: ConsentStatus, now: datetime, *, valid_from: datetime) -> None:
    """Refuse unless an (effectively) active consent is inside its window."""
    if status is not ConsentStatus.ACTIVE:
        raise state_error(status)
    if now < valid_from:
        raise ConsentNotYetValid()
