"""Lender notifications: signed consent events, written with the change, delivered afterwards.

A state change and its event commit in one transaction (the outbox), so a lender
is told of exactly the changes that happened. Delivery runs later, outside any
request: each event is POSTed to the consent's `callback_url` as a JWS signed by
the gateway's key (`Content-Type: application/jwt`), oldest first per consent;
a failure is retried after a doubling wait, and after the last attempt the event
is kept as `failed` for the lender to read (`GET /v1/notifications`).

Delivery is at least once: a dispatcher that dies after the POST but before
writing down the outcome leaves the event to be sent again, so receivers
deduplicate by `jti` (the notification id) or by (`consent_id`, `seq`).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import structlog
from lendgate_sdk.claims import ISSUER, NOTIFICATION_TYPE, NotificationClaims
from sqlalchemy.ext.asyncio import AsyncSession

from consent.models import Consent
from consent.notifications import repository
from consent.notifications.models import ConsentNotification
from consent.notifications.rules import DeliveryStatus, retry_delay
from consent.notifications.schemas import NotificationPage, NotificationView
from gateway.core.db import unit_of_work
from gateway.core.ids import new_id
from gateway.core.metrics import NOTIFICATION_DELIVERIES
from gateway.crypto import jose
from gateway.runtime.context import GatewayContext

log = structlog.get_logger()

MAX_CONCURRENT_DELIVERIES = 8
# A round claims this many events; a call keeps going round while events come due.
BATCH_SIZE = 50
DELIVERY_OUTCOMES = {
    DeliveryStatus.DELIVERED: "delivered",
    DeliveryStatus.PENDING: "retrying",
    DeliveryStatus.FAILED: "failed",
}
"""An attempt's outcome as the deliveries metric names it (`pending` again: a retry is due)."""
MAX_ROUNDS = 100


def actor_kind(actor: str) -> str:
    """Who acted, as the lender is told: `borrower`, `lender` or `gateway` (never an id)."""
    return actor.split(":", 1)[0] if actor.startswith(("lender:", "borrower")) else "gateway"


async def enqueue(
    session: AsyncSession,
    context: GatewayContext,
    consent: Consent,
    *,
    event: str,
    previous_status: str | None,
    actor: str,
    at: datetime,
    occurred_at: datetime | None = None,
) -> ConsentNotification | None:
    """Sign the event of a state change into the outbox, in the change's own transaction.

    `at` is when the change is recorded; `occurred_at`, when it took effect, if
    earlier (an expiry is recorded by the first read that finds it).

    A consent without a `callback_url` has nobody to tell: the lender reads its
    status from `GET /v1/consents/{id}` instead.
    """
    if not consent.callback_url:
        return None
    seq = await repository.next_seq(session, consent.id)
    notification_id = new_id("ntf")
    signing_key = context.keys.signing_key
    claims: NotificationClaims = {
        "iss": ISSUER,
        "aud": consent.lender_id,
        "sub": consent.id,
        "jti": notification_id,
        "iat": int(at.timestamp()),
        "event": event,
        "seq": seq,
        "consent_id": consent.id,
        "status": consent.status,
        "previous_status": previous_status,
        "occurred_at": (occurred_at or at).isoformat(),
        "actor": actor_kind(actor),
    }
    notification = ConsentNotification(
        id=notification_id,
        consent_id=consent.id,
        lender_id=consent.lender_id,
        seq=seq,
        event=event,
        callback_url=consent.callback_url,
        jws=jose.sign_jwt(claims, signing_key.private_key, signing_key.kid, typ=NOTIFICATION_TYPE),
        kid=signing_key.kid,
        status=DeliveryStatus.PENDING,
        attempts=0,
        next_attempt_at=at,
        created_at=at,
    )
    session.add(notification)
    await session.flush()
    return notification


@dataclass
class DispatchReport:
    """What one call of `dispatch_due` did."""

    delivered: int = 0
    retrying: int = 0
    failed: int = 0

    @property
    def attempted(self) -> int:
        """Delivery attempts made."""
        return self.delivered + self.retrying + self.failed

    def count(self, outcome: DeliveryStatus) -> None:
        """Count one attempt's outcome (`pending` again means it will be retried)."""
        if outcome is DeliveryStatus.DELIVERED:
            self.delivered += 1
        elif outcome is DeliveryStatus.FAILED:
            self.failed += 1
        else:
            self.retrying += 1


