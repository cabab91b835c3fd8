"""The compliance report's checks, as pure functions over logged events and records.

Every release is judged against its consent as it stood at that moment: the
state is replayed from the consent's own audit leaves (not read from today's
row), the window and budget are computed at the release's timestamp, and the
features and source fields are held against the consent and the catalog. Every
finding names the leaf indexes that show it, so a regulator can ask for their
inclusion proofs.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import Field

from consent.budget import interval_start, releases_allowed
from consent.states import ConsentStatus
from policies.catalog import Catalog, Product
from policies.evaluation import ConsentTerms, product_violations

GRANTED = "release.granted"
DENIED = "release.denied"

LIFECYCLE: Mapping[str, ConsentStatus] = {
    "consent.requested": ConsentStatus.PENDING,
    "consent.approved": ConsentStatus.ACTIVE,
    "consent.rejected": ConsentStatus.REJECTED,
    "consent.paused": ConsentStatus.PAUSED,
    "consent.resumed": ConsentStatus.ACTIVE,
    "consent.revoked": ConsentStatus.REVOKED,
    "consent.expired": ConsentStatus.EXPIRED,
}

BASELINE = timedelta(days=30)
"""How far back a lender's usual release rate is measured, before the report's range."""
BURST_WINDOW = timedelta(hours=1)
BURST_FACTOR = 5
"""A burst is this many times the lender's usual hourly rate ..."""
BURST_MINIMUM = 20
"""... and at least this many releases within one hour."""
DENIAL_BURST = 5
"""Refused releases by one lender within one hour that make a finding."""
MAX_CITED_LEAVES = 200


@dataclass(frozen=True)
class LoggedEvent:
    """The parts of an audit leaf the checks read."""

    index: int
    ts: datetime
    type: str
    consent_id: str | None = None
    lender_id: str | None = None
    purpose: str | None = None
    features: tuple[str, ...] = ()
    source_fields: tuple[str, ...] = ()
    reason: str | None = None
    payload_digest: str | None = None

    @classmethod
    def parse(
        cls, index: int, ts: datetime, type_: str, consent_id: str | None, leaf: str
    ) -> LoggedEvent:
        """From a stored entry; a leaf that is not JSON leaves only the indexed columns."""
        try:
            body = json.loads(leaf)
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        return cls(
            index=index,
            ts=ts,
            type=type_,
            consent_id=consent_id,
            lender_id=_text(body.get("lender_id")),
            purpose=_text(body.get("purpose")),
            features=_names(body.get("features")),
            source_fields=_names(body.get("source_fields")),
            reason=_text(body.get("reason")),
            payload_digest=_text(body.get("payload_digest")),
        )


@dataclass(frozen=True)
class ConsentRecord:
    """A consent as the report judges it: whose it is, and its immutable terms."""

    consent_id: str
    lender_id: str
    terms: ConsentTerms
    product_code: str | None = None
    """The code of the lender's product the consent was asked under, if any."""
    product: Product | None = None
    """That product as the consent kept it when asked (None when unreadable)."""
    has_letter: bool = True
    """Whether the consent has its authorization letter: a signed artefact, issued at
    approval, which the letter is bound to."""


@dataclass(frozen=True)
class ReleaseRecord:
    """A row of the release records, as kept beside the log."""

    release_id: str
    consent_id: str
    lender_id: str
    leaf_index: int
    payload_digest: str
    delete_by: datetime
    deletion_attested_at: datetime | None


@dataclass
class Finding:
    """Something the compliance report found, pointing at the leaves that show it."""

    kind: Annotated[str, Field(description="What was found (a stable code).")]
    severity: Annotated[str, Field(description="`high`, `medium` or `low`.")]
    leaf_indexes: Annotated[
        list[int], Field(description="The audit leaves that show it: check them with proofs.")
    ]
    detail: Annotated[str, Field(description="What was found, in words; ids only.")]
    consent_id: Annotated[str | None, Field(description="The consent concerned, if one.")] = None
    lender_id: Annotated[str | None, Field(description="The lender concerned, if one.")] = None


