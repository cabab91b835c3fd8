"""Every derivation against hand-computed cases, through the shipped catalog."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

import pytest

from connectors.base import Month, MonthRange, SourceRecord
from connectors.registry import load_sources
from gateway.core.errors import PurposeViolation, SourceUnavailable
from policies.catalog import Catalog
from policies.derivations.base import ClaimedIdentity, Derivation, DerivationInput, derivation
from policies.derivations.registry import shipped_derivations
from policies.loading import load_catalog
from policies.outputs import BandOutput
from policies.release import derive_features, project_record
from policies.values import LocalizedText

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
    catalog: Catalog,
    feature: str,
    *records: SourceRecord,
    months: MonthRange = RANGE_24,
    claimed: ClaimedIdentity | None = None,
) -> Any:
    by_source = {record.source: record for record in records}
    return derive_features(catalog, [feature], by_source, months, claimed)[feature]


@dataclass(frozen=True)
class Claimed:
    """A claimed identity as the consent holds it (fictional: the sandbox's 张三)."""

    name: str = "张三"
    id_number: str = "11010519491231002X"
    phone: str = "13800138000"


def cb_identity(name: Any = "张三", phone: Any = "13800138000", found: bool = True) -> SourceRecord:
    if not found:
        return SourceRecord("credit_bureau", LAST, found=False)
    return SourceRecord("credit_bureau", LAST, found=True, fields={"name": name, "phone": phone})


def owed(amounts: Mapping[str, object], months: list[str] | None = None) -> list[dict[str, Any]]:
    """A repayment history with `overdue_amount` set in the months named (malformed, if asked)."""
    return [
        {
            "month": month,
            "overdue_months": 1 if amounts.get(month) else 0,
            "overdue_amount": amounts.get(month, 0),
        }
        for month in (months or months_back(24))
    ]


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
    assert used == set(catalog.derivations)
    for registered in catalog.derivations.values():
        for source, paths in registered.reads.items():
            assert paths <= load_sources()[source].schema, registered.name


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.05, 0.1), (0.15, 0.2), (0.25, 0.3), (0.35, 0.4), (0.45, 0.5), (0.94, 0.9), (0.95, 1.0)],
)
def test_ratios_round_half_up_without_float_drift(value: float, expected: float) -> None:
    output = load_catalog().features["cb_card_utilization"].output
    assert output.generalize(value) == expected


def test_a_band_below_its_first_edge_says_so() -> None:
    from decimal import Decimal

    yuan = LocalizedText(zh="元", en="yuan")
    output = BandOutput(edges=(Decimal(1000), Decimal(5000)), unit=yuan)
    assert output.generalize(999) == "<1000"
    assert output.labels == ("<1000", "1000-5000", "5000+")
    with pytest.raises(ValueError, match="nullable"):
        output.generalize(None)


# -- si_continuous_months, si_employer_changes -----------------------------------------


def test_si_continuous_months_ends_at_the_last_month(catalog: Catalog) -> None:
    assert derive(catalog, "si_continuous_months", si("NORMAL", paid_si(months_back(24)))) == 24
    records = paid_si(months_back(24))
    records[-6]["paid"] = False  # 2026-05 unpaid: the run is 2026-06..2026-10
    assert derive(catalog, "si_continuous_months", si("NORMAL", records)) == 5


def test_si_continuous_months_after_a_gap_last_year(catalog: Catalog) -> None:
    # The 李四 shape: paid until 2025-03, a gap, a new job from 2025-10.
    months = months_back(24)
    records = paid_si([m for m in months if m <= "2025-03" or m >= "2025-10"])
    assert derive(catalog, "si_continuous_months", si("NORMAL", records)) == 13


@pytest.mark.parametrize(
    "record",
    [
        si(found=False),
        si("NORMAL", []),
        si("SUSPENDED", paid_si(months_back(12, Month(2026, 9)))),  # the last month unpaid
        si("NORMAL", paid_si(["2026-11", "2026-12"])),  # after the range only
    ],
)
def test_si_continuous_months_is_zero(catalog: Catalog, record: SourceRecord) -> None:
    assert derive(catalog, "si_continuous_months", record) == 0


def employed(spells: list[tuple[str, list[str]]]) -> SourceRecord:
    """Paid months per employer code; unpaid months carry no employer, as the sources send."""
    records = [
        {"month": month, "base": 8000, "paid": True, "employer_code": code}
        for code, months in spells
        for month in months
    ]
    return si("NORMAL", records)


