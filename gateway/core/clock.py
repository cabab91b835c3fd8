"""The gateway's clock: the system's in service, one a test sets by hand.

Services read the time from `context.clock`, so a test moves time by setting
the context's clock rather than patching modules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class Clock(Protocol):
    """Where the time that decides something comes from."""

    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...


class SystemClock:
    """The system's clock, in UTC."""

    def now(self) -> datetime:
        """The current time, timezone-aware in UTC."""
        return utcnow()


@dataclass
class ManualClock:
    """A clock that stands at `at` until `at` is set again."""

    at: datetime

    def now(self) -> datetime:
        """The time the clock was set to."""
        return self.at
