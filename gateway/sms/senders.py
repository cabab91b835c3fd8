"""The pluggable SMS sender for one-time codes.

`LENDGATE_SMS_SENDER` chooses it, as `LENDGATE_KMS` chooses the KMS: `outbox` (development:
every message appended to a file) or `package.module:factory`, a function that takes the
settings and returns an `SmsSender` (`gateway.sms.http:http_sender` is the shipped one for an
HTTP provider). Unset, development uses the outbox and any other environment refuses to start.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
from pathlib import Path
from typing import Protocol, runtime_checkable

import structlog

from gateway.core.clock import utcnow
from gateway.core.settings import Settings

log = structlog.get_logger()

OUTBOX_SENDER = "outbox"


class SmsNotConfigured(ValueError):
    """The settings name no usable SMS sender: the gateway must not start."""


class SmsDeliveryFailed(RuntimeError):
    """The SMS provider did not take the message."""


@runtime_checkable
class SmsSender(Protocol):
    """Delivers a one-time code to a phone."""

    kind: str
    """What `/readyz` names the sender by (`outbox`, `http`, or a plug-in's own name)."""

    async def send_code(self, phone: str, code: str) -> None:
        """Send `code` to `phone` (raise `SmsDeliveryFailed` when the provider refuses)."""
        ...

    async def health(self) -> bool:
        """Whether a code sent now could be delivered, as far as the sender can tell."""
        ...


class OutboxSender:
    """Development sender: appends `{"phone", "code", "ts"}` as one JSON line to a file."""

    kind = OUTBOX_SENDER

    def __init__(self, path: Path):
        self.path = path
        self._lock = asyncio.Lock()

    async def send_code(self, phone: str, code: str) -> None:
        """Append the message to the outbox file."""
        line = json.dumps({"phone": phone, "code": code, "ts": utcnow().isoformat()})
        async with self._lock:
            await asyncio.to_thread(self._append, line)

    async def health(self) -> bool:
        """Whether the outbox's folder exists (or can be made) and may be written."""
        return await asyncio.to_thread(self._writable)

    def _writable(self) -> bool:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError:
            return False
        if self.path.exists():
            return os.access(self.path, os.W_OK)
        return os.access(self.path.parent, os.W_OK)

    def _append(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as outbox:
            outbox.write(line + "\n")


def configured_sms_sender(settings: Settings) -> SmsSender:
    """The sender `LENDGATE_SMS_SENDER` names; refuses (`SmsNotConfigured`) to run without one."""
    choice = settings.sms_sender
    if choice is None:
        if not settings.is_development:
            raise SmsNotConfigured(
                "no SMS sender: set LENDGATE_SMS_SENDER to package.module:factory "
                "(gateway.sms.http:http_sender for an HTTP provider)"
            )
        choice = OUTBOX_SENDER
    if choice == OUTBOX_SENDER:
        if not settings.is_development:
            raise SmsNotConfigured(
                "the SMS outbox is for development only: set LENDGATE_SMS_SENDER to a real "
                "sender (gateway.sms.http:http_sender for an HTTP provider)"
            )
        return OutboxSender(settings.resolved_sms_outbox)
    module_name, _, factory_name = choice.partition(":")
    if not module_name or not factory_name:
        raise SmsNotConfigured(
            f"LENDGATE_SMS_SENDER={choice} is neither `outbox` nor package.module:factory"
        )
    try:
        factory = getattr(importlib.import_module(module_name), factory_name)
    except (ImportError, AttributeError) as error:
        raise SmsNotConfigured(f"LENDGATE_SMS_SENDER={choice} cannot be loaded: {error}") from error
    sender = factory(settings)
    if not isinstance(sender, SmsSender):
        raise SmsNotConfigured(f"LENDGATE_SMS_SENDER={choice} did not return an SmsSender")
    return sender