@pytest.mark.parametrize(
    ("spells", "changes"),
    [
        ([("A", months_back(24))], 0),
        ([("A", months_back(12, Month(2025, 10))), ("B", months_back(12))], 1),
        # A gap and back to the same employer is not a change.
        ([("A", ["2025-01", "2025-02"]), ("A", ["2025-09", "2025-10"])], 0),
        ([("A", ["2025-01"]), ("B", ["2025-05"]), ("A", ["2025-09"])], 2),
        # A mid-month move: both pay 2025-06; the move counts once.
        ([("A", ["2025-05", "2025-06"]), ("B", ["2025-06", "2025-07"])], 1),
        # Two employers in the first month of the range: one change, not none.
        ([("A", ["2024-11"]), ("B", ["2024-11", "2024-12"])], 1),
        # Moves outside the range do not count.
        ([("A", ["2024-09"]), ("B", ["2024-10"]), ("C", months_back(24))], 0),
    ],
)
def test_si_employer_changes(
    catalog: Catalog, spells: list[tuple[str, list[str]]], changes: int
) -> None:
    assert derive(catalog, "si_employer_changes", employed(spells)) == changes


def test_si_employer_changes_skips_unpaid_months(catalog: Catalog) -> None:
    records: list[dict[str, Any]] = [
        {"month": "2025-01", "base": 8000, "paid": True, "employer_code": "A"},
        {"month": "2025-02", "base": None, "paid": False, "employer_code": None},
        {"month": "2025-03", "base": 8000, "paid": True, "employer_code": "B"},
    ]
    assert derive(catalog, "si_employer_changes", si("NORMAL", records)) == 1
    assert derive(catalog, "si_employer_changes", si(found=False)) == 0


def test_si_employer_changes_refuses_a_paid_month_without_employer(catalog: Catalog) -> None:
    records = [{"month": "2026-10", "base": 8000, "paid": True, "employer_code": None}]
    with pytest.raises(SourceUnavailable, match="employer_code"):
        derive(catalog, "si_employer_changes", si("NORMAL", records))


# -- hf_monthly_deposit_band, hf_balance_band, hf_has_loan -----------------------------


def paid_deposits(amounts: Mapping[str, Any], paid: bool = True) -> list[dict[str, Any]]:
    return [{"month": month, "amount": amount, "paid": paid} for month, amount in amounts.items()]


@pytest.mark.parametrize(
    ("amount", "band"),
    [(0, "0-500"), (499.99, "0-500"), (500, "500-1000"), (2400, "2000-3000"), (5000, "5000+")],
)
def test_hf_monthly_deposit_band_edges(catalog: Catalog, amount: Any, band: str) -> None:
    record = hf(deposits=paid_deposits({"2026-10": amount}))
    assert derive(catalog, "hf_monthly_deposit_band", record) == band


def test_hf_monthly_deposit_band_uses_the_latest_paid_month(catalog: Catalog) -> None:
    deposits_ = (
        paid_deposits({"2026-08": 900, "2026-09": 1500})
        + paid_deposits({"2026-10": 4000}, paid=False)  # unpaid: not a deposit
        + paid_deposits({"2026-11": 4000})  # after the range
    )
    assert derive(catalog, "hf_monthly_deposit_band", hf(deposits=deposits_)) == "1000-2000"


def test_hf_monthly_deposit_band_adds_up_one_months_deposits(catalog: Catalog) -> None:
    # A regular and a supplementary deposit (补缴) in the same month.
    deposits_ = paid_deposits({"2026-10": 1200}) + paid_deposits({"2026-10": 900})
    assert derive(catalog, "hf_monthly_deposit_band", hf(deposits=deposits_)) == "2000-3000"


def test_hf_monthly_deposit_band_of_a_sealed_account(catalog: Catalog) -> None:
    # Sealed in 2026-06: the latest paid month in the range is still a real deposit.
    record = hf("SEALED", deposits=paid_deposits({"2026-05": 1800}))
    assert derive(catalog, "hf_monthly_deposit_band", record) == "1000-2000"


@pytest.mark.parametrize(
    "record",
    [hf(found=False), hf(deposits=[]), hf(deposits=paid_deposits({"2026-10": 900}, paid=False))],
)
def test_hf_monthly_deposit_band_is_null_without_a_paid_month(
    catalog: Catalog, record: SourceRecord
) -> None:
    assert derive(catalog, "hf_monthly_deposit_band", record) is None


