"""Audit events as the code builds them, before they become leaves."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

LEAF_KEYS = (
    "seq",
    "ts",
    "type",
    "actor",
    "consent_id",
    "lender_id",
    "borrower_ref",
    "purpose",
    "features",
    "source_fields",
    "outcome",
    "reason",
    "payload_digest",
    "request_id",
    "policy_version",
)


@dataclass(frozen=True)
class AuditEvent:
    """One thing that happened. Identifiers and pseudonyms only — never personal data."""

    type: str
    actor: str
    outcome: str = "ok"
    consent_id: str | None = None
    lender_id: str | None = None
    borrower_ref: str | None = None
    purpose: str | None = None
    features: Sequence[str] = ()
    source_fields: Sequence[str] = ()
    reason: str | None = None
    payload_digest: str | None = None
    request_id: str | None = None
    policy_version: str | None = None

    def leaf(self, seq: int, ts: datetime) -> dict[str, Any]:
        """The leaf object for position `seq`, stamped `ts`."""
        return {
            "seq": seq,
            "ts": format_ts(ts),
            "type": self.type,
            "actor": self.actor,
            "consent_id": self.consent_id,
            "lender_id": self.lender_id,
            "borrower_ref": self.borrower_ref,
            "purpose": self.purpose,
            "features": sorted(self.features),
            "source_fields": sorted(self.source_fields),
            "outcome": self.outcome,
            "reason": self.reason,
            "payload_digest": self.payload_digest,
            "request_id": self.request_id,
            "policy_version": self.policy_version,
        }


def format_ts(ts: datetime) -> str:
    """RFC 3339 in UTC with milliseconds, e.g. `2026-11-23T10:00:00.000Z`."""
    utc = ts.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