async def dispatch_due(
    context: GatewayContext, *, now: datetime | None = None, lender_id: str | None = None
) -> DispatchReport:
    """Deliver every notification due at `now` (default: the clock), in order per consent.

    Rounds continue while delivering one event makes the consent's next one due;
    an event that fails waits for its retry, and the events behind it with it.
    `lender_id` limits the call to one lender's events.
    """
    settings = context.settings
    report = DispatchReport()
    async with contextlib.AsyncExitStack() as resources:
        # The HTTP client (and its TLS context, costly to build) only once there is work.
        client: httpx.AsyncClient | None = None
        for _ in range(MAX_ROUNDS):
            at = now or context.clock.now()
            lease = timedelta(seconds=settings.notification_timeout_seconds * 2 + 30)
            async with unit_of_work(context.sessionmaker) as session:
                claimed = await repository.claim_due(
                    session, at, at + lease, lender_id=lender_id, limit=BATCH_SIZE
                )
            if not claimed:
                break
            if client is None:
                client = await resources.enter_async_context(
                    httpx.AsyncClient(
                        transport=context.notification_transport,
                        timeout=settings.notification_timeout_seconds,
                        follow_redirects=False,
                        headers={"User-Agent": "lendgate-notifications/1"},
                    )
                )
            errors = await deliver_all(client, claimed)
            async with unit_of_work(context.sessionmaker) as session:
                outcomes = [
                    await _record(session, context, notification, error, now or context.clock.now())
                    for notification, error in zip(claimed, errors, strict=True)
                ]
            for outcome in outcomes:
                report.count(outcome)
                NOTIFICATION_DELIVERIES.labels(DELIVERY_OUTCOMES[outcome]).inc()
    return report


async def deliver_all(
    client: httpx.AsyncClient, notifications: list[ConsentNotification]
) -> list[str | None]:
    """Deliver events of different consents side by side, a few at a time."""
    gate = asyncio.Semaphore(MAX_CONCURRENT_DELIVERIES)

    async def attempt(notification: ConsentNotification) -> str | None:
        async with gate:
            return await deliver(client, notification)

    return list(await asyncio.gather(*(attempt(item) for item in notifications)))


async def deliver(client: httpx.AsyncClient, notification: ConsentNotification) -> str | None:
    """POST one signed event; None when the receiver took it (2xx), else why not."""
    try:
        response = await client.post(
            notification.callback_url,
            content=notification.jws.encode(),
            headers={
                "Content-Type": "application/jwt",
                "X-Lendgate-Notification-Id": notification.id,
                "X-Lendgate-Event": notification.event,
                "X-Lendgate-Sequence": str(notification.seq),
            },
        )
    except httpx.TimeoutException:
        return "timed out"
    except httpx.HTTPError as error:
        return f"could not connect ({type(error).__name__})"
    if response.is_success:
        return None
    return f"HTTP {response.status_code}"


async def _record(
    session: AsyncSession,
    context: GatewayContext,
    notification: ConsentNotification,
    error: str | None,
    at: datetime,
) -> DeliveryStatus:
    settings = context.settings
    attempts = notification.attempts + 1
    next_attempt_at = at
    if error is None:
        status = DeliveryStatus.DELIVERED
    elif attempts >= settings.notification_max_attempts:
        status = DeliveryStatus.FAILED
    else:
        status = DeliveryStatus.PENDING
        next_attempt_at = at + retry_delay(
            attempts,
            base_seconds=settings.notification_retry_backoff_seconds,
            max_seconds=settings.notification_retry_backoff_max_seconds,
        )
    await repository.record_attempt(
        session,
        notification.id,
        status=status,
        attempts=attempts,
        at=at,
        next_attempt_at=next_attempt_at,
        error=error,
    )
    outcome = "retrying" if status is DeliveryStatus.PENDING else status.value
    log.info(
        f"notification.{outcome}",
        notification_id=notification.id,
        consent_id=notification.consent_id,
        seq=notification.seq,
        attempts=attempts,
        error=error,
    )
    return status


def view(notification: ConsentNotification) -> NotificationView:
    """A notification as its lender sees it."""
    pending = notification.status == DeliveryStatus.PENDING
    return NotificationView(
        notification_id=notification.id,
        consent_id=notification.consent_id,
        seq=notification.seq,
        event=notification.event,
        status=notification.status,
        attempts=notification.attempts,
        created_at=notification.created_at,
        next_attempt_at=notification.next_attempt_at if pending else None,
        last_attempt_at=notification.last_attempt_at,
        last_error=notification.last_error,
        delivered_at=notification.delivered_at,
        callback_url=notification.callback_url,
        jws=notification.jws,
    )


async def list_for_lender(
    session: AsyncSession,
    lender_id: str,
    *,
    status: str | None,
    consent_id: str | None,
    cursor: str | None,
    limit: int,
) -> NotificationPage:
    """The lender's notifications, oldest first, by delivery status and consent."""
    page = await repository.list_for_lender(
        session, lender_id, status=status, consent_id=consent_id, cursor=cursor, limit=limit
    )
    return NotificationPage(
        notifications=[view(item) for item in page.items], next_cursor=page.next_cursor
    )