@pytest.mark.parametrize(
    ("balance", "band"),
    [
        (0, "0-10000"),  # a closed account
        (9999.99, "0-10000"),
        (10000, "10000-50000"),
        (52000, "50000-100000"),
        (200000, "200000-500000"),
        (750000.5, "500000+"),
    ],
)
def test_hf_balance_band(catalog: Catalog, balance: Any, band: str) -> None:
    record = SourceRecord("housing_fund", LAST, True, {"balance": balance})
    assert derive(catalog, "hf_balance_band", record) == band


def test_hf_balance_band_without_an_account_or_with_a_bad_balance(catalog: Catalog) -> None:
    assert derive(catalog, "hf_balance_band", hf(found=False)) is None
    with pytest.raises(SourceUnavailable, match="balance"):
        derive(catalog, "hf_balance_band", SourceRecord("housing_fund", LAST, True, {}))


@pytest.mark.parametrize(
    ("record", "has_loan"),
    [
        (hf(loan_status="REPAYING"), True),
        (hf(loan_status="SETTLED"), False),
        (hf(loan_status="NONE"), False),
        (hf("SEALED", loan_status="REPAYING"), True),
        (hf(found=False), False),
    ],
)
def test_hf_has_loan(catalog: Catalog, record: SourceRecord, has_loan: bool) -> None:
    assert derive(catalog, "hf_has_loan", record) is has_loan


# -- debt_service_ratio ----------------------------------------------------------------


def repaying(*monthly: Any) -> SourceRecord:
    return cb(loans=[{**loan(), "monthly_repayment": amount} for amount in monthly])


@pytest.mark.parametrize(
    ("credit", "ratio"),
    [
        (repaying(3000, 1500), 0.45),  # 4500 / 10000
        (repaying(4740), 0.45),  # 0.474 rounds down to a multiple of 0.05
        (repaying(4750), 0.5),  # 0.475 rounds half up
        (repaying(3000, 0.0), 0.3),  # a settled loan owes no instalment
        (repaying(25000), 2.5),  # more than the income
        (cb(), 0.0),  # a file without loans
        (cb(found=False), 0.0),  # no file: no reported instalments
    ],
)
def test_debt_service_ratio(catalog: Catalog, credit: SourceRecord, ratio: float) -> None:
    income = si("NORMAL", paid_si(["2026-10"], 10000))
    value = derive(catalog, "debt_service_ratio", income, hf(found=False), credit)
    assert value == ratio
    assert type(value) is float


def test_debt_service_ratio_uses_the_income_proxy(catalog: Catalog) -> None:
    # The housing-fund base (12000) is the larger of the two: 3000 / 12000 = 0.25.
    income = si("NORMAL", paid_si(["2026-10"], 8000))
    assert (
        derive(catalog, "debt_service_ratio", income, hf("NORMAL", 12000), repaying(3000)) == 0.25
    )


@pytest.mark.parametrize(
    ("social_insurance", "housing_fund"),
    [(si(found=False), hf(found=False)), (si("NORMAL", []), hf("SEALED", 9000))],
)
def test_debt_service_ratio_is_null_without_an_income(
    catalog: Catalog, social_insurance: SourceRecord, housing_fund: SourceRecord
) -> None:
    assert (
        derive(catalog, "debt_service_ratio", social_insurance, housing_fund, repaying(3000))
        is None
    )


# -- credit bureau: amounts and classes ------------------------------------------------


def test_cb_current_overdue_amount_adds_up_the_last_month(catalog: Catalog) -> None:
    record = cb(
        loans=[{**loan(), "repayment_history": owed({"2026-10": 2850.5, "2026-09": 9999})}],
        cards=[
            {**card(), "repayment_history": owed({"2026-10": 1200})},
            {**card(), "repayment_history": owed({"2026-08": 5000})},  # overdue before, paid now
        ],
    )
    assert derive(catalog, "cb_current_overdue_amount_band", record) == "1000-5000"  # 4050.5


@pytest.mark.parametrize(
    ("amount", "band"),
    [(0, "0-1"), (0.5, "0-1"), (1, "1-1000"), (999.99, "1-1000"), (5000, "5000-20000")],
)
def test_cb_current_overdue_amount_band_edges(catalog: Catalog, amount: Any, band: str) -> None:
    record = cb(cards=[{**card(), "repayment_history": owed({"2026-10": amount})}])
    assert derive(catalog, "cb_current_overdue_amount_band", record) == band


