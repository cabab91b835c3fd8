"""The consent state machine, every (state, action) pair, and what the clock does to it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from consent.states import (
    TRANSITIONS,
    ConsentAction,
    ConsentStatus,
    check_releasable,
    effective_status,
    event_type,
    transition,
)

S, A = ConsentStatus, ConsentAction
LEGAL = {
    (S.PENDING, A.APPROVE): S.ACTIVE,
    (S.PENDING, A.REJECT): S.REJECTED,
    (S.PENDING, A.EXPIRE): S.EXPIRED,
    (S.ACTIVE, A.PAUSE): S.PAUSED,
    (S.ACTIVE, A.REVOKE): S.REVOKED,
    (S.ACTIVE, A.EXPIRE): S.EXPIRED,
    (S.PAUSED, A.RESUME): S.ACTIVE,
    (S.PAUSED, A.REVOKE): S.REVOKED,
    (S.PAUSED, A.EXPIRE): S.EXPIRED,
}
REFUSAL_FOR_STATE = {
    S.PENDING: "ConsentPending",
    S.ACTIVE: "PolicyViolation",
    S.PAUSED: "ConsentPaused",
    S.REJECTED: "ConsentRejected",
    S.REVOKED: "ConsentRevoked",
    S.EXPIRED: "ConsentExpired",
}
ALL_PAIRS = [(status, action) for status in S for action in A]


def test_the_table_is_exactly_the_design() -> None:
    assert TRANSITIONS == LEGAL


@pytest.mark.parametrize(("status", "action"), ALL_PAIRS, ids=lambda v: str(v))
def test_every_pair_is_legal_or_refused_with_the_state_code(
    status: ConsentStatus, action: ConsentAction
) -> None:
    if (status, action) in LEGAL:
        assert transition(status, action) is LEGAL[(status, action)]
        return
    with pytest.raises(Exception) as refused:
        transition(status, action)
    assert getattr(refused.value, "code", None) == REFUSAL_FOR_STATE[status]


def test_event_types_name_the_transition() -> None:
    assert event_type(S.PENDING, S.ACTIVE) == "consent.approved"
    assert event_type(S.PAUSED, S.ACTIVE) == "consent.resumed"
    assert event_type(S.ACTIVE, S.PAUSED) == "consent.paused"
    assert event_type(S.PAUSED, S.REVOKED) == "consent.revoked"
    assert event_type(S.PENDING, S.EXPIRED) == "consent.expired"


NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "valid_until", "request_expires_at", "expected"),
    [
        (S.ACTIVE, NOW + timedelta(seconds=1), NOW, S.ACTIVE),
        (S.ACTIVE, NOW, NOW + timedelta(days=1), S.EXPIRED),  # the boundary is already expired
        (S.PAUSED, NOW - timedelta(days=1), NOW, S.EXPIRED),
        (S.PENDING, NOW + timedelta(days=9), NOW, S.EXPIRED),
        (S.PENDING, NOW + timedelta(days=9), NOW + timedelta(seconds=1), S.PENDING),
        (S.REVOKED, NOW - timedelta(days=1), NOW, S.REVOKED),
    ],
)
def test_effective_status_applies_the_clock(
    status: ConsentStatus, valid_until: datetime, request_expires_at: datetime, expected: S
) -> None:
    actual = effective_status(
        status, NOW, valid_until=valid_until, request_expires_at=request_expires_at
    )
    assert actual is expected


def test_releasable_only_when_active_and_inside_the_window() -> None:
    check_releasable(S.ACTIVE, NOW, valid_from=NOW)
    with pytest.raises(Exception) as early:
        check_releasable(S.ACTIVE, NOW, valid_from=NOW + timedelta(seconds=1))
    assert getattr(early.value, "code", None) == "ConsentNotYetValid"
    for status in (S.PENDING, S.PAUSED, S.REJECTED, S.REVOKED, S.EXPIRED):
        with pytest.raises(Exception) as refused:
            check_releasable(status, NOW, valid_from=NOW)
        assert getattr(refused.value, "code", None) == REFUSAL_FOR_STATE[status]
