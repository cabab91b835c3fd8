"""Pure rules of notification delivery: where events may go, and when to try again."""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from enum import StrEnum
from urllib.parse import urlsplit

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class DeliveryStatus(StrEnum):
    """Where a notification is in its delivery."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


def callback_url_problem(url: str, *, development: bool) -> str | None:
    """Why the gateway will not POST events to `url`, or None when it may.

    Events go over https only; a development or test gateway may also call plain
    http on the loopback interface. Credentials in the URL would be stored and
    shown with every event, and in production an address inside a private network
    is never a lender's public endpoint.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host:
        return "`callback_url` needs a host."
    if parts.username or parts.password:
        return "`callback_url` must not carry credentials."
    if parts.fragment:
        return "`callback_url` must not carry a fragment."
    if parts.scheme == "http" and development and host in LOOPBACK_HOSTS:
        return None
    if parts.scheme != "https":
        return "`callback_url` must use https (http only to 127.0.0.1 in development)."
    if not development and (host in LOOPBACK_HOSTS or _internal_address(host)):
        return "`callback_url` must be a public address."
    return None


def _internal_address(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return not address.is_global


def retry_delay(attempts: int, *, base_seconds: float, max_seconds: float) -> timedelta:
    """How long to wait after the `attempts`-th failed attempt: doubling from `base`, capped."""
    exponent = min(max(attempts - 1, 0), 32)
    return timedelta(seconds=min(base_seconds * 2**exponent, max_seconds))
