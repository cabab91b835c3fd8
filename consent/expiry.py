"""Expiry: a consent whose time is up is written down as `EXPIRED`, once.

Expiry needs no job to be right (`views.status_now` applies the clock), but it
must be on record: the first read or action that finds the consent expired
writes `EXPIRED`, the `consent.expired` event and the lender's notification, in
its own unit of work; the periodic job does the same for consents nobody looks at.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from consent import repository
from consent.events import GATEWAY_ACTOR, consent_event
from consent.models import Consent
from consent.notifications import service as notifications_service
from consent.states import ConsentStatus, expired_at
from consent.views import status_now
from gateway.audit import service as audit_service
from gateway.core.db import on_rollback, unit_of_work
from gateway.runtime.context import GatewayContext

log = structlog.get_logger()


async def settle(
    session: AsyncSession, context: GatewayContext, consent: Consent, now: datetime | None = None
) -> ConsentStatus:
    """The consent's status at `now`, for an action that may be refused; an expiry is recorded.

    Written in the action's transaction; if the action is then refused and rolled
    back, it is written again in a transaction of its own.
    """
    now = now or context.clock.now()
    status = status_now(consent, now)
    if status is ConsentStatus.EXPIRED and consent.status != ConsentStatus.EXPIRED:
        consent_id = consent.id

        async def record_if_refused(fresh: AsyncSession) -> None:
            again = await repository.get(fresh, consent_id)
            if again is not None:
                await record_expiry(fresh, context, again, now)

        on_rollback(session, record_if_refused)
        await record_expiry(session, context, consent, now)
    return status


async def settle_all(
    session: AsyncSession,
    context: GatewayContext,
    consents: Iterable[Consent],
    now: datetime | None = None,
) -> None:
    """Record, in the read's own unit of work, the expiries its consents have come to.

    Every row is claimed (in id order) before any event is appended: a release
    holds its consent's row and then the audit log's head, so a read that took
    the head first and then waited on a row could wait on it in a circle.
    """
    now = now or context.clock.now()
    due = sorted(
        (
            consent
            for consent in consents
            if consent.status != ConsentStatus.EXPIRED
            and status_now(consent, now) is ConsentStatus.EXPIRED
        ),
        key=lambda consent: consent.id,
    )
    marked = [(consent, await _mark_expired(session, consent, now)) for consent in due]
    for consent, stored in marked:
        if stored is not None:
            await _announce_expiry(session, context, consent, stored, now)


async def record_expiry(
    session: AsyncSession, context: GatewayContext, consent: Consent, now: datetime
) -> bool:
    """Write down that the consent expired; whether this call did (False: not due, or done).

    Safe to race: a compare-and-swap on the stored status lets exactly one caller write.
    """
    stored = await _mark_expired(session, consent, now)
    if stored is None:
        return False
    await _announce_expiry(session, context, consent, stored, now)
    return True


async def _mark_expired(
    session: AsyncSession, consent: Consent, now: datetime
) -> ConsentStatus | None:
    """Move the row to `EXPIRED` if it is due and still as read; the status it left, if so."""
    stored = consent.status
    if stored is ConsentStatus.EXPIRED or status_now(consent, now) is not ConsentStatus.EXPIRED:
        return None
    moment = expired_at(
        stored, valid_until=consent.valid_until, request_expires_at=consent.request_expires_at
    )
    if not await repository.mark_expired(session, consent.id, stored=stored, ended_at=moment):
        await session.refresh(consent)
        return None
    set_committed_value(consent, "status", ConsentStatus.EXPIRED)
    set_committed_value(consent, "ended_at", moment)
    return stored


async def _announce_expiry(
    session: AsyncSession,
    context: GatewayContext,
    consent: Consent,
    stored: ConsentStatus,
    now: datetime,
) -> None:
    """The `consent.expired` event and the lender's notification of an expiry just recorded."""
    reason = (
        "the request was not answered in time"
        if stored is ConsentStatus.PENDING
        else "the validity window ended"
    )
    await audit_service.append(
        session, consent_event(consent, "consent.expired", GATEWAY_ACTOR, reason=reason)
    )
    await notifications_service.enqueue(
        session,
        context,
        consent,
        event="consent.expired",
        previous_status=stored,
        actor=GATEWAY_ACTOR,
        at=now,
        occurred_at=consent.ended_at,
    )
    log.info("consent.expired", consent_id=consent.id, was=stored)


async def expire_due(
    context: GatewayContext, now: datetime | None = None, limit: int = 100
) -> list[str]:
    """Record up to `limit` expiries nobody has come across yet, each in its own transaction.

    Not needed for correctness: it makes the lender's `consent.expired`
    notification leave when the consent expires, not when someone next looks.
    """
    now = now or context.clock.now()
    async with context.sessionmaker() as session:
        due = await repository.due_for_expiry(session, now, limit)
    recorded = []
    for consent_id in due:
        async with unit_of_work(context.sessionmaker) as session:
            consent = await repository.get(session, consent_id)
            if consent is not None and await record_expiry(session, context, consent, now):
                recorded.append(consent_id)
    return recorded
