"""Fault injection: making a simulator misbehave the way real source systems do.

A `FaultPlan` is set per simulator, at start-up (`LENDGATE_SIMULATOR_FAULTS`) or at
run time (`PUT /admin/faults`). Each fault has a rate between 0 and 1: the share of
queries it strikes, drawn from the plan's own seeded generator so a test that sets
a rate of 1 (or 0) always sees the same thing, and a run with a fractional rate
can be repeated. Faults strike authenticated, well-formed queries only.

* `latency_ms` (+ up to `jitter_ms`) — every answer waits this long first.
* `timeout_rate` — the query hangs for `hang_seconds` (longer than any sane client
  timeout), then is answered 504.
* `error_rate` — answered with `error_status` (a 5xx) and an error body.
* `malformed_rate` — answered 200 with a body cut off mid-JSON.
* `overshare_rate` — the answer carries the person's whole record, every field and
  every month, plus a field the schema does not know, instead of what was asked.
* `plant_pii_rate` — personal data (the person's own name, mobile and resident ID)
  is planted in the answer, where `plant_pii_into` says: the free-text `remarks`
  field (sent whether asked for or not), every string value, or every whole number
  (a mobile number fits in an integer field).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from connectors.people.histories import Person

UNKNOWN_FIELD = "internal_operator_note"
"""A field no schema knows, sent by an oversharing source."""


class FaultPlan(BaseModel):
    """How a simulator misbehaves; the default plan is a healthy source."""

    model_config = ConfigDict(extra="forbid")

    latency_ms: int = Field(0, ge=0, le=120_000, description="Added to every answer.")
    jitter_ms: int = Field(0, ge=0, le=120_000, description="Up to this much more, at random.")
    timeout_rate: float = Field(0.0, ge=0, le=1, description="Share of queries that hang.")
    hang_seconds: float = Field(30.0, ge=0, le=600, description="How long a hung query hangs.")
    error_rate: float = Field(0.0, ge=0, le=1, description="Share answered with a 5xx.")
    error_status: int = Field(503, ge=500, le=599, description="The status of those answers.")
    malformed_rate: float = Field(0.0, ge=0, le=1, description="Share answered with broken JSON.")
    overshare_rate: float = Field(0.0, ge=0, le=1, description="Share sent the whole record.")
    plant_pii_rate: float = Field(0.0, ge=0, le=1, description="Share with personal data planted.")
    plant_pii_into: Literal["remarks", "strings", "numbers"] = Field(
        "remarks", description="Where personal data is planted."
    )
    seed: int = Field(0, description="Seed of the generator deciding which queries are struck.")

    @property
    def healthy(self) -> bool:
        """Whether the plan injects nothing at all."""
        return self == FaultPlan()


class FaultInjector:
    """Decides, query by query, which faults of a plan strike."""

    def __init__(self, plan: FaultPlan | None = None) -> None:
        self.plan = plan or FaultPlan()
        self._rng = random.Random(self.plan.seed)

    def strikes(self, rate: float) -> bool:
        """Whether a fault with `rate` strikes this query (always for 1, never for 0)."""
        if rate <= 0:
            return False
        if rate >= 1:
            return True
        return self._rng.random() < rate

    def delay_seconds(self) -> float:
        """How long to wait before answering."""
        jitter = self._rng.uniform(0, self.plan.jitter_ms) if self.plan.jitter_ms else 0.0
        return (self.plan.latency_ms + jitter) / 1000


def planted_text(person: Person) -> str:
    """A note a careless clerk might type: the person's name, mobile and resident ID."""
    return f"联系人{person.name}，手机{person.phone}，身份证{person.id_number}"


def plant_pii(record: Mapping[str, Any], person: Person, into: str) -> dict[str, Any]:
    """A copy of `record` with the person's personal data planted where `into` says."""
    if into == "remarks":
        return {**record, "remarks": planted_text(person)}
    if into == "strings":
        return {
            key: _replace_scalars(value, str, planted_text(person)) for key, value in record.items()
        }
    return {key: _replace_scalars(value, int, int(person.phone)) for key, value in record.items()}


def _replace_scalars(value: Any, kind: type, planted: Any) -> Any:
    """`value` with every scalar of type `kind` (never a bool) replaced by `planted`."""
    if isinstance(value, dict):
        return {key: _replace_scalars(item, kind, planted) for key, item in value.items()}
    if isinstance(value, list):
        return [_replace_scalars(item, kind, planted) for item in value]
    if isinstance(value, kind) and not isinstance(value, bool):
        return planted
    return value


def truncated(body: bytes) -> bytes:
    """A JSON body cut off in the middle, the way a dropped connection leaves it."""
    return body[: max(1, len(body) // 2)]
