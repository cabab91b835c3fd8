"""The consent state machine, every (state, action) pair, and what the clock does to it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from consent.states import (
    ACTION_TARGETS,
    TRANSITIONS,
    ConsentAction,
    ConsentStatus,
    check_releasable,
    decide,
    effective_status,
    event_type,
    expired_at,
    is_repeat,
    transition,
)
from gateway.core.errors import ALL_ERRORS

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
# A decision the consent is already the outcome of: answered with the state, nothing changes.
REPEATS = {
    (S.ACTIVE, A.APPROVE),
    (S.ACTIVE, A.RESUME),
    (S.PAUSED, A.PAUSE),
    (S.REJECTED, A.REJECT),
    (S.REVOKED, A.REVOKE),
    (S.EXPIRED, A.EXPIRE),
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
ILLEGAL = [pair for pair in ALL_PAIRS if pair not in LEGAL and pair not in REPEATS]
EVENTS = {
    (S.PENDING, S.ACTIVE): "consent.approved",
    (S.PENDING, S.REJECTED): "consent.rejected",
    (S.PENDING, S.EXPIRED): "consent.expired",
    (S.ACTIVE, S.PAUSED): "consent.paused",
    (S.ACTIVE, S.REVOKED): "consent.revoked",
    (S.ACTIVE, S.EXPIRED): "consent.expired",
    (S.PAUSED, S.ACTIVE): "consent.resumed",
    (S.PAUSED, S.REVOKED): "consent.revoked",
    (S.PAUSED, S.EXPIRED): "consent.expired",
}


def _id(value: object) -> str:
    return str(value)


def test_the_table_is_exactly_the_design() -> None:
    assert TRANSITIONS == LEGAL


def test_the_three_sets_cover_every_pair_once() -> None:
    assert len(LEGAL) + len(REPEATS) + len(ILLEGAL) == len(ALL_PAIRS) == 36
    assert not set(LEGAL) & REPEATS


@pytest.mark.parametrize(("status", "action"), list(LEGAL), ids=_id)
def test_every_legal_transition_leads_where_the_design_says(
    status: ConsentStatus, action: ConsentAction
) -> None:
    assert transition(status, action) is LEGAL[(status, action)]
    assert decide(status, action) is LEGAL[(status, action)]
    assert event_type(status, LEGAL[(status, action)]) == EVENTS[(status, LEGAL[(status, action)])]


@pytest.mark.parametrize(("status", "action"), sorted(REPEATS), ids=_id)
def test_a_repeated_decision_changes_nothing(status: ConsentStatus, action: ConsentAction) -> None:
    assert is_repeat(status, action)
    assert decide(status, action) is None
    assert ACTION_TARGETS[action] is status


@pytest.mark.parametrize(("status", "action"), ILLEGAL, ids=_id)
def test_every_illegal_transition_is_refused_with_the_state_code(
    status: ConsentStatus, action: ConsentAction
) -> None:
    assert not is_repeat(status, action)
    for attempt in (transition, decide):
        with pytest.raises(Exception) as refused:
            attempt(status, action)
        error = refused.value
        assert getattr(error, "code", None) == REFUSAL_FOR_STATE[status]
        assert type(error) in ALL_ERRORS
        # The detail names the state and what was attempted, and how to go on.
        detail = getattr(error, "detail", "")
        assert str(status) in detail and detail.endswith(".")


@pytest.mark.parametrize(
    ("status", "action", "hint"),
    [
        (S.ACTIVE, A.REJECT, "revoke it instead"),
        (S.PAUSED, A.APPROVE, "resume it instead"),
        (S.PENDING, A.REVOKE, "which the borrower rejects"),
        (S.REVOKED, A.RESUME, "a new consent request is needed"),
    ],
)
def test_refusals_say_what_to_do_instead(
    status: ConsentStatus, action: ConsentAction, hint: str
) -> None:
    with pytest.raises(Exception) as refused:
        decide(status, action)
    assert hint in getattr(refused.value, "detail", "")


def test_a_repeat_of_a_legal_transition_is_never_refused() -> None:
    # After any legal transition, sending the same action again is a repeat.
    for (status, action), after in LEGAL.items():
        assert decide(after, action) is None, (status, action)


NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "valid_until", "request_expires_at", "expected"),
    [
        (S.ACTIVE, NOW + timedelta(seconds=1), NOW, S.ACTIVE),
        (S.ACTIVE, NOW, NOW + timedelta(days=1), S.EXPIRED),  # the boundary is already expired
        (S.ACTIVE, NOW + timedelta(microseconds=1), NOW, S.ACTIVE),
        (S.PAUSED, NOW - timedelta(days=1), NOW, S.EXPIRED),
        (S.PAUSED, NOW, NOW, S.EXPIRED),
        (S.PENDING, NOW + timedelta(days=9), NOW, S.EXPIRED),
        (S.PENDING, NOW + timedelta(days=9), NOW + timedelta(seconds=1), S.PENDING),
        (S.REVOKED, NOW - timedelta(days=1), NOW, S.REVOKED),
        (S.REJECTED, NOW - timedelta(days=1), NOW - timedelta(days=1), S.REJECTED),
        (S.EXPIRED, NOW + timedelta(days=1), NOW + timedelta(days=1), S.EXPIRED),
    ],
)
def test_effective_status_applies_the_clock(
    status: ConsentStatus,
    valid_until: datetime,
    request_expires_at: datetime,
    expected: ConsentStatus,
) -> None:
    actual = effective_status(
        status, NOW, valid_until=valid_until, request_expires_at=request_expires_at
    )
    assert actual is expected


def test_expired_at_is_the_end_that_applied() -> None:
    until, lapse = NOW + timedelta(days=3), NOW + timedelta(days=1)
    assert expired_at(S.PENDING, valid_until=until, request_expires_at=lapse) == lapse
    for status in (S.ACTIVE, S.PAUSED):
        assert expired_at(status, valid_until=until, request_expires_at=lapse) == until


# Every release refusal the state machine itself gives (the pipeline's other codes are
# exercised over HTTP in tests/consent/test_lifecycle.py).
@pytest.mark.parametrize(
    ("status", "valid_from", "code"),
    [
        (S.PENDING, NOW, "ConsentPending"),
        (S.PAUSED, NOW, "ConsentPaused"),
        (S.REJECTED, NOW, "ConsentRejected"),
        (S.REVOKED, NOW, "ConsentRevoked"),
        (S.EXPIRED, NOW, "ConsentExpired"),
        (S.ACTIVE, NOW + timedelta(seconds=1), "ConsentNotYetValid"),
        (S.ACTIVE, NOW + timedelta(days=30), "ConsentNotYetValid"),
        (S.ACTIVE, NOW, None),
        (S.ACTIVE, NOW - timedelta(days=1), None),
    ],
)
def test_releasable_only_when_active_and_inside_the_window(
    status: ConsentStatus, valid_from: datetime, code: str | None
) -> None:
    if code is None:
        check_releasable(status, NOW, valid_from=valid_from)
        return
    with pytest.raises(Exception) as refused:
        check_releasable(status, NOW, valid_from=valid_from)
    assert getattr(refused.value, "code", None) == code
