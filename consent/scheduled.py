"""The consents' periodic jobs: timely expiry, then delivery of the lender notifications.

Several gateways may run them at once: expiries are recorded by compare-and-swap
and notifications are leased, so each is handled once.
"""

from __future__ import annotations

from consent import expiry
from consent.notifications import service as notifications_service
from gateway.core.settings import Settings
from gateway.runtime.context import GatewayContext


def dispatch_interval(settings: Settings) -> float:
    """Seconds between the consent jobs' runs."""
    return settings.notification_dispatch_interval_seconds


async def expire_due(context: GatewayContext) -> None:
    """Record the expiries that are due."""
    await expiry.expire_due(context)


async def dispatch_notifications(context: GatewayContext) -> None:
    """Deliver the lender notifications that are due."""
    await notifications_service.dispatch_due(context)


JOBS = (
    ("consent.expire_due", dispatch_interval, expire_due),
    ("consent.dispatch_notifications", dispatch_interval, dispatch_notifications),
)
