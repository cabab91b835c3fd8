"""What each running gateway does in the background for consents: timely expiry, notifications."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import structlog
from sqlalchemy.exc import SQLAlchemyError

from consent import service as consent_service
from consent.notifications import service as notifications_service
from gateway.core.errors import LendgateError
from gateway.runtime.context import GatewayContext

log = structlog.get_logger()


async def run_once(context: GatewayContext) -> None:
    """Record the expiries that are due, then deliver the notifications that are due."""
    await consent_service.expire_due(context)
    await notifications_service.dispatch_due(context)


async def run_periodically(context: GatewayContext, interval: float) -> None:
    """`run_once` every `interval` seconds until cancelled; a failed pass is logged, not fatal."""
    while True:
        try:
            await run_once(context)
        except (SQLAlchemyError, LendgateError) as error:
            log.error("consent.schedule_failed", error=type(error).__name__)
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def lifecycle_schedule(context: GatewayContext) -> AsyncIterator[None]:
    """Run the schedule for as long as the app runs (off when the interval is 0).

    Several gateways may run it at once: expiries are recorded by compare-and-swap
    and notifications are leased, so each is handled once.
    """
    interval = context.settings.notification_dispatch_interval_seconds
    if interval <= 0:
        yield
        return
    task = asyncio.create_task(run_periodically(context, interval))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
