"""Structured logs (structlog, JSON lines) that never carry personal data."""

from __future__ import annotations

import logging
import math
import sys
import time
from typing import TextIO

import structlog
from structlog.typing import Processor


def processors(redact: Processor) -> list[Processor]:
    """The processor chain: tracebacks are rendered before `redact` sees the event."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact,
        structlog.processors.JSONRenderer(ensure_ascii=False),
    ]


def configure_logging(
    level: str = "INFO", *, redact: Processor, stream: TextIO | None = None
) -> None:
    """JSON lines to `stream` (stderr by default) at `level` and above, passed through `redact`."""
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=level.upper())
    structlog.configure(
        processors=processors(redact),
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=stream or sys.stderr),
        cache_logger_on_first_use=False,
    )


class RateLimitedLog:
    """Warnings about a condition that repeats on every request (a database outage): one
    line per `interval_seconds`, carrying how many were left out since the last."""

    def __init__(self, interval_seconds: float):
        self.interval_seconds = interval_seconds
        self._last = -math.inf
        self._suppressed = 0

    def failure(self, event: str, error: BaseException) -> None:
        """Note one failure: logged (type only, no traceback) unless one was just logged."""
        now = time.monotonic()
        if now - self._last < self.interval_seconds:
            self._suppressed += 1
            return
        self._last = now
        suppressed, self._suppressed = self._suppressed, 0
        structlog.get_logger().warning(event, error=type(error).__name__, suppressed=suppressed)
