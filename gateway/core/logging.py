"""Structured logs (structlog, JSON lines) that never carry personal data."""

from __future__ import annotations

import logging
import sys
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
