"""Lender notifications: signed, numbered, from a transactional outbox, retried, kept when lost.

The lender's endpoint is an `httpx.MockTransport` injected into the gateway's context;
delivery is driven by `dispatch_due(now=...)`, so backoff is tested without waiting.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from lendgate_sdk import LendgateAPIError, NotificationVerificationError

from consent.notifications import service as notifications_service
from consent.notifications.rules import callback_url_problem, retry_delay
from gateway.core.clock import utcnow
from gateway.jobs.scheduler import JOBS, scheduler
from tests.support.lifecycle import (
    Receiver,
    callback_url,
    notifications_of,
    set_consent,
    transport_for,
)
from tests.support.stack import RegisteredClient, Stack


async def listed(stack: Stack, registered: RegisteredClient, **params: Any) -> dict[str, Any]:
    """`GET /v1/notifications` as the lender."""
    async with stack.lender_client(registered) as lender:
        token = await lender.access_token()
    answer = await stack.http.get(
        "/v1/notifications", params=params, headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def test_a_receiver_that_fails_twice_gets_every_event_in_order_signed_once(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver = Receiver(callback_url(), script=[500, 503])
    monkeypatch.setattr(stack.context, "notification_transport", transport_for(receiver))
    registered = await stack.register()
    async with stack.lender_client(registered) as lender:
        consent_id, _, auth = await stack.active_consent(lender, callback_url=receiver.url)
        await stack.http.post(f"/v1/borrower/consents/{consent_id}/pause", headers=auth)
        await stack.http.post(f"/v1/borrower/consents/{consent_id}/revoke", headers=auth)
    settings = stack.context.settings
    first_wait = timedelta(seconds=settings.notification_retry_backoff_seconds)
    start = utcnow()

    def dispatch(at: datetime) -> Any:
        return notifications_service.dispatch_due(
            stack.context, now=at, lender_id=registered.client_id
        )

    first = await dispatch(start)
    assert (first.delivered, first.retrying) == (0, 1)
    # Not due again until the first wait is over; the later events wait behind the first.
    assert (await dispatch(start + first_wait - timedelta(seconds=1))).attempted == 0
    second = await dispatch(start + first_wait)
    assert (second.delivered, second.retrying) == (0, 1)
    # The wait doubles: the next attempt is due one doubled wait after the second.
    assert (await dispatch(start + first_wait * 2)).attempted == 0
    third = await dispatch(start + first_wait * 3)
    assert (third.delivered, third.retrying, third.failed) == (4, 0, 0)
    assert (await dispatch(start + first_wait * 10)).attempted == 0

    assert [int(call.headers["X-Lendgate-Sequence"]) for call in receiver.calls] == [
        1,
        1,
        1,
        2,
        3,
        4,
    ]
    events = receiver.events(stack.context.keys.jwks(), audience=registered.client_id)
    assert [(event["seq"], event["event"], event["status"]) for event in events] == [
        (1, "consent.requested", "PENDING"),
        (2, "consent.approved", "ACTIVE"),
        (3, "consent.paused", "PAUSED"),
        (4, "consent.revoked", "REVOKED"),
    ]
    assert {event["consent_id"] for event in events} == {consent_id}
    assert [event["previous_status"] for event in events] == [None, "PENDING", "ACTIVE", "PAUSED"]
    assert [event["actor"] for event in events] == ["lender", "borrower", "borrower", "borrower"]
    assert len({event["jti"] for event in events}) == 4
    assert all(item["headers"]["content-type"] == "application/jwt" for item in receiver.accepted)

    # The lender SDK checks the same, and refuses an event addressed to another lender.
    async with stack.lender_client(registered) as lender:
        assert await lender.verify_notification(receiver.accepted[0]["jws"]) == events[0]
        feed_by_sdk = await lender.notifications(consent_id=consent_id, status="delivered")
    async with stack.lender_client(await stack.register(name="另一家机构")) as other:
        with pytest.raises(NotificationVerificationError):
            await other.verify_notification(receiver.accepted[0]["jws"])
    assert len(feed_by_sdk["notifications"]) == 4

    feed = await listed(stack, registered, consent_id=consent_id)
    assert [(n["seq"], n["status"], n["attempts"]) for n in feed["notifications"]] == [
        (1, "delivered", 3),
        (2, "delivered", 1),
        (3, "delivered", 1),
        (4, "delivered", 1),
    ]
    assert feed["notifications"][0]["last_error"] is None


async def test_an_undeliverable_event_is_kept_as_failed_and_shown_to_its_lender_only(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver = Receiver(callback_url(), script=[503] * 50)
    monkeypatch.setattr(stack.context, "notification_transport", transport_for(receiver))
    monkeypatch.setattr(stack.context.settings, "notification_max_attempts", 3)
    registered, other = await stack.register(), await stack.register(name="另一家机构")
    async with stack.lender_client(registered) as lender:
        consent = await lender.request_consent(
            stack.consent_body(stack.person(), callback_url=receiver.url)
        )
    at = utcnow()
    for hours in range(0, 48, 4):
        await notifications_service.dispatch_due(
            stack.context, now=at + timedelta(hours=hours), lender_id=registered.client_id
        )
    assert len(receiver.calls) == 3
    failed = await listed(stack, registered, status="failed")
    [kept] = [n for n in failed["notifications"] if n["consent_id"] == consent["consent_id"]]
    assert (kept["seq"], kept["event"], kept["attempts"]) == (1, "consent.requested", 3)
    assert kept["last_error"] == "HTTP 503"
    assert kept["next_attempt_at"] is None
    assert kept["jws"].count(".") == 2
    assert (await listed(stack, registered, status="pending"))["notifications"] == []
    assert (await listed(stack, other))["notifications"] == []


async def test_a_failed_event_does_not_hold_back_the_later_ones(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver = Receiver(callback_url(), script=[500])
    monkeypatch.setattr(stack.context, "notification_transport", transport_for(receiver))
    monkeypatch.setattr(stack.context.settings, "notification_max_attempts", 1)
    registered = await stack.register()
    async with stack.lender_client(registered) as lender:
        consent_id, _, _ = await stack.active_consent(lender, callback_url=receiver.url)
    report = await notifications_service.dispatch_due(
        stack.context, now=utcnow(), lender_id=registered.client_id
    )
    assert (report.failed, report.delivered) == (1, 1)
    rows = await notifications_of(stack, consent_id)
    assert [(row.seq, row.status) for row in rows] == [(1, "failed"), (2, "delivered")]


async def test_unreachable_and_slow_receivers_are_retried_with_the_reason_kept(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow, down = Receiver(callback_url()), Receiver(callback_url())
    slow.raise_error = lambda request: httpx.ReadTimeout("slow", request=request)
    down.raise_error = lambda request: httpx.ConnectError("refused", request=request)
    monkeypatch.setattr(stack.context, "notification_transport", transport_for(slow, down))
    registered = await stack.register()
    async with stack.lender_client(registered) as lender:
        for receiver in (slow, down):
            await lender.request_consent(
                stack.consent_body(stack.person(), callback_url=receiver.url)
            )
    report = await notifications_service.dispatch_due(
        stack.context, now=utcnow(), lender_id=registered.client_id
    )
    assert report.retrying == 2
    pending = (await listed(stack, registered, status="pending"))["notifications"]
    assert sorted(n["last_error"] for n in pending) == [
        "could not connect (ConnectError)",
        "timed out",
    ]
    assert all(n["attempts"] == 1 and n["next_attempt_at"] for n in pending)


async def test_two_dispatchers_at_once_deliver_each_event_once(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    receivers = [Receiver(callback_url()) for _ in range(4)]
    monkeypatch.setattr(stack.context, "notification_transport", transport_for(*receivers))
    registered = await stack.register()
    async with stack.lender_client(registered) as lender:
        for receiver in receivers:
            await stack.active_consent(lender, callback_url=receiver.url)
    now = utcnow()
    reports = await asyncio.gather(
        *(
            notifications_service.dispatch_due(
                stack.context, now=now, lender_id=registered.client_id
            )
            for _ in range(3)
        )
    )
    assert sum(report.delivered for report in reports) == 8
    for receiver in receivers:
        assert [int(c.headers["X-Lendgate-Sequence"]) for c in receiver.calls] == [1, 2]


async def test_events_are_written_with_the_change_or_not_at_all(stack: Stack) -> None:
    person = stack.person()
    async with stack.lender_client(await stack.register()) as lender:
        consent = await lender.request_consent(stack.consent_body(person))
    consent_id = consent["consent_id"]
    auth = await stack.borrower_login(person.phone)
    # A refused approval (no code was asked for) changes nothing and tells the lender nothing.
    refused = await stack.http.post(
        f"/v1/borrower/consents/{consent_id}/approve", json={"code": "123456"}, headers=auth
    )
    assert refused.status_code == 401
    assert [row.event for row in await notifications_of(stack, consent_id)] == ["consent.requested"]


async def test_no_callback_url_means_no_events(stack: Stack) -> None:
    async with stack.lender_client(await stack.register()) as lender:
        consent_id, _, _ = await stack.active_consent(lender, callback_url=None)
        await lender.revoke(consent_id)
    assert await notifications_of(stack, consent_id) == []


@pytest.mark.parametrize(
    "url",
    [
        "http://lender.example/hooks",
        "ftp://lender.example/hooks",
        "https://user:secret@lender.example/hooks",
        "http://10.0.0.8/hooks",
    ],
)
async def test_callbacks_must_be_https(stack: Stack, url: str) -> None:
    registered = await stack.register()
    async with stack.lender_client(registered) as lender:
        with pytest.raises(LendgateAPIError) as refused:
            await lender.request_consent(stack.consent_body(stack.person(), callback_url=url))
        assert (refused.value.status, refused.value.code) == (422, "InvalidRequest")
        assert "secret" not in refused.value.detail
    assert (await listed(stack, registered))["notifications"] == []


async def test_loopback_http_is_allowed_in_development_and_test(stack: Stack) -> None:
    async with stack.lender_client(await stack.register()) as lender:
        consent = await lender.request_consent(
            stack.consent_body(stack.person(), callback_url="http://127.0.0.1:9009/hook")
        )
    assert consent["terms"]["callback_url"] == "http://127.0.0.1:9009/hook"


@pytest.mark.parametrize(
    ("url", "development", "allowed"),
    [
        ("https://lender.example/hooks", False, True),
        ("https://lender.example:8443/hooks?x=1", False, True),
        ("http://127.0.0.1:8080/hook", True, True),
        ("http://localhost/hook", True, True),
        ("http://127.0.0.1:8080/hook", False, False),
        ("https://127.0.0.1/hook", False, False),
        ("https://192.168.1.10/hook", False, False),
        ("https://[::1]/hook", False, False),
        ("https://169.254.169.254/latest", False, False),
        ("https://8.8.8.8/hook", False, True),
        ("http://lender.example/hooks", True, False),
        ("https://lender.example/hooks#frag", False, False),
    ],
)
def test_callback_url_rules(url: str, development: bool, allowed: bool) -> None:
    assert (callback_url_problem(url, development=development) is None) is allowed


def test_retry_waits_double_up_to_the_cap() -> None:
    waits = [
        retry_delay(n, base_seconds=30, max_seconds=3600).total_seconds() for n in range(1, 10)
    ]
    assert waits == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]


async def test_the_running_gateway_delivers_and_expires_on_its_own(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver = Receiver(callback_url())
    monkeypatch.setattr(stack.context, "notification_transport", transport_for(receiver))
    monkeypatch.setattr(stack.context.settings, "notification_dispatch_interval_seconds", 0.05)
    registered = await stack.register()
    async with stack.lender_client(registered) as lender:
        consent_id, _, _ = await stack.active_consent(lender, callback_url=receiver.url)
    await set_consent(stack, consent_id, valid_until=datetime.now(UTC) - timedelta(seconds=1))
    consent_jobs = [job for job in JOBS if job.name.startswith("consent.")]
    async with scheduler(stack.context, consent_jobs):
        for _ in range(200):
            if len(receiver.accepted) == 3:
                break
            await asyncio.sleep(0.05)
    events = receiver.events(stack.context.keys.jwks(), audience=registered.client_id)
    assert [event["event"] for event in events] == [
        "consent.requested",
        "consent.approved",
        "consent.expired",
    ]
    assert events[2]["actor"] == "gateway"
