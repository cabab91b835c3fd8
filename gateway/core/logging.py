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


LIBRARY_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
"""Loggers that install handlers of their own; they are sent through the JSON chain instead."""
QUIET_LOGGERS = ("presidio-analyzer", "httpx", "httpcore")
"""Libraries whose INFO lines say only how they loaded or repeat a request: warnings and above
are kept. (Presidio logs while it is first imported, which may be by the redaction of that
very line; httpx would log every call to a source or a lender's callback, with its URL.)"""


def configure_logging(
    level: str = "INFO", *, redact: Processor, stream: TextIO | None = None
) -> None:
    """JSON lines to `stream` (stderr by default) at `level` and above, passed through `redact`.

    Libraries' standard-library records (INFO and up) go through the same chain, so every
    line is JSON with the request id bound at the time. uvicorn's access log is off: the
    gateway writes one line per request itself, without the client's address.
    """
    output = stream or sys.stderr
    chain = processors(redact)
    handler = logging.StreamHandler(output)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*chain[:3], structlog.stdlib.add_logger_name],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *chain[3:]],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    # Libraries' DEBUG lines hold SQL parameters and HTTP bodies: never below INFO for them,
    # whatever level the gateway's own lines are written at.
    root.setLevel(max(logging.INFO, logging.getLevelName(level.upper())))
    for name in LIBRARY_LOGGERS:
        library = logging.getLogger(name)
        library.handlers = []
        library.propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    structlog.configure(
        processors=chain,
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=output),
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