@dataclass
class ReleaseVerdict:
    """One release's checks."""

    event: LoggedEvent
    consent_status: str | None
    checks: dict[str, bool] = field(default_factory=dict)

    @property
    def compliant(self) -> bool:
        """Whether every check passed."""
        return all(self.checks.values())


def status_at(
    history: Iterable[LoggedEvent], before: int
) -> tuple[ConsentStatus | None, int | None]:
    """The consent's state just before leaf `before`, and the leaf that set it."""
    status: ConsentStatus | None = None
    setter: int | None = None
    for event in history:
        if event.index >= before:
            break
        if event.type in LIFECYCLE:
            status, setter = LIFECYCLE[event.type], event.index
    return status, setter


def check_release(
    event: LoggedEvent,
    consent: ConsentRecord | None,
    history: Sequence[LoggedEvent],
    catalog: Catalog,
) -> tuple[ReleaseVerdict, list[Finding]]:
    """Judge one `release.granted` leaf against its consent as it stood then.

    `history` is every leaf about the consent, in log order (later ones are ignored).
    """
    findings: list[Finding] = []

    def found(kind: str, severity: str, detail: str, *others: int) -> None:
        findings.append(
            Finding(
                kind=kind,
                severity=severity,
                leaf_indexes=sorted({event.index, *others}),
                detail=detail,
                consent_id=event.consent_id,
                lender_id=event.lender_id,
            )
        )

    if consent is None:
        verdict = ReleaseVerdict(event, None, {"consent_known": False})
        found("consent_unknown", "high", "The release names no consent the gateway holds.")
        return verdict, findings

    status, setter = status_at(history, event.index)
    if (
        status in (ConsentStatus.ACTIVE, ConsentStatus.PAUSED)
        and event.ts >= consent.terms.valid_until
    ):
        status = ConsentStatus.EXPIRED
    verdict = ReleaseVerdict(event, status.value if status else None)
    checks = verdict.checks
    checks["consent_known"] = True

    checks["lender"] = event.lender_id == consent.lender_id
    if not checks["lender"]:
        found("lender_mismatch", "high", "Released to a lender other than the consent's.")

    checks["state"] = status is ConsentStatus.ACTIVE
    if status is ConsentStatus.REVOKED:
        found(
            "revocation_not_honoured",
            "high",
            "Released after the consent was revoked.",
            *([setter] if setter is not None else []),
        )
    elif not checks["state"]:
        found(
            "consent_not_active",
            "high",
            f"Released while the consent was {status.value if status else 'never requested'}.",
            *([setter] if setter is not None else []),
        )

    checks["window"] = consent.terms.valid_from <= event.ts < consent.terms.valid_until
    if not checks["window"]:
        found(
            "outside_validity_window",
            "high",
            f"Released at {event.ts.isoformat()}, outside the consent's window "
            f"{consent.terms.valid_from.isoformat()} – {consent.terms.valid_until.isoformat()}.",
        )

    earlier = [e for e in history if e.type == GRANTED and e.index < event.index]
    since = interval_start(event.ts, consent.terms.frequency_unit)
    in_interval = [e for e in earlier if e.ts >= since]
    checks["budget"] = releases_allowed(
        consent.terms.fetch_type, consent.terms.frequency_value, len(earlier), len(in_interval)
    )
    if not checks["budget"]:
        allowance = (
            "one release in all"
            if consent.terms.fetch_type == "ONETIME"
            else f"{consent.terms.frequency_value} per {consent.terms.frequency_unit}"
        )
        found(
            "budget_exceeded",
            "high",
            f"Beyond the consent's frequency budget ({allowance}).",
            *(e.index for e in (earlier if consent.terms.fetch_type == "ONETIME" else in_interval)),
        )

    purpose = catalog.purposes.get(consent.terms.purpose)
    checks["purpose"] = event.purpose == consent.terms.purpose
    if not checks["purpose"]:
        found("purpose_mismatch", "high", "The release names another purpose than the consent's.")

    beyond_consent = sorted(set(event.features) - set(consent.terms.features))
    beyond_purpose = sorted(
        name for name in event.features if purpose is None or name not in purpose.features
    )
    checks["features"] = not beyond_consent and not beyond_purpose
    if beyond_consent:
        found(
            "features_outside_consent",
            "high",
            f"Released features the consent does not cover: {', '.join(beyond_consent)}.",
        )
    if beyond_purpose:
        found(
            "features_outside_purpose",
            "high",
            f"Released features the purpose does not allow: {', '.join(beyond_purpose)}.",
        )

    if consent.product_code is not None and consent.product is None:
        checks["product"] = False
        found(
            "product_record_unreadable",
            "high",
            f"The consent names product '{consent.product_code}' but keeps no readable "
            "record of it, so its ceilings cannot be checked.",
        )
    if consent.product is not None:
        # Against the product's ceilings as they were when the consent was asked.
        beyond_product = product_violations(consent.product, event.features, consent.terms)
        checks["product"] = not beyond_product
        if beyond_product:
            found(
                "outside_product",
                "high",
                f"Released under product '{consent.product.code}' "
                f"({consent.product.version}) beyond it: {' '.join(beyond_product)}",
            )

    minimal = minimal_source_fields(catalog, event.features)
    beyond_minimum = sorted(set(event.source_fields) - minimal)
    checks["source_fields"] = not beyond_minimum
    if beyond_minimum:
        found(
            "source_fields_beyond_minimum",
            "high",
            f"Read source fields the released features do not need: {', '.join(beyond_minimum)}.",
        )

    # A credit-report query needs the borrower's written authorization (征信业管理条例 Art. 18).
    if catalog.reads_credit_report(event.features):
        checks["authorization_letter"] = consent.has_letter
        if not consent.has_letter:
            found(
                "credit_query_without_letter",
                "high",
                "Read the credit report under a consent that has no signed authorization letter.",
            )
    return verdict, findings


