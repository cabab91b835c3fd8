"""The compliance report: releases against consents as they stood, deletions due, anomalies.

The gateway itself refuses non-compliant releases, so the violations here are
written straight into the log (as a faulty or subverted gateway would), and the
report must find each one and cite the leaves that show it.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

from lendgate_sdk import LendgateAPIError
from sqlalchemy import update

from gateway.audit import service as audit_service
from gateway.audit.events import AuditEvent
from gateway.compliance.rules import (
    BURST_MINIMUM,
    DENIAL_BURST,
    ConsentRecord,
    LoggedEvent,
    check_release,
    denial_bursts,
    release_bursts,
)
from gateway.releases.models import Release
from policies.evaluation import ConsentTerms
from policies.loading import load_catalog
from tests.support.stack import FEATURES, Stack

CATALOG = load_catalog()
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
FIELDS = sorted(
    f"{source}.{path}"
    for name in FEATURES
    for source, paths in CATALOG.features[name].source_fields.items()
    for path in paths
)


def terms(**overrides: Any) -> ConsentRecord:
    values: dict[str, Any] = {
        "purpose": "consumer_installment_underwriting",
        "features": tuple(FEATURES),
        "fetch_type": "PERIODIC",
        "frequency_unit": "MONTH",
        "frequency_value": 2,
        "valid_from": NOW - timedelta(days=1),
        "valid_until": NOW + timedelta(days=10),
        "data_range_months": 24,
        "data_life_days": 30,
    }
    values.update(overrides)
    return ConsentRecord(consent_id="cns_1", lender_id="lnd_1", terms=ConsentTerms(**values))


def event(index: int, type_: str, at: datetime = NOW, **fields: Any) -> LoggedEvent:
    values: dict[str, Any] = {
        "consent_id": "cns_1",
        "lender_id": "lnd_1",
        "purpose": "consumer_installment_underwriting",
    }
    if type_ == "release.granted":
        values.update(features=tuple(FEATURES), source_fields=tuple(FIELDS))
    values.update(fields)
    return LoggedEvent(index=index, ts=at, type=type_, **values)


HISTORY = [
    event(1, "consent.requested", NOW - timedelta(hours=3)),
    event(2, "consent.approved", NOW - timedelta(hours=2)),
]


def kinds(findings: list[Any]) -> list[str]:
    return [finding.kind for finding in findings]


def test_a_release_inside_every_term_is_compliant() -> None:
    release = event(5, "release.granted")
    verdict, findings = check_release(release, terms(), [*HISTORY, release], CATALOG)
    assert findings == []
    assert verdict.compliant and verdict.consent_status == "ACTIVE"
    assert set(verdict.checks) >= {"state", "window", "budget", "features", "source_fields"}


def test_a_credit_query_under_a_consent_without_a_letter_is_a_finding() -> None:
    release = event(5, "release.granted")
    assert CATALOG.reads_credit_report(release.features)
    unwritten = ConsentRecord(
        consent_id="cns_1", lender_id="lnd_1", terms=terms().terms, has_letter=False
    )
    verdict, findings = check_release(release, unwritten, [*HISTORY, release], CATALOG)
    assert kinds(findings) == ["credit_query_without_letter"]
    assert findings[0].leaf_indexes == [5] and findings[0].severity == "high"
    assert verdict.checks["authorization_letter"] is False and not verdict.compliant
    # With the letter, the same release is compliant; without 征信, no letter is asked for.
    verdict, findings = check_release(release, terms(), [*HISTORY, release], CATALOG)
    assert findings == [] and verdict.checks["authorization_letter"] is True
    social = event(5, "release.granted", features=("si_active",), source_fields=())
    scoped = terms(features=("si_active",))
    plain = ConsentRecord(consent_id="cns_1", lender_id="lnd_1", terms=scoped.terms)
    unwritten_social = ConsentRecord(
        consent_id="cns_1", lender_id="lnd_1", terms=scoped.terms, has_letter=False
    )
    for consent in (plain, unwritten_social):
        verdict, findings = check_release(social, consent, [*HISTORY, social], CATALOG)
        assert "authorization_letter" not in verdict.checks
        assert "credit_query_without_letter" not in kinds(findings)


def test_the_state_is_the_one_at_that_moment_not_today() -> None:
    paused = event(3, "consent.paused", NOW - timedelta(minutes=30))
    during_pause = event(4, "release.granted", NOW - timedelta(minutes=20))
    resumed = event(5, "consent.resumed", NOW - timedelta(minutes=10))
    after = event(6, "release.granted")
    revoked = event(7, "consent.revoked", NOW + timedelta(minutes=5))
    late = event(8, "release.granted", NOW + timedelta(minutes=10))
    history = [*HISTORY, paused, during_pause, resumed, after, revoked, late]

    consent = terms(frequency_value=5)
    _, findings = check_release(during_pause, consent, history, CATALOG)
    assert kinds(findings) == ["consent_not_active"]
    assert findings[0].leaf_indexes == [3, 4]
    _, findings = check_release(after, consent, history, CATALOG)
    assert findings == []  # resumed by then, and revoked only later
    _, findings = check_release(late, consent, history, CATALOG)
    assert kinds(findings) == ["revocation_not_honoured"]
    assert findings[0].leaf_indexes == [7, 8]


def test_window_budget_features_and_fields_are_each_checked() -> None:
    early = event(5, "release.granted", NOW - timedelta(days=2))
    _, findings = check_release(early, terms(), [*HISTORY, early], CATALOG)
    assert "outside_validity_window" in kinds(findings)

    first = event(5, "release.granted")
    second = event(6, "release.granted", NOW + timedelta(minutes=1))
    _, findings = check_release(second, terms(fetch_type="ONETIME"), [*HISTORY, first], CATALOG)
    assert kinds(findings) == ["budget_exceeded"]
    assert findings[0].leaf_indexes == [5, 6]
    third = event(7, "release.granted", NOW + timedelta(minutes=2))
    _, findings = check_release(third, terms(), [*HISTORY, first, second], CATALOG)
    assert kinds(findings) == ["budget_exceeded"]  # 2 per month, and this is the third
    assert findings[0].leaf_indexes == [5, 6, 7]

    greedy = event(
        5,
        "release.granted",
        features=(*FEATURES, "cb_hard_inquiries_6m"),
        source_fields=(*FIELDS, "credit_bureau.name"),
    )
    _, findings = check_release(greedy, terms(), [*HISTORY], CATALOG)
    assert kinds(findings) == ["features_outside_consent", "source_fields_beyond_minimum"]
    assert "credit_bureau.name" in findings[1].detail


def test_bursts_of_releases_and_of_refusals_are_anomalies() -> None:
    usual = {"lnd_1": 24 * 30}  # one release an hour over the last 30 days
    steady = [event(i, "release.granted", NOW + timedelta(minutes=6 * i)) for i in range(30)]
    assert release_bursts(steady, usual) == []
    burst = [
        event(100 + i, "release.granted", NOW + timedelta(seconds=30 * i))
        for i in range(BURST_MINIMUM)
    ]
    findings = release_bursts([*steady, *burst], usual)
    assert kinds(findings) == ["release_rate_anomaly"]
    assert set(findings[0].leaf_indexes) >= {e.index for e in burst}

    spaced = [event(i, "release.denied", NOW + timedelta(hours=3 * i)) for i in range(10)]
    assert denial_bursts(spaced) == []
    probing = [
        event(50 + i, "release.denied", NOW + timedelta(minutes=60 + i), reason="ConsentNotFound")
        for i in range(DENIAL_BURST)
    ]
    findings = denial_bursts([*spaced, *probing])
    assert kinds(findings) == ["repeated_denials"]
    assert findings[0].leaf_indexes == [e.index for e in probing]
    assert "ConsentNotFound ×5" in findings[0].detail


# -- over the API ---------------------------------------------------------------------------


async def report(stack: Stack, regulator: Any, since: datetime, lender_id: str) -> dict[str, Any]:
    async with stack.regulator_client(regulator) as client:
        return await client.compliance_report(
            since.isoformat(), (datetime.now(UTC) + timedelta(seconds=1)).isoformat(), lender_id
        )


async def test_a_real_release_is_reported_compliant(stack: Stack) -> None:
    since = datetime.now(UTC) - timedelta(seconds=1)
    regulator = await stack.register("regulator", name="监管机构")
    lender_client = await stack.register()
    async with stack.lender_client(lender_client) as lender:
        consent_id, _, _ = await stack.active_consent(lender)
        release = await lender.release(consent_id)
    body = await report(stack, regulator, since, lender_client.client_id)
    assert [r["leaf_index"] for r in body["releases"]] == [release.audit["leaf_index"]]
    checked = body["releases"][0]
    assert checked["compliant"] and checked["consent_status"] == "ACTIVE"
    assert all(checked["checks"].values())
    assert body["findings"] == []
    assert body["summary"]["compliant_releases"] == 1
    assert body["tree_head"]["tree_size"] > release.audit["leaf_index"]
    leaves = await stack.audit_leaves()
    assert leaves[-1]["type"] == "audit.read"
    assert leaves[-1]["reason"].startswith("compliance report")


async def test_violations_written_into_the_log_are_found_and_cited(stack: Stack) -> None:
    since = datetime.now(UTC) - timedelta(seconds=1)
    regulator = await stack.register("regulator", name="监管机构")
    lender_client = await stack.register()
    async with stack.lender_client(lender_client) as lender:
        consent_id, _, _ = await stack.active_consent(lender)
        release = await lender.release(consent_id)
        await lender.revoke(consent_id)
        for _ in range(DENIAL_BURST):
            with contextlib.suppress(LendgateAPIError):
                await lender.release(consent_id)
    leaves = await stack.audit_leaves(consent_id)
    revoked = next(leaf["seq"] for leaf in leaves if leaf["type"] == "consent.revoked")
    granted = next(leaf for leaf in leaves if leaf["type"] == "release.granted")
    # A gateway that released after revocation, and read a field no feature needs:
    async with stack.context.sessionmaker() as session, session.begin():
        forged = await audit_service.append(
            session,
            AuditEvent(
                type="release.granted",
                actor=f"lender:{lender_client.client_id}",
                consent_id=consent_id,
                lender_id=lender_client.client_id,
                purpose=granted["purpose"],
                features=tuple(granted["features"]),
                source_fields=(*granted["source_fields"], "social_insurance.name"),
            ),
        )
        # ... and a lender that kept the first release's data past its data life.
        await session.execute(
            update(Release)
            .where(Release.consent_id == consent_id)
            .values(delete_by=datetime.now(UTC) - timedelta(seconds=1))
        )
    body = await report(stack, regulator, since, lender_client.client_id)
    found = {finding["kind"]: finding for finding in body["findings"]}
    assert found["revocation_not_honoured"]["leaf_indexes"] == [revoked, forged.seq]
    assert found["source_fields_beyond_minimum"]["leaf_indexes"] == [forged.seq]
    assert found["budget_exceeded"]["leaf_indexes"] == [release.audit["leaf_index"], forged.seq]
    assert found["release_record_missing"]["leaf_indexes"] == [forged.seq]
    assert found["deletion_attestation_overdue"]["leaf_indexes"] == [release.audit["leaf_index"]]
    assert found["repeated_denials"]["lender_id"] == lender_client.client_id
    assert len(found["repeated_denials"]["leaf_indexes"]) == DENIAL_BURST
    verdicts = {r["leaf_index"]: r for r in body["releases"]}
    assert verdicts[release.audit["leaf_index"]]["compliant"]
    assert not verdicts[forged.seq]["compliant"]
    assert verdicts[forged.seq]["consent_status"] == "REVOKED"
    assert body["summary"]["by_kind"]["revocation_not_honoured"] == 1
    for finding in body["findings"]:
        assert finding["leaf_indexes"], finding
