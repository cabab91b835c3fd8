"""Consent terms against their purpose, and the minimal field plan of a release."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any

import pytest

from gateway.core.errors import InvalidRequest, PolicyViolation, PurposeViolation
from policies.catalog import Catalog, Frequency
from policies.evaluation import ConsentTerms, ReleasePlan, check_terms, plan_release
from policies.loading import load_catalog

CST = timezone(timedelta(hours=8))
START = datetime(2026, 11, 23, tzinfo=CST)
INSTALLMENT = "consumer_installment_underwriting"
EXAMPLE_FEATURES = ("si_active", "hf_status", "income_proxy_band", "cb_overdue_accounts_24m")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def terms(**changes: Any) -> ConsentTerms:
    """The consent request of DESIGN.md, with `changes`."""
    example = ConsentTerms(
        purpose=INSTALLMENT,
        features=EXAMPLE_FEATURES,
        fetch_type="ONETIME",
        frequency_unit="MONTH",
        frequency_value=1,
        valid_from=START,
        valid_until=datetime(2026, 12, 23, tzinfo=CST),
        data_range_months=24,
        data_life_days=30,
    )
    return dataclasses.replace(example, **changes)


def refused(catalog: Catalog, consent: ConsentTerms) -> PurposeViolation:
    with pytest.raises(PurposeViolation) as raised:
        check_terms(catalog, consent)
    assert raised.value.code == "PurposeViolation"
    return raised.value


# -- check_terms -----------------------------------------------------------------------


def test_the_design_example_is_within_its_purpose(catalog: Catalog) -> None:
    check_terms(catalog, terms())


def test_terms_at_every_ceiling_pass(catalog: Catalog) -> None:
    purpose = catalog.purpose(INSTALLMENT)
    check_terms(
        catalog,
        terms(
            features=purpose.features,
            valid_until=START + timedelta(days=purpose.max_validity_days),
            data_range_months=purpose.max_data_range_months,
            data_life_days=purpose.max_data_life_days,
        ),
    )


def test_post_loan_monitoring_runs_for_three_years(catalog: Catalog) -> None:
    monitoring = terms(
        purpose="post_loan_monitoring",
        features=("si_active", "cb_overdue_accounts_24m"),
        fetch_type="PERIODIC",
        valid_from=datetime(2027, 1, 1, tzinfo=CST),
        valid_until=datetime(2030, 1, 1, tzinfo=CST),  # spans 29 Feb 2028
        data_range_months=36,
    )
    check_terms(catalog, monitoring)
    longer = dataclasses.replace(monitoring, valid_until=datetime(2030, 1, 3, tzinfo=CST))
    assert "validity period" in refused(catalog, longer).detail


def test_unknown_purpose(catalog: Catalog) -> None:
    assert "'pay_day_loan'" in refused(catalog, terms(purpose="pay_day_loan")).detail


def test_unknown_feature(catalog: Catalog) -> None:
    error = refused(catalog, terms(features=(*EXAMPLE_FEATURES, "raw_name")))
    assert "Unknown feature 'raw_name'" in error.detail


def test_feature_outside_the_purpose(catalog: Catalog) -> None:
    error = refused(catalog, terms(features=("si_active", "cb_worst_five_class")))
    assert "does not allow feature 'cb_worst_five_class'" in error.detail
    assert "si_active" not in error.detail


def test_empty_feature_list(catalog: Catalog) -> None:
    assert "`features` is empty" in refused(catalog, terms(features=())).detail


def test_fetch_type_outside_the_purpose(catalog: Catalog) -> None:
    error = refused(catalog, terms(fetch_type="PERIODIC"))
    assert "`fetch_type` PERIODIC is not allowed" in error.detail


@pytest.mark.parametrize(
    ("unit", "value"),
    [("MONTH", 2), ("DAY", 1), ("YEAR", 2), ("YEAR", 12)],
)
def test_frequency_above_the_maximum(catalog: Catalog, unit: str, value: int) -> None:
    error = refused(catalog, terms(frequency_unit=unit, frequency_value=value))
    assert f"`frequency` {value} per {unit} exceeds" in error.detail
    assert "1 per MONTH" in error.detail


def test_a_slower_frequency_passes(catalog: Catalog) -> None:
    check_terms(catalog, terms(frequency_unit="YEAR", frequency_value=1))


@pytest.mark.parametrize("days", [31, 30.5])
def test_validity_longer_than_the_maximum(catalog: Catalog, days: float) -> None:
    error = refused(catalog, terms(valid_until=START + timedelta(days=days)))
    assert f"validity period ({days:g} days) exceeds" in error.detail
    assert "30 days" in error.detail


@pytest.mark.parametrize("offset", [timedelta(0), timedelta(days=-1)])
def test_validity_must_end_after_it_starts(catalog: Catalog, offset: timedelta) -> None:
    error = refused(catalog, terms(valid_until=START + offset))
    assert "`valid_until` must be later than `valid_from`" in error.detail


def test_data_range_above_the_maximum(catalog: Catalog) -> None:
    assert "`data_range_months` 25 exceeds" in refused(catalog, terms(data_range_months=25)).detail


def test_data_life_above_the_maximum(catalog: Catalog) -> None:
    assert "`data_life_days` 31 exceeds" in refused(catalog, terms(data_life_days=31)).detail


def test_a_validity_just_over_the_maximum_is_shown_exactly(catalog: Catalog) -> None:
    error = refused(catalog, terms(valid_until=START + timedelta(days=30, seconds=1)))
    assert "The validity period (30 days, 0:00:01) exceeds the maximum" in error.detail


def test_a_ceiling_is_named_in_plain_words(catalog: Catalog) -> None:
    """The purpose is quoted once, never followed by a possessive glued to the quote."""
    error = refused(catalog, terms(data_range_months=25, data_life_days=31))
    assert (
        "`data_range_months` 25 exceeds the maximum of purpose "
        "'consumer_installment_underwriting', 24." in error.detail
    )
    assert (
        "`data_life_days` 31 exceeds the maximum of purpose "
        "'consumer_installment_underwriting', 30." in error.detail
    )
    assert "''s" not in error.detail and "'s maximum" not in error.detail


def test_every_violation_is_named_at_once(catalog: Catalog) -> None:
    error = refused(catalog, terms(fetch_type="PERIODIC", data_range_months=36, data_life_days=90))
    for term in ("fetch_type", "data_range_months", "data_life_days"):
        assert term in error.detail


@pytest.mark.parametrize(
    ("changes", "term"),
    [
        ({"fetch_type": "SOMETIMES"}, "fetch_type"),
        ({"frequency_unit": "WEEK"}, "frequency.unit"),
        ({"frequency_value": 0}, "frequency.value"),
        ({"data_range_months": 0}, "data_range_months"),
        ({"data_life_days": -1}, "data_life_days"),
        ({"valid_from": datetime(2026, 11, 23)}, "valid_from"),
        ({"features": ("si_active", "si_active")}, "features"),
    ],
)
def test_malformed_terms_are_invalid_requests(
    catalog: Catalog, changes: dict[str, Any], term: str
) -> None:
    with pytest.raises(InvalidRequest) as raised:
        check_terms(catalog, terms(**changes))
    assert raised.value.code == "InvalidRequest"
    assert f"`{term}`" in raised.value.detail


# -- frequency -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("requested", "maximum", "within"),
    [
        (Frequency("MONTH", 1), Frequency("MONTH", 1), True),
        (Frequency("MONTH", 2), Frequency("MONTH", 1), False),
        (Frequency("YEAR", 1), Frequency("MONTH", 1), True),
        # Calendar intervals: 2 per YEAR may both fall in one month.
        (Frequency("YEAR", 2), Frequency("MONTH", 1), False),
        (Frequency("DAY", 1), Frequency("MONTH", 31), True),
        (Frequency("DAY", 1), Frequency("MONTH", 30), False),
        (Frequency("MONTH", 1), Frequency("YEAR", 12), True),
        (Frequency("MONTH", 2), Frequency("YEAR", 12), False),
        (Frequency("DAY", 1), Frequency("YEAR", 366), True),
        (Frequency("DAY", 1), Frequency("YEAR", 365), False),
        (Frequency("YEAR", 5), Frequency("DAY", 5), True),
    ],
)
def test_frequency_within(requested: Frequency, maximum: Frequency, within: bool) -> None:
    assert requested.within(maximum) is within


# -- plan_release ----------------------------------------------------------------------


def test_plan_for_the_whole_consent(catalog: Catalog) -> None:
    plan = plan_release(catalog, INSTALLMENT, EXAMPLE_FEATURES, None)
    assert plan == ReleasePlan(
        features=("cb_overdue_accounts_24m", "hf_status", "income_proxy_band", "si_active"),
        source_fields={
            "credit_bureau": ("card_accounts.repayment_history", "loan_accounts.repayment_history"),
            "housing_fund": ("account_status", "deposit_base"),
            "social_insurance": (
                "contribution_records.base",
                "contribution_records.paid",
                "insured_status",
            ),
        },
    )


def test_a_narrowed_release_leaves_other_sources_alone(catalog: Catalog) -> None:
    plan = plan_release(catalog, INSTALLMENT, EXAMPLE_FEATURES, ["hf_status"])
    assert plan.features == ("hf_status",)
    assert plan.source_fields == {"housing_fund": ("account_status",)}


def test_a_plan_asks_each_field_once(catalog: Catalog) -> None:
    plan = plan_release(
        catalog, INSTALLMENT, EXAMPLE_FEATURES, ["si_active", "income_proxy_band", "si_active"]
    )
    assert plan.features == ("income_proxy_band", "si_active")
    assert plan.source_fields["social_insurance"] == (
        "contribution_records.base",
        "contribution_records.paid",
        "insured_status",
    )
    assert "credit_bureau" not in plan.source_fields


def test_every_single_feature_plan_is_exactly_its_fields(catalog: Catalog) -> None:
    for purpose in catalog.purposes.values():
        for name in purpose.features:
            plan = plan_release(catalog, purpose.code, purpose.features, [name])
            expected = {
                source: tuple(sorted(paths))
                for source, paths in catalog.features[name].source_fields.items()
            }
            assert plan.source_fields == expected


def test_requesting_beyond_the_consent_is_a_policy_violation(catalog: Catalog) -> None:
    with pytest.raises(PolicyViolation) as raised:
        plan_release(catalog, INSTALLMENT, EXAMPLE_FEATURES, ["si_active", "cb_hard_inquiries_6m"])
    assert raised.value.code == "PolicyViolation"
    assert "'cb_hard_inquiries_6m'" in raised.value.detail


@pytest.mark.parametrize("feature", ["cb_worst_five_class", "raw_phone"])
def test_requesting_outside_the_purpose_is_a_purpose_violation(
    catalog: Catalog, feature: str
) -> None:
    with pytest.raises(PurposeViolation) as raised:
        plan_release(catalog, INSTALLMENT, EXAMPLE_FEATURES, [feature])
    assert raised.value.code == "PurposeViolation"
    assert f"'{feature}'" in raised.value.detail


def test_an_empty_request_is_invalid(catalog: Catalog) -> None:
    with pytest.raises(InvalidRequest) as raised:
        plan_release(catalog, INSTALLMENT, EXAMPLE_FEATURES, [])
    assert raised.value.code == "InvalidRequest"


def test_an_unknown_purpose_has_no_plan(catalog: Catalog) -> None:
    with pytest.raises(PurposeViolation):
        plan_release(catalog, "pay_day_loan", EXAMPLE_FEATURES, None)


def test_a_feature_the_purpose_no_longer_allows_is_not_released(catalog: Catalog) -> None:
    # A deployment replaced the catalog after the borrower approved.
    purpose = catalog.purpose(INSTALLMENT)
    narrowed = dataclasses.replace(
        purpose, features=tuple(f for f in purpose.features if f != "income_proxy_band")
    )
    replaced = dataclasses.replace(
        catalog, purposes=MappingProxyType({**catalog.purposes, INSTALLMENT: narrowed})
    )
    with pytest.raises(PurposeViolation):
        plan_release(replaced, INSTALLMENT, EXAMPLE_FEATURES, None)
    assert plan_release(replaced, INSTALLMENT, EXAMPLE_FEATURES, ["si_active"]).features == (
        "si_active",
    )


# -- every purpose, every ceiling ------------------------------------------------------


def within(catalog: Catalog, code: str, **changes: Any) -> ConsentTerms:
    """Terms for purpose `code` at its ceilings, with `changes`."""
    purpose = catalog.purpose(code)
    at_ceilings = terms(
        purpose=code,
        features=purpose.features,
        fetch_type=purpose.fetch_types[0],
        frequency_unit=purpose.max_frequency.unit,
        frequency_value=purpose.max_frequency.value,
        valid_until=START + timedelta(days=purpose.max_validity_days),
        data_range_months=purpose.max_data_range_months,
        data_life_days=purpose.max_data_life_days,
    )
    return dataclasses.replace(at_ceilings, **changes)


PURPOSES = [
    "consumer_installment_underwriting",
    "credit_line_assessment",
    "housing_fund_loan",
    "post_loan_monitoring",
    "identity_match",
]


@pytest.mark.parametrize("code", PURPOSES)
def test_each_purpose_accepts_terms_at_its_ceilings(catalog: Catalog, code: str) -> None:
    check_terms(catalog, within(catalog, code))


@pytest.mark.parametrize("code", PURPOSES)
@pytest.mark.parametrize(
    ("term", "named"),
    [
        ("data_range_months", "`data_range_months`"),
        ("data_life_days", "`data_life_days`"),
        ("validity", "The validity period"),
        ("frequency", "`frequency`"),
        ("fetch_type", "`fetch_type`"),
        ("feature", "does not allow feature"),
    ],
)
def test_a_term_above_a_ceiling_is_refused_naming_the_term(
    catalog: Catalog, code: str, term: str, named: str
) -> None:
    purpose = catalog.purpose(code)
    outside = next(name for name in catalog.features if name not in purpose.features)
    ceilings: dict[str, dict[str, Any]] = {
        "data_range_months": {"data_range_months": purpose.max_data_range_months + 1},
        "data_life_days": {"data_life_days": purpose.max_data_life_days + 1},
        "validity": {"valid_until": START + timedelta(days=purpose.max_validity_days, seconds=1)},
        "frequency": {"frequency_value": purpose.max_frequency.value + 1},
        "fetch_type": {
            "fetch_type": "PERIODIC" if purpose.fetch_types == ("ONETIME",) else "ONETIME"
        },
        "feature": {"features": (purpose.features[0], outside)},
    }
    refusal = refused(catalog, within(catalog, code, **ceilings[term]))
    assert named in refusal.detail
    assert f"'{code}'" in refusal.detail
    if term == "feature":
        assert f"'{outside}'" in refusal.detail
    # Only the one term is named: the other terms are within the purpose.
    assert refusal.detail.count("exceeds") + refusal.detail.count("not allow") == 1


# -- identity match plans --------------------------------------------------------------

IDENTITY = ("identity_id_number_match", "identity_name_match", "identity_phone_match")


def test_an_identity_match_asks_one_source_for_name_and_phone(catalog: Catalog) -> None:
    plan = plan_release(catalog, "identity_match", IDENTITY, None)
    assert plan.source_fields == {"credit_bureau": ("name", "phone")}
    assert plan.compares_identity


def test_an_id_number_match_asks_the_source_for_no_field(catalog: Catalog) -> None:
    plan = plan_release(catalog, "identity_match", IDENTITY, ["identity_id_number_match"])
    assert plan.source_fields == {"credit_bureau": ()}
    # Nothing is compared, so the pipeline need not open the claimed name and phone.
    assert not plan.compares_identity


def test_other_purposes_never_compare_identity(catalog: Catalog) -> None:
    for code in PURPOSES[:-1]:
        purpose = catalog.purpose(code)
        assert not plan_release(catalog, code, purpose.features, None).compares_identity