def minimal_source_fields(catalog: Catalog, features: Iterable[str]) -> set[str]:
    """`source.field` names the features need, per the catalog (unknown features need nothing)."""
    return {
        f"{source}.{path}"
        for name in features
        if (feature := catalog.features.get(name)) is not None
        for source, paths in feature.source_fields.items()
        for path in paths
    }


def overdue_deletions(releases: Iterable[ReleaseRecord], until: datetime) -> list[Finding]:
    """Releases whose data life ended before `until` with no deletion attested in time."""
    findings = []
    for release in releases:
        if release.delete_by >= until:
            continue
        attested = release.deletion_attested_at
        if attested is None:
            kind, severity = "deletion_attestation_overdue", "medium"
            detail = (
                f"Release {release.release_id}: data life ended {release.delete_by.isoformat()}; "
                "the lender has not attested deletion."
            )
        elif attested > release.delete_by:
            kind, severity = "deletion_attested_late", "low"
            detail = (
                f"Release {release.release_id}: deletion attested {attested.isoformat()}, "
                f"after the data life ended {release.delete_by.isoformat()}."
            )
        else:
            continue
        findings.append(
            Finding(
                kind=kind,
                severity=severity,
                leaf_indexes=[release.leaf_index],
                detail=detail,
                consent_id=release.consent_id,
                lender_id=release.lender_id,
            )
        )
    return findings


