"""The egress guard: the last look at every outbound payload before it is signed.

Derived features are bands, flags and counts; a resident ID or phone number in a
release means a derivation or a source mapping went wrong. The guard walks every
key and value, reads numbers as text too (an 18-digit ID fits in a JSON integer),
and blocks the release when it finds an entity the purpose does not allow.
Findings and errors name entity types and JSON paths, never values.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from gateway.core.errors import EgressBlocked
from gateway.core.metrics import EGRESS_BLOCKS
from gateway.privacy.pii import Pii
from gateway.privacy.recognizers import (
    ENTITIES,
    PREFILTER,
    apply_masks,
    find_pii,
    find_pii_in_field,
)


@dataclass(frozen=True, slots=True)
class EgressFinding:
    """An entity type and the JSON path where it sits (`features.note`); never the value."""

    entity: str
    path: str


class PersonalDataBlocked(EgressBlocked):
    """`EgressBlocked` with what was found: entity types and paths, never values."""

    def __init__(self, findings: Sequence[EgressFinding]):
        self.findings = tuple(findings)
        where = ", ".join(f"{f.entity} at {f.path}" for f in self.findings)
        super().__init__(
            f"The outbound payload carried personal data ({where}); nothing was released."
        )

    @property
    def entities(self) -> tuple[str, ...]:
        """The entity types found, each once, sorted."""
        return tuple(sorted({f.entity for f in self.findings}))


class EgressGuard:
    """Scans outbound payloads for personal data and blocks releases that carry it.

    `allowed_by_purpose` names the entity types a purpose may release (a purpose
    whose very point is a contact detail, say); every other purpose, and every
    other entity type, is blocked. Nothing is allowed by default.
    """

    def __init__(self, allowed_by_purpose: Mapping[str, Iterable[str]] | None = None):
        allowed = {
            purpose: frozenset(entities) for purpose, entities in (allowed_by_purpose or {}).items()
        }
        unknown = {entity for entities in allowed.values() for entity in entities} - set(ENTITIES)
        if unknown:
            raise ValueError(f"unknown entity types: {', '.join(sorted(unknown))}")
        self._allowed = allowed

    def allowed_for(self, purpose: str | None) -> frozenset[str]:
        """The entity types `purpose` may release."""
        return self._allowed.get(purpose or "", frozenset())

    def scan(self, payload: Mapping[str, Any]) -> list[EgressFinding]:
        """Every entity type found in `payload` with the path where it sits, in payload order."""
        if _clearly_clean(payload):
            return []
        findings: list[EgressFinding] = []
        self._walk(payload, path="", key="", findings=findings)
        return list(dict.fromkeys(findings))

    def check(
        self,
        payload: Mapping[str, Any],
        *,
        purpose: str | None = None,
        allowed_entities: Iterable[str] = (),
    ) -> None:
        """Raise `PersonalDataBlocked` if `payload` carries an entity the purpose does not allow.

        `allowed_entities` adds to what the guard's settings allow `purpose`.
        """
        allowed = self.allowed_for(purpose) | frozenset(allowed_entities)
        blocked = [f for f in self.scan(payload) if f.entity not in allowed]
        if blocked:
            refusal = PersonalDataBlocked(blocked)
            for entity in refusal.entities:
                EGRESS_BLOCKS.labels(purpose or "none", entity).inc()
            raise refusal

    def _walk(self, node: Any, *, path: str, key: str, findings: list[EgressFinding]) -> None:
        """Scan `node` and everything under it; `key` is the nearest dict key, for context."""
        if isinstance(node, Mapping):
            for child_key, child in node.items():
                key_text = str(child_key)
                key_findings = find_pii(key_text)
                # A key holding personal data must not leak through the path either.
                segment = apply_masks(key_text, key_findings)
                child_path = f"{path}.{segment}" if path else segment
                findings.extend(EgressFinding(f.entity, child_path) for f in key_findings)
                self._walk(child, path=child_path, key=key_text, findings=findings)
        elif isinstance(node, list | tuple | set | frozenset):
            for index, item in enumerate(node):
                self._walk(item, path=f"{path}[{index}]", key=key, findings=findings)
        elif isinstance(node, Pii):
            findings.append(EgressFinding(node.entity, path))
        else:
            text = _as_text(node)
            if text is not None:
                findings.extend(EgressFinding(f.entity, path) for f in find_pii_in_field(key, text))


class _HoldsPii(Exception):
    """A `Pii` object sits in the payload; it serializes masked, so the text would miss it."""


def _serialize_other(value: Any) -> str:
    """JSON fallback for the pre-filter: what `_as_text` would read, refusing `Pii` objects."""
    if isinstance(value, Pii):
        raise _HoldsPii
    return _as_text(value) or ""


def _clearly_clean(payload: Mapping[str, Any]) -> bool:
    """One pre-filter pass over the serialized payload; most releases end here."""
    try:
        text = json.dumps(payload, ensure_ascii=False, default=_serialize_other)
    except (TypeError, _HoldsPii):
        # Keys JSON cannot carry (tuples, objects) or a Pii object: walk everything.
        return False
    return PREFILTER.search(text) is None


def _as_text(value: Any) -> str | None:
    """The text a scalar reaches the lender as; None for values that cannot carry data."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        # 1.3800138e10 is a phone number that went through a float column. Past 2**53
        # a float no longer holds every digit, so it cannot carry a card or ID intact.
        if math.isfinite(value) and value.is_integer() and abs(value) < 2**53:
            return str(int(value))
        return repr(value)
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return str(int(value))
    return str(value)
