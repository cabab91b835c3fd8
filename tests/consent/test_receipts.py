"""Receipts and the plain-language notice, built from terms alone (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from consent import receipts
from consent.models import Consent
from consent.notice import NoticeTerms, beijing_time, summary, withdrawal
from policies.catalog import Catalog
from policies.evaluation import ConsentTerms
from policies.loading import load_catalog

APPROVED = datetime(2026, 11, 23, 2, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(None)


def consent(**overrides: object) -> Consent:
    values: dict[str, object] = {
        "id": "cns_" + "ab" * 12,
        "lender_id": "cli_lender",
        "borrower_ref": "ref_pseudonym",
        "purpose": "consumer_installment_underwriting",
        "features": ["si_active", "cb_overdue_accounts_24m"],
        "fetch_type": "ONETIME",
        "frequency_unit": "MONTH",
        "frequency_value": 1,
        "valid_from": APPROVED - timedelta(minutes=5),
        "valid_until": APPROVED + timedelta(days=20),
        "data_range_months": 24,
        "data_life_days": 30,
        "on_behalf_of": None,
        "policy_version": "sha256:catalog",
        "created_at": APPROVED - timedelta(hours=1),
        "decided_at": APPROVED,
        "artefact": "header.payload.signature",
        "release_count": 0,
    }
    values.update(overrides)
    return Consent(**values)


def test_a_consent_receipt_has_the_fields_of_a_27560_record(catalog: Catalog) -> None:
    claims = receipts.consent_receipt(
        consent(on_behalf_of="某某消费金融"),
        catalog,
        receipt_id="rcp_1",
        lender_name="示例银行",
        issued_at=APPROVED,
        portal_url="https://gateway.example/",
        audit_tree_head=None,
    )
    assert claims["schemas"] == ["ISO/IEC TS 27560:2023", "Kantara Consent Receipt 1.1"]
    assert (claims["record_id"], claims["receipt_id"], claims["kind"]) == (
        "cns_" + "ab" * 12,
        "rcp_1",
        "consent",
    )
    assert claims["principal"] == {"pseudonym": "ref_pseudonym", "kind": "pairwise pseudonym"}
    assert [c["role"] for c in claims["controllers"]] == ["controller", "funding_institution"]
    assert claims["controllers"][1]["on_behalf_of"] is True
    assert claims["purpose"]["legal_basis"]
    assert claims["data_categories"] == ["si_active", "cb_overdue_accounts_24m"]
    assert [item["data_class"] for item in claims["personal_data"]]
    assert claims["sources"] == ["credit_bureau", "social_insurance"]
    assert claims["retention_days"] == claims["retention"]["data_life_days"] == 30
    assert claims["withdrawal"]["portal"] == (
        "https://gateway.example/portal/consents/cns_" + "ab" * 12
    )
    assert claims["timestamps"]["approved_at"] == APPROVED.isoformat()
    assert claims["consent_timestamp"] == APPROVED.isoformat()
    assert claims["artefact_digest"] == receipts.digest("header.payload.signature")
    assert "audit_tree_head" in claims


def test_a_withdrawal_receipt_says_what_follows(catalog: Catalog) -> None:
    ended = APPROVED + timedelta(days=2)
    claims = receipts.withdrawal_receipt(
        consent(release_count=2),
        catalog,
        receipts.Withdrawal(
            by="borrower",
            at=ended,
            consent_receipt_id="rcp_1",
            releases_made=2,
            last_delete_by=ended + timedelta(days=28),
            lender_notified=True,
        ),
        receipt_id="rcp_2",
        lender_name="示例银行",
        issued_at=ended,
        portal_url="https://gateway.example",
        audit_tree_head=None,
    )
    assert claims["kind"] == "withdrawal"
    assert claims["event"] == {"type": "withdrawn", "by": "borrower", "at": ended.isoformat()}
    assert claims["refers_to"] == "rcp_1"
    assert claims["timestamps"]["withdrawn_at"] == ended.isoformat()
    assert claims["consequences"] == {
        "releases_stopped_at": ended.isoformat(),
        "data_key_destroyed": True,
        "releases_made": 2,
        "lender_must_delete_by": (ended + timedelta(days=28)).isoformat(),
        "lender_notified": True,
    }


def notice_terms(fetch_type: str = "PERIODIC", on_behalf_of: str | None = None) -> NoticeTerms:
    return NoticeTerms(
        lender_name="示例银行",
        on_behalf_of=on_behalf_of,
        purpose_title={"zh": "贷后管理", "en": "Post-loan monitoring"},
        source_titles=[{"zh": "社保", "en": "Social insurance"}],
        feature_count=2,
        terms=ConsentTerms(
            purpose="post_loan_monitoring",
            features=("si_active", "hf_status"),
            fetch_type=fetch_type,
            frequency_unit="MONTH",
            frequency_value=2,
            valid_from=datetime(2026, 11, 30, 16, tzinfo=UTC),
            valid_until=datetime(2027, 11, 30, 16, tzinfo=UTC),
            data_range_months=36,
            data_life_days=90,
        ),
    )


def test_the_summary_states_the_terms_in_both_languages() -> None:
    text = summary(notice_terms())
    assert "每月最多2次" in text["zh"] and "at most 2 times a month" in text["en"]
    # Times are Beijing's: 16:00 UTC on 30 November is midnight on 1 December.
    assert "2026-12-01 00:00" in text["zh"] and "2026-12-01 00:00" in text["en"]
    assert "90天" in text["zh"] and "90 days" in text["en"]
    assert "36个月" in text["zh"] and "36 months" in text["en"]
    assert "撤回" in text["zh"] and "withdraw" in text["en"]


def test_the_summary_names_the_funding_institution() -> None:
    text = summary(notice_terms(on_behalf_of="某某消费金融", fetch_type="ONETIME"))
    assert "代表资金方某某消费金融" in text["zh"]
    assert "on behalf of the funding institution 某某消费金融" in text["en"]
    assert "只获取一次" in text["zh"] and " once" in text["en"]


def test_withdrawal_text_points_at_the_endpoint() -> None:
    text = withdrawal("cns_x")
    assert all("POST /v1/borrower/consents/cns_x/revoke" in value for value in text.values())
    assert beijing_time(datetime(2026, 1, 1, tzinfo=UTC)) == "2026-01-01 08:00"