def reconcile_records(
    records: Iterable[ReleaseRecord],
    leaves: Mapping[int, LoggedEvent],
    granted: Iterable[LoggedEvent],
    recorded_leaves: set[int],
) -> list[Finding]:
    """Release records against `release.granted` leaves, both ways.

    `leaves` holds the entries at the records' leaf indexes; `recorded_leaves` the
    leaf index of every release record that points into `granted`.
    """
    findings = []
    for record in records:
        event = leaves.get(record.leaf_index)
        if (
            event is None
            or event.type != GRANTED
            or event.consent_id != record.consent_id
            or event.payload_digest != record.payload_digest
        ):
            findings.append(
                Finding(
                    kind="release_not_in_log",
                    severity="high",
                    leaf_indexes=[record.leaf_index],
                    detail=f"Release {record.release_id} is not what its audit leaf records.",
                    consent_id=record.consent_id,
                    lender_id=record.lender_id,
                )
            )
    for event in granted:
        if event.index not in recorded_leaves:
            findings.append(
                Finding(
                    kind="release_record_missing",
                    severity="medium",
                    leaf_indexes=[event.index],
                    detail="The log records a release the gateway keeps no record of.",
                    consent_id=event.consent_id,
                    lender_id=event.lender_id,
                )
            )
    return findings


def release_bursts(granted: Iterable[LoggedEvent], baseline: Mapping[str, int]) -> list[Finding]:
    """Hours in which a lender released far above its usual rate.

    The usual rate is the lender's releases per hour over `BASELINE` before the
    report's range (`baseline`: lender → count); a burst is at least
    `BURST_MINIMUM` releases within an hour and `BURST_FACTOR` times that rate.
    """
    usual_hours = BASELINE / BURST_WINDOW
    findings = []
    for lender, events in _by_lender(granted).items():
        usual = baseline.get(lender, 0) / usual_hours
        threshold = max(BURST_MINIMUM, BURST_FACTOR * usual)
        for burst in _bursts(events, threshold):
            findings.append(
                Finding(
                    kind="release_rate_anomaly",
                    severity="medium",
                    leaf_indexes=[e.index for e in burst][:MAX_CITED_LEAVES],
                    detail=f"{len(burst)} releases within an hour from "
                    f"{burst[0].ts.isoformat()}; this lender's usual rate is {usual:.2f} per hour.",
                    lender_id=lender,
                )
            )
    return findings


def denial_bursts(denied: Iterable[LoggedEvent]) -> list[Finding]:
    """Hours in which one lender was refused again and again (probing, or a broken client)."""
    findings = []
    for lender, events in _by_lender(denied).items():
        for burst in _bursts(events, DENIAL_BURST):
            reasons = Counter(e.reason or "unknown" for e in burst)
            findings.append(
                Finding(
                    kind="repeated_denials",
                    severity="medium",
                    leaf_indexes=[e.index for e in burst][:MAX_CITED_LEAVES],
                    detail=f"{len(burst)} refused releases within an hour from "
                    f"{burst[0].ts.isoformat()}: "
                    + ", ".join(f"{code} ×{count}" for code, count in reasons.most_common()),
                    lender_id=lender,
                )
            )
    return findings


def summary(
    verdicts: Sequence[ReleaseVerdict], denied: int, findings: Sequence[Finding]
) -> dict[str, Any]:
    """Counts for the top of the report."""
    return {
        "releases": len(verdicts),
        "compliant_releases": sum(verdict.compliant for verdict in verdicts),
        "denied_releases": denied,
        "findings": len(findings),
        "by_kind": dict(sorted(Counter(finding.kind for finding in findings).items())),
    }


def _by_lender(events: Iterable[LoggedEvent]) -> dict[str, list[LoggedEvent]]:
    grouped: dict[str, list[LoggedEvent]] = defaultdict(list)
    for event in events:
        grouped[event.lender_id or "unknown"].append(event)
    return grouped


def _bursts(events: Sequence[LoggedEvent], threshold: float) -> list[list[LoggedEvent]]:
    """Maximal runs of events within `BURST_WINDOW` of their first that reach `threshold`."""
    ordered = sorted(events, key=lambda e: (e.ts, e.index))
    bursts = []
    start = end = 0
    while start < len(ordered):
        end = max(end, start)
        while end < len(ordered) and ordered[end].ts - ordered[start].ts < BURST_WINDOW:
            end += 1
        if end - start >= threshold:
            bursts.append(ordered[start:end])
            start = end
        else:
            start += 1
    return bursts


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _names(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if isinstance(item, str))
