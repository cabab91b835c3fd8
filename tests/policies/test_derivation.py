"""Every derivation against hand-computed cases, through the shipped catalog."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from connectors.base import Month, MonthRange, SourceRecord
from connectors.schemas import SOURCE_SCHEMAS
from gateway.errors import PurposeViolation, SourceUnavailable
from policies.catalog import Catalog, Output, load_catalog
from policies.derivation import DERIVATIONS, derive_features, project_record

LAST = Month(2026, 10)
RANGE_24 = MonthRange.ending(LAST, 24)  # 2024-11 .. 2026-10


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def months_back(count: int, last: Month = LAST) -> list[str]:
    """`count` months ending at `last`, oldest first, as the sources write them."""
    return [str(last.shift(-offset)) for offset in range(count - 1, -1, -1)]


def si(
    status: str = "NORMAL", records: list[dict[str, Any]] | None = None, found: bool = True
) -> SourceRecord:
    if not found:
        return SourceRecord("social_insurance", LAST, found=False)
    return SourceRecord(
        "social_insurance",
        LAST,
        found=True,
        fields={"insured_status": status, "contribution_records": records or []},
    )


def paid_si(months: list[str], base: Any = 8000, paid: bool = True) -> list[dict[str, Any]]:
    return [
        {"month": month, "base": base, "paid": paid, "employer_code": "91110000MA00000000"}
        for month in months
    ]


def hf(
    status: str = "NORMAL",
    base: Any = 10000,
    deposits: list[dict[str, Any]] | None = None,
    loan_status: str = "NONE",
    found: bool = True,
) -> SourceRecord:
    if not found:
        return SourceRecord("housing_fund", LAST, found=False)
    return SourceRecord(
        "housing_fund",
        LAST,
        found=True,
        fields={
            "account_status": status,
            "deposit_base": base,
            "deposit_records": deposits or [],
            "loan_status": loan_status,
            "balance": 52000,
        },
    )


def deposits(months: list[str], paid: bool = True) -> list[dict[str, Any]]:
    return [{"month": month, "amount": 2400, "paid": paid} for month in months]


def history(overdue: Mapping[str, int], months: list[str] | None = None) -> list[dict[str, Any]]:
    """A repayment history over `months` (default: the 24-month range), on time unless named."""
    return [
        {"month": month, "overdue_months": overdue.get(month, 0), "overdue_amount": 0}
        for month in (months or months_back(24))
    ]


def loan(
    overdue: Mapping[str, int] | None = None, balance: Any = 50000, five_class: str = "NORMAL"
) -> dict[str, Any]:
    return {
        "account_type": "CONSUMER",
        "opened": "2023-03",
        "amount": 100000,
        "balance": balance,
        "five_class": five_class,
        "monthly_repayment": 3000,
        "repayment_history": history(overdue or {}),
    }


def card(
    limit: Any = 10000,
    used: Any = 0,
    overdue: Mapping[str, int] | None = None,
    five_class: str = "NORMAL",
) -> dict[str, Any]:
    return {
        "opened": "2021-06",
        "credit_limit": limit,
        "used_amount": used,
        "five_class": five_class,
        "repayment_history": history(overdue or {}),
    }


def cb(
    loans: list[dict[str, Any]] | None = None,
    cards: list[dict[str, Any]] | None = None,
    inquiries: list[dict[str, Any]] | None = None,
    found: bool = True,
) -> SourceRecord:
    if not found:
        return SourceRecord("credit_bureau", LAST, found=False)
    return SourceRecord(
        "credit_bureau",
        LAST,
        found=True,
        fields={
            "loan_accounts": loans or [],
            "card_accounts": cards or [],
            "inquiries": inquiries or [],
            "public_records": [],
        },
    )


def derive(
    catalog: Catalog, feature: str, *records: SourceRecord, months: MonthRange = RANGE_24
) -> Any:
    by_source = {record.source: record for record in records}
    return derive_features(catalog, [feature], by_source, months)[feature]


# -- si_active -------------------------------------------------------------------------


def test_si_active_when_normal_and_last_month_paid(catalog: Catalog) -> None:
    assert derive(catalog, "si_active", si("NORMAL", paid_si(months_back(24)))) is True


def test_si_inactive_when_last_month_unpaid(catalog: Catalog) -> None:
    records = paid_si(months_back(23, LAST.shift(-1))) + paid_si(["2026-10"], paid=False)
    assert derive(catalog, "si_active", si("NORMAL", records)) is False


def test_si_inactive_when_last_month_is_a_gap(catalog: Catalog) -> None:
    assert derive(catalog, "si_active", si("NORMAL", paid_si(["2026-08", "2026-09"]))) is False


def test_si_inactive_when_suspended_even_if_paid(catalog: Catalog) -> None:
    assert derive(catalog, "si_active", si("SUSPENDED", paid_si(months_back(3)))) is False


def test_si_inactive_without_a_record(catalog: Catalog) -> None:
    assert derive(catalog, "si_active", si(found=False)) is False


def test_si_active_ignores_payments_after_the_range(catalog: Catalog) -> None:
    records = paid_si(["2026-11"])  # the range ends 2026-10
    assert derive(catalog, "si_active", si("NORMAL", records)) is False


def test_si_active_refuses_an_unknown_status(catalog: Catalog) -> None:
    with pytest.raises(SourceUnavailable) as raised:
        derive(catalog, "si_active", si("ACTIVE", paid_si(["2026-10"])))
    assert raised.value.code == "SourceUnavailable"
    assert "insured_status" in raised.value.detail


# -- si_paid_months --------------------------------------------------------------------


def test_si_paid_months_counts_paid_months_in_range(catalog: Catalog) -> None:
    months = months_back(24)
    records = (
        paid_si(months[:10])
        + paid_si(months[10:12], paid=False)  # unpaid months
        + paid_si(months[14:])  # months[12:14] missing: a gap
    )
    assert derive(catalog, "si_paid_months", si("NORMAL", records)) == 20


def test_si_paid_months_ignores_data_outside_the_range(catalog: Catalog) -> None:
    records = paid_si(["2024-09", "2024-10", "2024-11", "2026-10", "2026-11", "2027-01"])
    assert derive(catalog, "si_paid_months", si("NORMAL", records)) == 2


def test_si_paid_months_counts_a_month_once(catalog: Catalog) -> None:
    # Two employers in one month (a job change) is still one insured month.
    records = paid_si(["2026-09"]) + paid_si(["2026-09", "2026-10"], base=6000)
    assert derive(catalog, "si_paid_months", si("NORMAL", records)) == 2


@pytest.mark.parametrize("record", [si(found=False), si("NORMAL", [])])
def test_si_paid_months_is_zero_without_records(catalog: Catalog, record: SourceRecord) -> None:
    assert derive(catalog, "si_paid_months", record) == 0


def test_si_paid_months_reads_a_missing_list_as_empty(catalog: Catalog) -> None:
    record = SourceRecord("social_insurance", LAST, True, {"insured_status": "NORMAL"})
    assert derive(catalog, "si_paid_months", record) == 0


def test_si_paid_months_refuses_a_malformed_month(catalog: Catalog) -> None:
    with pytest.raises(SourceUnavailable):
        derive(catalog, "si_paid_months", si("NORMAL", paid_si(["2026/10"])))


# -- si_contribution_base_band ---------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "band"),
    [
        (0, "0-3000"),
        (2999.99, "0-3000"),
        (3000, "3000-5000"),  # bands are [lo, hi): an edge opens the next band
        (7999.99, "5000-8000"),
        (8000, "8000-12000"),
        ("11999.5", "8000-12000"),
        (19999, "12000-20000"),
        (20000, "20000+"),
        (98000, "20000+"),
    ],
)
def test_si_contribution_base_band_edges(catalog: Catalog, base: Any, band: str) -> None:
    record = si("NORMAL", paid_si(["2026-10"], base=base))
    assert derive(catalog, "si_contribution_base_band", record) == band


def test_si_contribution_base_band_uses_the_latest_paid_month(catalog: Catalog) -> None:
    records = (
        paid_si(["2026-08"], base=4000)
        + paid_si(["2026-09"], base=9000)
        + paid_si(["2026-10"], base=25000, paid=False)  # unpaid: not the latest paid
        + paid_si(["2026-11"], base=30000)  # outside the range
    )
    assert derive(catalog, "si_contribution_base_band", si("NORMAL", records)) == "8000-12000"


def test_si_contribution_base_band_takes_the_higher_base_of_one_month(catalog: Catalog) -> None:
    records = paid_si(["2026-10"], base=4000) + paid_si(["2026-10"], base=13000)
    assert derive(catalog, "si_contribution_base_band", si("NORMAL", records)) == "12000-20000"


@pytest.mark.parametrize(
    "record",
    [si(found=False), si("NORMAL", []), si("NORMAL", paid_si(months_back(6), paid=False))],
)
def test_si_contribution_base_band_is_null_without_a_paid_month(
    catalog: Catalog, record: SourceRecord
) -> None:
    assert derive(catalog, "si_contribution_base_band", record) is None


@pytest.mark.parametrize("base", [-1, "abc", True, None, float("nan")])
def test_si_contribution_base_band_refuses_a_malformed_base(catalog: Catalog, base: Any) -> None:
    with pytest.raises(SourceUnavailable):
        derive(catalog, "si_contribution_base_band", si("NORMAL", paid_si(["2026-10"], base)))


# -- housing fund ----------------------------------------------------------------------


@pytest.mark.parametrize("status", ["NORMAL", "SEALED", "CLOSED"])
def test_hf_status_reports_the_account_status(catalog: Catalog, status: str) -> None:
    assert derive(catalog, "hf_status", hf(status)) == status


def test_hf_status_is_none_without_an_account(catalog: Catalog) -> None:
    assert derive(catalog, "hf_status", hf(found=False)) == "NONE"


def test_hf_status_refuses_an_unknown_code(catalog: Catalog) -> None:
    with pytest.raises(SourceUnavailable):
        derive(catalog, "hf_status", hf("FROZEN"))


def test_hf_continuous_months_over_the_whole_range(catalog: Catalog) -> None:
    assert derive(catalog, "hf_continuous_months", hf(deposits=deposits(months_back(24)))) == 24


def test_hf_continuous_months_stops_at_a_gap(catalog: Catalog) -> None:
    records = deposits(months_back(24))
    del records[-4]  # 2026-07 missing: the run is 2026-08..2026-10
    assert derive(catalog, "hf_continuous_months", hf(deposits=records)) == 3


def test_hf_continuous_months_stops_at_an_unpaid_month(catalog: Catalog) -> None:
    records = deposits(months_back(24))
    records[-2]["paid"] = False  # 2026-09
    assert derive(catalog, "hf_continuous_months", hf(deposits=records)) == 1


def test_hf_continuous_months_is_zero_when_the_last_month_is_unpaid(catalog: Catalog) -> None:
    records = deposits(months_back(23, LAST.shift(-1))) + deposits(["2026-10"], paid=False)
    assert derive(catalog, "hf_continuous_months", hf(deposits=records)) == 0


def test_hf_continuous_months_of_a_sealed_account(catalog: Catalog) -> None:
    # Deposits stopped in 2026-05 when the account was sealed.
    record = hf("SEALED", deposits=deposits(months_back(12, Month(2026, 5))))
    assert derive(catalog, "hf_continuous_months", record) == 0


def test_hf_continuous_months_never_runs_past_the_range(catalog: Catalog) -> None:
    record = hf(deposits=deposits([*months_back(60), "2026-11"]))
    assert derive(catalog, "hf_continuous_months", record) == 24
    short = MonthRange.ending(LAST, 6)
    assert derive(catalog, "hf_continuous_months", record, months=short) == 6


def test_hf_continuous_months_without_an_account(catalog: Catalog) -> None:
    assert derive(catalog, "hf_continuous_months", hf(found=False)) == 0


def test_hf_paid_months_counts_paid_months_in_range(catalog: Catalog) -> None:
    records = deposits(["2024-10", "2024-11", "2025-06"]) + deposits(["2026-10"], paid=False)
    assert derive(catalog, "hf_paid_months", hf(deposits=records)) == 2
    assert derive(catalog, "hf_paid_months", hf(found=False)) == 0


@pytest.mark.parametrize(
    ("record", "band"),
    [
        (hf("NORMAL", 12000), "12000-20000"),
        (hf("NORMAL", 11999), "8000-12000"),
        (hf("SEALED", 12000), None),  # a sealed account's base describes a past job
        (hf("CLOSED", 12000), None),
        (hf(found=False), None),
    ],
)
def test_hf_deposit_base_band(catalog: Catalog, record: SourceRecord, band: str | None) -> None:
    assert derive(catalog, "hf_deposit_base_band", record) == band


@pytest.mark.parametrize("status", ["NONE", "REPAYING", "SETTLED"])
def test_hf_loan_status(catalog: Catalog, status: str) -> None:
    assert derive(catalog, "hf_loan_status", hf(loan_status=status)) == status


def test_hf_loan_status_without_an_account(catalog: Catalog) -> None:
    assert derive(catalog, "hf_loan_status", hf(found=False)) == "NONE"


# -- income_proxy_band -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("social_insurance", "housing_fund", "band"),
    [
        (si("NORMAL", paid_si(["2026-10"], 8000)), hf("NORMAL", 12000), "12000-20000"),
        (si("NORMAL", paid_si(["2026-10"], 25000)), hf("NORMAL", 5000), "20000+"),
        (si(found=False), hf("NORMAL", 6000), "5000-8000"),
        (si("NORMAL", paid_si(["2026-10"], 4000)), hf(found=False), "3000-5000"),
        (si("NORMAL", paid_si(["2026-10"], 4000)), hf("SEALED", 30000), "3000-5000"),
        (si("TERMINATED", paid_si(["2025-01"], 5000)), hf("CLOSED", 30000), "5000-8000"),
        (si("NORMAL", paid_si(["2026-10"], 8000)), hf("NORMAL", 8000), "8000-12000"),
        (si(found=False), hf(found=False), None),
        (si("NORMAL", []), hf("SEALED", 9000), None),
    ],
)
def test_income_proxy_band(
    catalog: Catalog,
    social_insurance: SourceRecord,
    housing_fund: SourceRecord,
    band: str | None,
) -> None:
    assert derive(catalog, "income_proxy_band", social_insurance, housing_fund) == band


def test_income_proxy_band_needs_both_sources(catalog: Catalog) -> None:
    with pytest.raises(ValueError, match="housing_fund"):
        derive(catalog, "income_proxy_band", si("NORMAL", paid_si(["2026-10"])))


# -- credit bureau: overdue ------------------------------------------------------------


def test_cb_overdue_accounts_counts_accounts_not_months(catalog: Catalog) -> None:
    record = cb(
        loans=[loan({"2025-03": 1, "2025-04": 2}), loan()],
        cards=[card(overdue={"2026-10": 1}), card(), card(overdue={"2024-11": 3})],
    )
    assert derive(catalog, "cb_overdue_accounts_24m", record) == 3


def test_cb_overdue_accounts_ignores_history_outside_the_range(catalog: Catalog) -> None:
    older = {"month": "2024-10", "overdue_months": 4, "overdue_amount": 900}
    newer = {"month": "2026-11", "overdue_months": 1, "overdue_amount": 100}
    account = card()
    account["repayment_history"] = [older, *account["repayment_history"], newer]
    assert derive(catalog, "cb_overdue_accounts_24m", cb(cards=[account])) == 0


def test_cb_overdue_accounts_looks_back_24_months_of_a_longer_range(catalog: Catalog) -> None:
    range_36 = MonthRange.ending(LAST, 36)  # 2023-11 .. 2026-10
    months = months_back(36)
    accounts = [
        {**loan(), "repayment_history": history({"2024-11": 1}, months)},  # window's first month
        {**loan(), "repayment_history": history({"2024-10": 2}, months)},  # a month before it
    ]
    assert derive(catalog, "cb_overdue_accounts_24m", cb(loans=accounts), months=range_36) == 1


def test_cb_overdue_accounts_over_a_shorter_range(catalog: Catalog) -> None:
    # A 12-month consent sees 12 months, however long the feature's window.
    record = cb(loans=[loan({"2025-10": 1}), loan({"2025-11": 1})])
    short = MonthRange.ending(LAST, 12)  # 2025-11 .. 2026-10
    assert derive(catalog, "cb_overdue_accounts_24m", record, months=short) == 1


@pytest.mark.parametrize("record", [cb(found=False), cb()])
def test_cb_overdue_accounts_is_zero_without_accounts(
    catalog: Catalog, record: SourceRecord
) -> None:
    assert derive(catalog, "cb_overdue_accounts_24m", record) == 0


@pytest.mark.parametrize("overdue", [-1, "1", None, 1.5])
def test_cb_overdue_accounts_refuses_malformed_history(catalog: Catalog, overdue: Any) -> None:
    account = loan()
    account["repayment_history"][0]["overdue_months"] = overdue
    with pytest.raises(SourceUnavailable, match="repayment_history"):
        derive(catalog, "cb_overdue_accounts_24m", cb(loans=[account]))


def test_cb_max_overdue_months(catalog: Catalog) -> None:
    record = cb(
        loans=[loan({"2025-03": 1, "2025-04": 2})],
        cards=[card(overdue={"2026-01": 3})],
    )
    assert derive(catalog, "cb_max_overdue_months_24m", record) == 3
    assert derive(catalog, "cb_max_overdue_months_24m", cb(loans=[loan()])) == 0
    assert derive(catalog, "cb_max_overdue_months_24m", cb(found=False)) == 0


# -- credit bureau: inquiries, cards, loans --------------------------------------------


def test_cb_hard_inquiries_counts_approvals_in_the_last_6_months(catalog: Catalog) -> None:
    inquiries = [
        {"date": "2026-05-01", "reason": "LOAN_APPROVAL"},  # first day of the window
        {"date": "2026-10-31", "reason": "CARD_APPROVAL"},  # last day of the range
        {"date": "2026-07-15", "reason": "LOAN_APPROVAL"},
        {"date": "2026-04-30", "reason": "LOAN_APPROVAL"},  # before the window
        {"date": "2026-11-01", "reason": "CARD_APPROVAL"},  # after the range
        {"date": "2026-09-09", "reason": "POST_LOAN"},
        {"date": "2026-09-09", "reason": "SELF"},
        {"date": "2026-09-09", "reason": "GUARANTEE_CHECK"},
    ]
    assert derive(catalog, "cb_hard_inquiries_6m", cb(inquiries=inquiries)) == 3


def test_cb_hard_inquiries_without_a_file(catalog: Catalog) -> None:
    assert derive(catalog, "cb_hard_inquiries_6m", cb(found=False)) == 0
    assert derive(catalog, "cb_hard_inquiries_6m", cb()) == 0


def test_cb_hard_inquiries_refuses_a_malformed_date(catalog: Catalog) -> None:
    inquiries = [{"date": "2026-13-01", "reason": "LOAN_APPROVAL"}]
    with pytest.raises(SourceUnavailable, match=r"inquiries\.date"):
        derive(catalog, "cb_hard_inquiries_6m", cb(inquiries=inquiries))


@pytest.mark.parametrize(
    ("cards", "ratio"),
    [
        ([card(10000, 3500), card(10000, 3500)], 0.4),  # 0.35 rounds half up
        ([card(20000, 5000)], 0.3),  # 0.25
        ([card(10000, 3490)], 0.3),  # 0.349
        ([card(10000, 0)], 0.0),
        ([card(10000.0, 3000.0)], 0.3),
        ([card(10000, 12300)], 1.2),  # over the limit
        ([card(10000, -500), card(10000, 2000)], 0.1),  # an overpaid card uses nothing
        ([card(0, 0), card(5000, 5000)], 1.0),
    ],
)
def test_cb_card_utilization(catalog: Catalog, cards: list[dict[str, Any]], ratio: float) -> None:
    value = derive(catalog, "cb_card_utilization", cb(cards=cards))
    assert value == ratio
    assert type(value) is float


@pytest.mark.parametrize("record", [cb(found=False), cb(cards=[]), cb(cards=[card(0, 0)])])
def test_cb_card_utilization_is_null_without_a_limit(
    catalog: Catalog, record: SourceRecord
) -> None:
    assert derive(catalog, "cb_card_utilization", record) is None


def test_cb_open_loan_count_counts_outstanding_balances(catalog: Catalog) -> None:
    record = cb(loans=[loan(balance=0), loan(balance=100), loan(balance=250000.5)])
    assert derive(catalog, "cb_open_loan_count", record) == 2
    assert derive(catalog, "cb_open_loan_count", cb(found=False)) == 0


def test_cb_worst_five_class(catalog: Catalog) -> None:
    record = cb(
        loans=[loan(five_class="SPECIAL_MENTION"), loan()],
        cards=[card(five_class="SUBSTANDARD")],
    )
    assert derive(catalog, "cb_worst_five_class", record) == "SUBSTANDARD"
    assert derive(catalog, "cb_worst_five_class", cb(loans=[loan()])) == "NORMAL"
    assert derive(catalog, "cb_worst_five_class", cb()) == "NONE"
    assert derive(catalog, "cb_worst_five_class", cb(found=False)) == "NONE"
    with pytest.raises(SourceUnavailable):
        derive(catalog, "cb_worst_five_class", cb(loans=[loan(five_class="BAD")]))


# -- the whole derivation step ---------------------------------------------------------


def test_derive_features_for_a_thin_sealed_profile(catalog: Catalog) -> None:
    """Sealed housing fund, a social-insurance gap last year, two overdue cards."""
    si_months = [m for m in months_back(24) if not m.startswith("2025-0")]
    records = {
        "social_insurance": si("NORMAL", paid_si(si_months, base=6500)),
        "housing_fund": hf("SEALED", 9000, deposits(months_back(8, Month(2025, 12)))),
        "credit_bureau": cb(
            loans=[loan(balance=0)],
            cards=[
                card(8000, 7000, overdue={"2026-02": 1}),
                card(5000, 4900, overdue={"2025-07": 2}),
            ],
            inquiries=[{"date": "2026-08-02", "reason": "CARD_APPROVAL"}],
        ),
    }
    names = [
        "si_active",
        "si_paid_months",
        "hf_status",
        "hf_continuous_months",
        "income_proxy_band",
        "cb_overdue_accounts_24m",
        "cb_hard_inquiries_6m",
        "cb_card_utilization",
        "cb_open_loan_count",
    ]
    features = derive_features(catalog, names, records, RANGE_24)
    assert features == {
        "si_active": True,
        "si_paid_months": 15,
        "hf_status": "SEALED",
        "hf_continuous_months": 0,
        "income_proxy_band": "5000-8000",
        "cb_overdue_accounts_24m": 2,
        "cb_hard_inquiries_6m": 1,
        "cb_card_utilization": 0.9,  # 11900 / 13000 = 0.915...
        "cb_open_loan_count": 0,
    }
    assert list(features) == names
    json.dumps(features)  # JSON-ready as it is


def test_derive_features_refuses_an_unknown_feature(catalog: Catalog) -> None:
    with pytest.raises(PurposeViolation) as raised:
        derive_features(catalog, ["raw_name"], {}, RANGE_24)
    assert raised.value.code == "PurposeViolation"


def test_a_derivation_sees_only_its_feature_fields() -> None:
    record = si("NORMAL", paid_si(["2026-10"]))
    projected = project_record(record, ["contribution_records.paid"])
    assert projected.fields == {"contribution_records": [{"month": "2026-10", "paid": True}]}
    unfound = si(found=False)
    assert project_record(unfound, ["insured_status"]) is unfound


def test_every_registered_derivation_is_shipped_and_within_the_schemas(catalog: Catalog) -> None:
    used = {feature.derivation for feature in catalog.features.values()}
    assert used == set(DERIVATIONS)
    for derivation in DERIVATIONS.values():
        for source, paths in derivation.reads.items():
            assert paths <= SOURCE_SCHEMAS[source], derivation.name


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.05, 0.1), (0.15, 0.2), (0.25, 0.3), (0.35, 0.4), (0.45, 0.5), (0.94, 0.9), (0.95, 1.0)],
)
def test_ratios_round_half_up_without_float_drift(value: float, expected: float) -> None:
    output = load_catalog().features["cb_card_utilization"].output
    assert output.generalize(value) == expected


def test_a_band_below_its_first_edge_says_so() -> None:
    from decimal import Decimal

    output = Output(type="band", edges=(Decimal(1000), Decimal(5000)))
    assert output.generalize(999) == "<1000"
    assert output.labels == ("<1000", "1000-5000", "5000+")
    with pytest.raises(ValueError, match="nullable"):
        output.generalize(None)