def test_cb_current_overdue_amount_ignores_months_after_the_range(catalog: Catalog) -> None:
    account = {**card(), "repayment_history": owed({"2026-11": 800}, [*months_back(24), "2026-11"])}
    assert derive(catalog, "cb_current_overdue_amount_band", cb(cards=[account])) == "0-1"
    # A loan settled in 2026-04 has no record in the last month: it owes nothing now.
    settled = {**loan(), "repayment_history": owed({}, months_back(6, Month(2026, 4)))}
    assert derive(catalog, "cb_current_overdue_amount_band", cb(loans=[settled])) == "0-1"


def test_cb_current_overdue_amount_without_a_file(catalog: Catalog) -> None:
    assert derive(catalog, "cb_current_overdue_amount_band", cb(found=False)) is None
    assert derive(catalog, "cb_current_overdue_amount_band", cb()) == "0-1"


def test_cb_current_overdue_amount_refuses_a_malformed_amount(catalog: Catalog) -> None:
    account = {**card(), "repayment_history": owed({"2026-10": "lots"})}
    with pytest.raises(SourceUnavailable, match="overdue_amount"):
        derive(catalog, "cb_current_overdue_amount_band", cb(cards=[account]))


@pytest.mark.parametrize(
    ("window", "count"),
    [("cb_hard_inquiries_1m", 2), ("cb_hard_inquiries_3m", 3), ("cb_hard_inquiries_6m", 4)],
)
def test_cb_hard_inquiries_windows(catalog: Catalog, window: str, count: int) -> None:
    inquiries = [
        {"date": "2026-10-01", "reason": "LOAN_APPROVAL"},  # first day of the 1-month window
        {"date": "2026-10-31", "reason": "CARD_APPROVAL"},
        {"date": "2026-09-30", "reason": "LOAN_APPROVAL"},  # 3 months: 2026-08..2026-10
        {"date": "2026-07-31", "reason": "CARD_APPROVAL"},  # 6 months: 2026-05..2026-10
        {"date": "2026-10-15", "reason": "POST_LOAN"},  # not an approval
        {"date": "2026-04-30", "reason": "LOAN_APPROVAL"},  # before every window
    ]
    assert derive(catalog, window, cb(inquiries=inquiries)) == count


@pytest.mark.parametrize(
    ("balances", "band"),
    [
        ([], "0-1"),
        ([0, 0.0], "0-1"),  # settled loans
        ([30000, 19999.99], "1-50000"),
        ([30000, 20000], "50000-200000"),
        ([800000, 300000, 1000000], "2000000+"),
    ],
)
def test_cb_loan_balance_band(catalog: Catalog, balances: list[Any], band: str) -> None:
    record = cb(loans=[loan(balance=balance) for balance in balances])
    assert derive(catalog, "cb_loan_balance_band", record) == band


def test_cb_loan_balance_band_without_a_file(catalog: Catalog) -> None:
    assert derive(catalog, "cb_loan_balance_band", cb(found=False)) is None
    with pytest.raises(SourceUnavailable, match="balance"):
        derive(catalog, "cb_loan_balance_band", cb(loans=[loan(balance=-5)]))


@pytest.mark.parametrize(
    ("monthly", "band"),
    [((), "0-1"), ((0.0,), "0-1"), ((999.5,), "1-1000"), ((3000, 1500), "3000-5000")],
)
def test_cb_monthly_repayment_band(catalog: Catalog, monthly: tuple[Any, ...], band: str) -> None:
    assert derive(catalog, "cb_monthly_repayment_band", repaying(*monthly)) == band
    assert derive(catalog, "cb_monthly_repayment_band", cb(found=False)) is None


@pytest.mark.parametrize(
    ("record", "abnormal"),
    [
        (cb(loans=[loan()], cards=[card()]), False),
        (cb(loans=[loan(five_class="SPECIAL_MENTION")]), True),
        (cb(cards=[card(), card(five_class="LOSS")]), True),
        (cb(), False),
        (cb(found=False), False),
    ],
)
def test_cb_abnormal_five_class(catalog: Catalog, record: SourceRecord, abnormal: bool) -> None:
    assert derive(catalog, "cb_abnormal_five_class", record) is abnormal


def test_cb_abnormal_five_class_refuses_an_unknown_class(catalog: Catalog) -> None:
    with pytest.raises(SourceUnavailable, match=r"card_accounts\.five_class"):
        derive(catalog, "cb_abnormal_five_class", cb(cards=[card(five_class="BAD_DEBT")]))


