"""The egress guard: personal data in an outbound payload blocks the release."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.core.errors import EgressBlocked
from gateway.privacy.egress import EgressFinding, EgressGuard, PersonalDataBlocked
from gateway.privacy.pii import Pii

SANDBOX_ID = "11010519491231002X"
GUARD = EgressGuard()

CLEAN_FEATURES: dict[str, Any] = {
    "si_active": True,
    "hf_status": "ACTIVE",
    "income_proxy_band": "8000-12000",
    "cb_overdue_accounts_24m": 0,
    "cb_card_utilization": 0.3,
    "si_months_contributed_band": "24-36",
    "hf_balance_band": "10000-50000",
    "cb_hard_inquiries_6m": 2,
    "si_last_contribution_month": "2026-10",
    "hf_loan_active": False,
}


def release(features: dict[str, Any]) -> dict[str, Any]:
    """A release payload shaped like DESIGN.md's, around `features`."""
    return {
        "release_id": "0b9f6a52-6f3e-4d7a-9a43-2f1e8c5d7b10",
        "consent_id": "5c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
        "purpose": "consumer_installment_underwriting",
        "borrower_ref": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "features": features,
        "sources": {
            "social_insurance": {"as_of": "2026-10"},
            "credit_bureau": {"as_of": "2026-11"},
        },
        "policy_version": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "iat": 1763856000,
        "iss": "lendgate",
        "aud": "lender-7f3a",
    }


def test_a_clean_feature_payload_passes() -> None:
    payload = {
        "si_active": True,
        "income_proxy_band": "8000-12000",
        "cb_overdue_accounts_24m": 0,
        "cb_card_utilization": 0.3,
    }
    assert GUARD.scan(payload) == []
    GUARD.check(payload)


def test_a_clean_release_passes() -> None:
    assert GUARD.scan(release(CLEAN_FEATURES)) == []
    GUARD.check(release(CLEAN_FEATURES))


@pytest.mark.parametrize(
    "value",
    ["8000-12000", "12000-20000", "2026-10", "2026-10-01", "24-36", 1763856000, 0.3, 12000],
)
def test_bands_months_and_small_numbers_are_not_personal_data(value: object) -> None:
    assert GUARD.scan({"features": {"x": value}}) == []


def test_resident_id_in_a_nested_free_text_field_is_found() -> None:
    payload = release({**CLEAN_FEATURES, "note": f"客户身份证号{SANDBOX_ID}已核验"})
    assert GUARD.scan(payload) == [EgressFinding("CN_RESIDENT_ID", "features.note")]


def test_resident_id_as_a_bare_integer_is_found() -> None:
    payload = {"features": {**CLEAN_FEATURES, "ref": 440304199001010011}}
    assert GUARD.scan(payload) == [EgressFinding("CN_RESIDENT_ID", "features.ref")]


def test_phone_number_that_went_through_a_float_is_found() -> None:
    assert GUARD.scan({"features": {"contact": 13800138000.0}}) == [
        EgressFinding("CN_MOBILE", "features.contact")
    ]


def test_findings_in_lists_carry_the_index_in_the_path() -> None:
    payload = {"features": {"notes": ["ok", {"text": "手机13800138000"}]}}
    assert GUARD.scan(payload) == [EgressFinding("CN_MOBILE", "features.notes[1].text")]


def test_a_name_under_a_name_key_is_found() -> None:
    payload = {"borrower": {"name": "张三", "region": "北京"}, "features": CLEAN_FEATURES}
    assert GUARD.scan(payload) == [EgressFinding("CN_NAME", "borrower.name")]


def test_personal_data_in_a_key_is_found_and_masked_in_the_path() -> None:
    findings = GUARD.scan({"features": {SANDBOX_ID: 1}})
    assert findings == [EgressFinding("CN_RESIDENT_ID", "features.110***********002X")]


def test_a_pii_wrapper_in_the_payload_is_found_even_though_it_prints_masked() -> None:
    payload = {"features": {**CLEAN_FEATURES, "phone": Pii("13800138000", "CN_MOBILE")}}
    assert GUARD.scan(payload) == [EgressFinding("CN_MOBILE", "features.phone")]


def test_several_findings_each_reported_once_in_payload_order() -> None:
    payload = {
        "a": f"{SANDBOX_ID} {SANDBOX_ID}",
        "b": {"c": "邮箱zs@example.com，手机13800138000"},
    }
    assert GUARD.scan(payload) == [
        EgressFinding("CN_RESIDENT_ID", "a"),
        EgressFinding("EMAIL_ADDRESS", "b.c"),
        EgressFinding("CN_MOBILE", "b.c"),
    ]


def test_check_blocks_with_types_and_paths_but_never_the_value() -> None:
    payload = release({**CLEAN_FEATURES, "note": f"身份证{SANDBOX_ID}", "ref": 13800138000})
    with pytest.raises(EgressBlocked) as caught:
        GUARD.check(payload)
    exc = caught.value
    assert exc.code == "EgressBlocked"
    assert exc.status == 502
    assert "CN_RESIDENT_ID at features.note" in exc.detail
    assert "CN_MOBILE at features.ref" in exc.detail
    for shown in (exc.detail, str(exc), repr(exc), repr(exc.body())):
        assert SANDBOX_ID not in shown
        assert "13800138000" not in shown
        assert "002X" not in shown


def test_allowed_entities_pass_and_others_still_block() -> None:
    payload = {"features": {"email": "zs@example.com", "phone": "13800138000"}}
    GUARD.check({"features": {"email": "zs@example.com"}}, allowed_entities={"EMAIL_ADDRESS"})
    with pytest.raises(EgressBlocked) as caught:
        GUARD.check(payload, allowed_entities=frozenset({"EMAIL_ADDRESS"}))
    assert "CN_MOBILE at features.phone" in caught.value.detail
    assert "EMAIL_ADDRESS" not in caught.value.detail


def test_keys_json_cannot_carry_are_still_walked() -> None:
    payload: dict[Any, Any] = {"features": {("a", 1): f"证件{SANDBOX_ID}"}}
    assert GUARD.scan(payload) == [EgressFinding("CN_RESIDENT_ID", "features.('a', 1)")]


def test_nothing_is_allowed_by_default_and_allowances_are_per_purpose() -> None:
    guard = EgressGuard({"contact_purpose": ["CN_MOBILE"]})
    payload = {"features": {"contact": "13800138000"}}
    guard.check(payload, purpose="contact_purpose")
    for purpose in (None, "consumer_installment_underwriting"):
        with pytest.raises(PersonalDataBlocked) as caught:
            guard.check(payload, purpose=purpose)
        assert caught.value.entities == ("CN_MOBILE",)
        assert caught.value.findings == (EgressFinding("CN_MOBILE", "features.contact"),)
    assert guard.allowed_for("contact_purpose") == {"CN_MOBILE"}
    assert GUARD.allowed_for("contact_purpose") == frozenset()


def test_an_allowance_naming_an_unknown_entity_type_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown entity types: PHONE"):
        EgressGuard({"p": ["PHONE"]})
