"""The sandbox identities: fictional people every simulator holds whatever its seed."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date

from connectors.base import Month
from connectors.people.generator import draw_bills
from connectors.people.histories import (
    UTILITY_TYPES,
    Card,
    CreditFile,
    Delinquency,
    Employer,
    EmploymentSpell,
    HousingFundAccount,
    Inquiry,
    Loan,
    Person,
    UtilityHistory,
)
from connectors.people.identities import employer_code

SANDBOX_ID_NUMBERS = (
    "11010519491231002X",
    "440304199001010011",
    "310101198506150024",
    "510107199203080030",
)
"""The fictional people every simulator holds whatever its seed (DESIGN.md)."""


def sandbox_people(as_of: Month) -> list[Person]:
    """The four sandbox identities, with histories placed relative to `as_of`."""
    rng = random.Random("lendgate-sandbox")
    employer_codes = [employer_code(rng) for _ in range(6)]
    employer_names = (
        "示例科技有限公司",
        "示例信息技术股份有限公司",
        "示例商贸有限公司",
        "示例物流有限公司",
        "示例餐饮管理有限公司",
        "示例制造有限公司",
    )

    def employer(index: int, rate: float | None) -> Employer:
        return Employer(
            employer_codes[index], rate is not None, rate or 0.0, rate or 0.0, employer_names[index]
        )

    def on(month: Month, day: int) -> date:
        return date(month.year, month.month, day)

    bills = random.Random("lendgate-sandbox-utility")

    def utility(
        kinds: tuple[str, ...], opened: Month, late: tuple[Month, ...] = (), unpaid_tail: int = 0
    ) -> UtilityHistory:
        accounts = tuple((kind, opened) for kind in kinds)
        drawn = draw_bills(bills, accounts, as_of, 0.0, unpaid_tail, {})
        return UtilityHistory(
            accounts,
            tuple(
                replace(bill, paid_on_time=False) if bill.month in late else bill for bill in drawn
            ),
        )

    # "Last year" is the calendar year before the current one; the gap always falls
    # inside the last 24 months whatever the current month is.
    gap_year = as_of.shift(1).year - 1
    zhang_san = Person(
        name="张三",
        id_number="11010519491231002X",
        phone="13800138000",
        birth_date=date(1949, 12, 31),
        spells=(
            EmploymentSpell(employer(0, 0.12), Month(2003, 4), Month(2013, 8), 5_200, 0.04),
            EmploymentSpell(employer(1, 0.12), Month(2013, 9), None, 9_800, 0.03),
        ),
        housing_fund=HousingFundAccount(Month(2003, 4), balance_share=0.8),
        utility=utility(UTILITY_TYPES, Month(2008, 1)),
        credit=CreditFile(
            loans=(Loan("CONSUMER", date(2021, 5, 10), 60_000, 24, 0.065),),
            cards=(
                Card(date(2010, 3, 15), 50_000, 6_000),
                Card(date(2016, 11, 2), 30_000, 2_500),
            ),
            inquiries=(
                Inquiry(on(as_of.shift(-14), 3), "CARD_APPROVAL"),
                Inquiry(on(as_of.shift(-4), 12), "SELF"),
            ),
        ),
    )
    li_si = Person(
        name="李四",
        id_number="440304199001010011",
        phone="13900139000",
        birth_date=date(1990, 1, 1),
        spells=(
            EmploymentSpell(employer(2, 0.10), Month(2012, 7), Month(gap_year, 3), 6_000, 0.04),
            EmploymentSpell(employer(3, None), Month(gap_year, 10), None, 8_500, 0.03),
        ),
        housing_fund=HousingFundAccount(Month(2012, 7), balance_share=0.6),
        # Bills ran late while out of work, and last month's are still unpaid.
        utility=utility(
            ("ELECTRICITY", "WATER"),
            Month(2013, 3),
            late=(Month(gap_year, 6), Month(gap_year, 8)),
            unpaid_tail=1,
        ),
        credit=CreditFile(
            loans=(Loan("CONSUMER", on(as_of.shift(-14), 20), 80_000, 36, 0.09),),
            cards=(
                Card(date(2015, 6, 8), 20_000, 19_000, (Delinquency(as_of.shift(-1), 2),)),
                Card(date(2018, 9, 21), 10_000, 7_200, (Delinquency(as_of.shift(-8), 1),)),
                Card(date(2020, 2, 14), 15_000, 3_000),
            ),
            inquiries=(
                Inquiry(on(as_of.shift(-7), 9), "LOAN_APPROVAL"),
                Inquiry(on(as_of.shift(-2), 18), "POST_LOAN"),
            ),
        ),
    )
    wang_wu = Person(
        name="王五",
        id_number="310101198506150024",
        phone="13700137000",
        birth_date=date(1985, 6, 15),
        spells=(EmploymentSpell(employer(4, None), as_of.shift(-25), None, 7_000, 0.02),),
        # A thin credit file, but years of bills paid on time: what alternative data is for.
        utility=utility(UTILITY_TYPES, as_of.shift(-30)),
        credit=CreditFile(
            cards=(Card(on(as_of.shift(-8), 5), 6_000, 1_500),),
            inquiries=tuple(
                Inquiry(on(as_of.shift(-offset), day), reason)
                for offset, day, reason in (
                    (2, 4, "LOAN_APPROVAL"),
                    (2, 19, "CARD_APPROVAL"),
                    (1, 7, "LOAN_APPROVAL"),
                    (1, 22, "LOAN_APPROVAL"),
                    (0, 3, "CARD_APPROVAL"),
                    (0, 16, "LOAN_APPROVAL"),
                )
            ),
        ),
    )
    zhao_liu = Person(
        name="赵六",
        id_number="510107199203080030",
        phone="13600136000",
        birth_date=date(1992, 3, 8),
        spells=(EmploymentSpell(employer(5, 0.12), Month(2014, 7), None, 7_500, 0.05),),
        housing_fund=HousingFundAccount(Month(2014, 7), balance_share=0.35),
        housing_fund_loan=Loan("HOUSING_FUND", on(as_of.shift(-50), 11), 800_000, 360, 0.031),
        utility=utility(("ELECTRICITY", "GAS"), Month(2016, 9)),
        credit=CreditFile(
            cards=(
                Card(date(2016, 4, 1), 20_000, 18_500),
                Card(date(2019, 8, 30), 30_000, 27_000),
                Card(date(2022, 1, 12), 50_000, 44_000),
            ),
            inquiries=(
                Inquiry(on(as_of.shift(-10), 6), "CARD_APPROVAL"),
                Inquiry(on(as_of.shift(-3), 25), "POST_LOAN"),
            ),
        ),
    )
    return [zhang_san, li_si, wang_wu, zhao_liu]
