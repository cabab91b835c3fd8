"""The consent lifecycle as pure code: states, legal transitions, and what time does to them.

A decision a consent is already the outcome of (approving an active consent,
revoking a revoked one) is a *repeat*, not an illegal transition: borrowers
double-tap, phones retry on flaky networks, and a lender's job may run twice.
Answering a repeat with the current state (and changing nothing, recording
nothing) gives every retry the answer the first attempt got, as an idempotent
PUT would; refusing it would tell a borrower who did withdraw that something
went wrong. Everything else that is not in `TRANSITIONS` is refused with the
error code of the state that forbids it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from gateway.core.errors import (
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

ACTION_TARGETS: dict[ConsentAction, ConsentStatus] = {
    ConsentAction.APPROVE: ConsentStatus.ACTIVE,
    ConsentAction.REJECT: ConsentStatus.REJECTED,
    ConsentAction.PAUSE: ConsentStatus.PAUSED,
    ConsentAction.RESUME: ConsentStatus.ACTIVE,
    ConsentAction.REVOKE: ConsentStatus.REVOKED,
    ConsentAction.EXPIRE: ConsentStatus.EXPIRED,
}
"""The state each action leads to: a consent already there receives a repeat."""

ENDED = frozenset({ConsentStatus.REJECTED, ConsentStatus.REVOKED, ConsentStatus.EXPIRED})
"""States no consent leaves."""

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

_DONE: dict[ConsentAction, str] = {
    ConsentAction.APPROVE: "approved",
    ConsentAction.REJECT: "rejected",
    ConsentAction.PAUSE: "paused",
    ConsentAction.RESUME: "resumed",
    ConsentAction.REVOKE: "revoked",
    ConsentAction.EXPIRE: "expired",
}

# What the party can do instead, when one action is refused in a state.
_INSTEAD: dict[tuple[ConsentStatus, ConsentAction], str] = {
    (ConsentStatus.PENDING, ConsentAction.PAUSE): "approve or reject the request instead",
    (ConsentStatus.PENDING, ConsentAction.RESUME): "approve or reject the request instead",
    (ConsentStatus.PENDING, ConsentAction.REVOKE): (
        "it is still a request, which the borrower rejects or which lapses unanswered"
    ),
    (ConsentStatus.ACTIVE, ConsentAction.REJECT): "revoke it instead",
    (ConsentStatus.PAUSED, ConsentAction.APPROVE): "resume it instead",
    (ConsentStatus.PAUSED, ConsentAction.REJECT): "revoke it instead",
}


def state_error(status: ConsentStatus) -> LendgateError:
    """The refusal that explains why a consent in `status` cannot be used."""
    error = _STATE_ERRORS.get(status)
    if error is None:
        return PolicyViolation(f"The consent is already {status}.")
    return error()


def transition_error(status: ConsentStatus, action: ConsentAction) -> LendgateError:
    """The refusal of `action` on a consent in `status`, saying what is possible instead."""
    detail = f"The consent is {status}; it cannot be {_DONE[action]}"
    if (status, action) in _INSTEAD:
        detail += f": {_INSTEAD[(status, action)]}."
    elif status in ENDED:
        detail += ": it has ended, and a new consent request is needed."
    else:
        detail += "."
    error = _STATE_ERRORS.get(status, PolicyViolation)
    return error(detail)


def transition(status: ConsentStatus, action: ConsentAction) -> ConsentStatus:
    """The state after `action`, or the refusal naming the state that forbids it."""
    try:
        return TRANSITIONS[(status, action)]
    except KeyError:
        raise transition_error(status, action) from None


def is_repeat(status: ConsentStatus, action: ConsentAction) -> bool:
    """Whether `action` asks for the state the consent is already in."""
    return ACTION_TARGETS[action] is status


def decide(status: ConsentStatus, action: ConsentAction) -> ConsentStatus | None:
    """The state after `action`; None for a repeat (nothing changes); else the refusal."""
    if (status, action) in TRANSITIONS:
        return TRANSITIONS[(status, action)]
    if is_repeat(status, action):
        return None
    raise transition_error(status, action)


def event_type(before: ConsentStatus, after: ConsentStatus) -> str:
    """The audit event type of a transition (resume is its own event)."""
    if before is ConsentStatus.PAUSED and after is ConsentStatus.ACTIVE:
        return "consent.resumed"
    return EVENT_TYPES[after]


def effective_status(
    status: ConsentStatus, now: datetime, *, valid_until: datetime, request_expires_at: datetime
) -> ConsentStatus:
    """The status with the clock applied: needs no background job to be right.

    The boundary belongs to the end: at `valid_until` itself the consent has expired.
    """
    if status is ConsentStatus.PENDING and now >= request_expires_at:
        return ConsentStatus.EXPIRED
    if status in (ConsentStatus.ACTIVE, ConsentStatus.PAUSED) and now >= valid_until:
        return ConsentStatus.EXPIRED
    return status


def expired_at(
    status: ConsentStatus, *, valid_until: datetime, request_expires_at: datetime
) -> datetime:
    """When a consent stored as `status` expired (or will): its window's end, or the request's."""
    return request_expires_at if status is ConsentStatus.PENDING else valid_until


def check_releasable(status: ConsentStatus, now: datetime, *, valid_from: datetime) -> None:
    """Refuse unless an (effectively) active consent is inside its window."""
    if status is not ConsentStatus.ACTIVE:
        raise state_error(status)
    if now < valid_from:
        raise ConsentNotYetValid()


def check_replayable(status: ConsentStatus) -> None:
    """Refuse to answer a release again once the borrower has paused or revoked its consent."""
    if status in (ConsentStatus.PAUSED, ConsentStatus.REVOKED):
        raise state_error(status)
