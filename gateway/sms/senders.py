"""The pluggable SMS sender for one-time codes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Protocol

import structlog

from gateway.core.clock import utcnow
from gateway.core.settings import Settings

log = structlog.get_logger()


class SmsSender(Protocol):
    """Delivers a one-time code to a phone."""

    async def send_code(self, phone: str, code: str) -> None:
        """Send `code` to `phone`."""
        ...


class OutboxSender:
    """Development sender: appends `{"phone", "code", "ts"}` as one JSON line to a file."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = asyncio.Lock()

    async def send_code(self, phone: str, code: str) -> None:
        """Append the message to the outbox file."""
        line = json.dumps({"phone": phone, "code": code, "ts": utcnow().isoformat()})
        async with self._lock:
            await asyncio.to_thread(self._append, line)

    def _append(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as outbox:
            outbox.write(line + "\n")


class UnconfiguredSender:
    """No SMS gateway configured: codes cannot be delivered, and the caller is told so."""

    async def send_code(self, phone: str, code: str) -> None:
        """Refuse: there is nowhere to send the code."""
        log.error("sms.not_configured")
        raise RuntimeError("no SMS sender is configured (set LENDGATE_SMS_OUTBOX in development)")


def sms_sender_for(settings: Settings) -> SmsSender:
    """The sender the settings ask for."""
    if settings.sms_outbox is not None:
        return OutboxSender(settings.sms_outbox)
    return UnconfiguredSender()
