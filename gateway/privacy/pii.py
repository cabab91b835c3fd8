"""Keeping personal values out of logs.

`Pii` wraps a value so that every way of turning it into text shows the masked
form; only `.reveal()` hands out the raw value. `redact_pii` is the structlog
processor that masks `Pii` values and, as a safety net, any personal data the
recognizers find in other values, so a careless `log.info("...", id=raw_id)`
still writes `110***********002X`.

Place `redact_pii` after `format_exc_info` (so rendered tracebacks are scanned too)
and right before the renderer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from structlog.typing import EventDict, WrappedLogger

from gateway.privacy.masking import mask_value

# structlog reads these itself; a string in their place would break the exception
# formatters, which is why redact_pii must run after them. The level, time and logger name
# are set by the processors and the code, never from data: they are not scanned.
_STRUCTURAL_KEYS: Final = frozenset({"exc_info", "stack_info", "timestamp", "level", "logger"})


class Pii:
    """A personal value that shows only its masked form unless explicitly revealed."""

    __slots__ = ("_value", "entity")

    def __init__(self, value: str, entity: str) -> None:
        self._value = value
        self.entity = entity

    @property
    def masked(self) -> str:
        """The display form, e.g. `138****8000`."""
        return mask_value(self.entity, self._value)

    def reveal(self) -> str:
        """The raw value; call only where the value itself is needed (a query, a source call)."""
        return self._value

    def __str__(self) -> str:
        return self.masked

    def __repr__(self) -> str:
        return f"Pii({self.entity}, {self.masked!r})"

    def __format__(self, format_spec: str) -> str:
        return format(self.masked, format_spec)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Pii):
            return NotImplemented
        return (self.entity, self._value) == (other.entity, other._value)

    def __hash__(self) -> int:
        return hash((Pii, self.entity, self._value))


def redact_pii(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """structlog processor: mask `Pii` values and any personal data found in other values."""
    for key, value in event_dict.items():
        if key not in _STRUCTURAL_KEYS:
            event_dict[key] = _redact(str(key), value)
    return event_dict


def _redact(key: str, value: Any) -> Any:
    """`value` with personal data masked; a scalar or object holding none comes back as is."""
    # Imported here so `Pii` stays cheap to import; Presidio loads on the first log line.
    from gateway.privacy import recognizers

    if isinstance(value, Pii):
        return value.masked
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return recognizers.apply_masks(value, recognizers.find_pii_in_field(key, value))
    if isinstance(value, int) or (isinstance(value, float) and _is_whole(value)):
        # A phone or ID number stored as a number is just as personal as the string.
        text = str(int(value))
        findings = recognizers.find_pii(text)
        return recognizers.apply_masks(text, findings) if findings else value
    if isinstance(value, float):
        return value
    if isinstance(value, Mapping):
        return {k: _redact(str(k), v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(key, item) for item in value]
    if isinstance(value, tuple | set | frozenset):
        return tuple(_redact(key, item) for item in value)
    # Other objects are rendered later with repr(); check that text now.
    text = repr(value)
    findings = recognizers.find_pii_in_field(key, text)
    return recognizers.apply_masks(text, findings) if findings else value


def _is_whole(value: float) -> bool:
    """A float that exactly holds a whole number (past 2**53 it cannot hold every digit)."""
    return math.isfinite(value) and value.is_integer() and abs(value) < 2**53