# -- identity match --------------------------------------------------------------------


def test_identity_matches_answer_true_for_the_person_on_file(catalog: Catalog) -> None:
    record = cb_identity()
    for feature in ("identity_id_number_match", "identity_name_match", "identity_phone_match"):
        assert derive(catalog, feature, record, claimed=Claimed()) is True


@pytest.mark.parametrize(
    ("on_file", "claimed", "match"),
    [
        ("张三", "张三", True),
        (" 张 三 ", "张三", True),  # spacing on file
        ("阿依古丽·买买提", "阿依古丽·买买提", True),
        ("阿依古丽•买买提", "阿依古丽·买买提", True),  # another middle dot
        ("阿依古丽・买买提", "阿依古丽·买买提", True),  # the full-width one
        ("张三", "张叁", False),
        ("张三丰", "张三", False),
        ("", "张三", False),
    ],
)
def test_identity_name_match(catalog: Catalog, on_file: str, claimed: str, match: bool) -> None:
    record = cb_identity(name=on_file)
    assert derive(catalog, "identity_name_match", record, claimed=Claimed(name=claimed)) is match


@pytest.mark.parametrize(
    ("on_file", "match"),
    [
        ("13800138000", True),
        ("+86 138-0013-8000", True),
        ("0086 13800138000", True),
        ("8613800138000", True),
        ("13800138001", False),
        ("1380013800", False),
    ],
)
def test_identity_phone_match(catalog: Catalog, on_file: str, match: bool) -> None:
    record = cb_identity(phone=on_file)
    assert derive(catalog, "identity_phone_match", record, claimed=Claimed()) is match


def test_identity_matches_are_false_without_a_file(catalog: Catalog) -> None:
    record = cb_identity(found=False)
    for feature in ("identity_id_number_match", "identity_name_match", "identity_phone_match"):
        assert derive(catalog, feature, record, claimed=Claimed()) is False


def test_identity_matches_never_carry_the_value_on_file(catalog: Catalog) -> None:
    record = cb_identity(name="李四", phone="13900139000")
    names = ["identity_id_number_match", "identity_name_match", "identity_phone_match"]
    released = derive_features(catalog, names, {"credit_bureau": record}, RANGE_24, Claimed())
    assert released == {
        "identity_id_number_match": True,
        "identity_name_match": False,
        "identity_phone_match": False,
    }
    text = json.dumps(released, ensure_ascii=False)
    assert "李四" not in text and "13900139000" not in text and "张三" not in text


def test_an_identity_comparison_needs_the_claimed_identity(catalog: Catalog) -> None:
    with pytest.raises(ValueError, match="claimed identity"):
        derive(catalog, "identity_name_match", cb_identity())


@pytest.mark.parametrize("value", [None, 42])
def test_an_identity_comparison_refuses_a_malformed_value(catalog: Catalog, value: Any) -> None:
    with pytest.raises(SourceUnavailable, match="name"):
        derive(catalog, "identity_name_match", cb_identity(name=value), claimed=Claimed())


def test_only_identity_comparisons_are_handed_the_claimed_identity(catalog: Catalog) -> None:
    seen: dict[str, ClaimedIdentity | None] = {}

    def spy(name: str) -> Derivation:
        registered = catalog.derivations[name]

        def function(inputs: DerivationInput) -> Any:
            seen[name] = inputs.claimed
            return registered.function(inputs)

        return replace(registered, function=function)

    spied = {
        name: spy(name) for name in ("identity_name_match", "identity_on_file", "cb_open_loans")
    }
    spying = replace(catalog, derivations=MappingProxyType({**catalog.derivations, **spied}))
    records = {"credit_bureau": cb_identity()}
    features = ["identity_name_match", "identity_id_number_match", "cb_open_loan_count"]
    derive_features(spying, features, records, RANGE_24, Claimed())
    assert seen == {
        "identity_name_match": Claimed(),
        "identity_on_file": None,
        "cb_open_loans": None,
    }


def test_an_identity_comparison_must_answer_yes_or_no() -> None:
    def identity_name_band(inputs: DerivationInput) -> None:
        return None

    with pytest.raises(RuntimeError, match="true or false"):
        derivation(
            identity_name_band,
            reads={"credit_bureau": ["name"]},
            output="band",
            compares_identity=True,
        )
    assert "identity_name_band" not in shipped_derivations()
