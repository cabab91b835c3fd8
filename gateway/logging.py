"""Structured logs (structlog, JSON lines) that never carry personal data."""

from __future__ import annotations

import logging
import sys

import structlog

from gateway.protection.pii import redact_pii


def configure_logging(level: str = "INFO") -> None:
    """JSON logs to stderr; every event passes the PII redactor last before rendering."""
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=level.upper())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact_pii,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
