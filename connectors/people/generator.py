"""Drawing a generated person's history from streams seeded by the seed and their position."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import replace
from datetime import date

from faker import Faker

from connectors.base import Month, MonthRange
from connectors.people.histories import (
    LENDERS,
    MAX_BASE,
    QUERIERS,
    REPAYMENT_HISTORY_MONTHS,
    UTILITY_HISTORY_MONTHS,
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
    PublicRecord,
    UtilityBill,
    UtilityHistory,
    month_index,
    months_from,
)
from connectors.people.identities import Identity, employer_code

INQUIRY_HISTORY_MONTHS = 24
"""How far back a credit report shows inquiries."""

_EARLIEST_RECORD = Month(1999, 1)
"""Digitised social-insurance records start around here; earlier careers are not simulated."""

_HOUSING_FUND_RATES = (0.05, 0.07, 0.08, 0.10, 0.12, 0.12, 0.12)
_CARD_LIMITS = (5_000, 8_000, 10_000, 20_000, 30_000, 50_000, 80_000, 100_000)
_INQUIRY_REASONS = ("LOAN_APPROVAL", "CARD_APPROVAL", "POST_LOAN", "SELF", "GUARANTEE_CHECK")
_PUBLIC_RECORD_KINDS = ("CIVIL_JUDGMENT", "ENFORCEMENT", "TAX_ARREARS", "ADMINISTRATIVE_PENALTY")

# Typical monthly bill of a household (CNY, low and high), and how it swings with the seasons.
_UTILITY_BILLS = {"ELECTRICITY": (60, 320), "WATER": (20, 80), "GAS": (25, 140)}
_SEASONS = {
    "ELECTRICITY": (1.3, 1.1, 0.9, 0.8, 0.9, 1.1, 1.5, 1.6, 1.1, 0.8, 0.9, 1.2),
    "WATER": (0.9, 0.9, 0.9, 1.0, 1.0, 1.1, 1.2, 1.2, 1.1, 1.0, 0.9, 0.9),
    "GAS": (1.8, 1.6, 1.3, 0.9, 0.7, 0.6, 0.6, 0.6, 0.7, 0.9, 1.3, 1.6),
}

# Ordinary notes the agencies keep; nothing personal (the fault injection plants that).
_REMARKS = {
    "social_insurance": ("补缴2个月", "跨统筹区转入", "灵活就业转单位参保"),
    "housing_fund": ("异地转入", "部分提取（租房）", "部分提取（购房）"),
    "credit_bureau": ("本人声明：该笔逾期系银行系统原因所致", "异议处理中"),
    "utility": ("阶梯电价", "预付费电表", "银行代扣"),
}


def _wage_level(month: Month) -> float:
    """Wages relative to 2025: contribution bases have grown about 7.5% a year."""
    return float(1.075 ** (month.year - 2025))


def _day_in(month: Month, rng: random.Random) -> date:
    return date(month.year, month.month, rng.randint(1, 28))


class HistoryGenerator:
    """Draws a person's name and history from streams seeded by the seed and their position.

    Identities are drawn apart from histories, so a person's name and resident ID
    do not change when the simulated day (and with it their history) moves on.
    """

    employer_count = 400

    def __init__(self, seed: int, as_of: Month) -> None:
        self.seed = seed
        self.as_of = as_of
        self.faker = Faker("zh_CN")
        employers = random.Random(f"{seed}:employers")
        self.faker.seed_instance(f"{seed}:employer-names")
        self.employers = [
            replace(_random_employer(employers), name=self.faker.company())
            for _ in range(self.employer_count)
        ]
        self.history = random.Random()
        # What later additions to the sources draw from: a stream of its own, so that
        # adding a field never changes the histories people already had.
        self.extras = random.Random()

    def person(self, identity: Identity) -> Person:
        """The person behind `identity`, always drawn the same way."""
        self.faker.seed_instance(f"{self.seed}:name:{identity.index}")
        self.history.seed(f"{self.seed}:history:{identity.index}")
        # GB 11643: an odd 17th digit is a man, an even one a woman.
        male = int(identity.id_number[16]) % 2 == 1
        rng, as_of = self.history, self.as_of
        start_age = rng.randint(18, 24)
        career_start = max(Month.of(identity.birth_date).shift(12 * start_age), _EARLIEST_RECORD)
        never_insured = rng.random() < 0.04 or career_start > as_of
        spells = () if never_insured else self._spells(career_start)
        employed = bool(spells) and spells[-1].last is None
        account = self._housing_fund_account(spells)
        fund_loan = self._housing_fund_loan(spells, account)
        has_credit = rng.random() < (0.95 if spells else 0.6) or fund_loan is not None
        person = Person(
            name=self.faker.name_male() if male else self.faker.name_female(),
            id_number=identity.id_number,
            phone=identity.phone,
            birth_date=identity.birth_date,
            spells=spells,
            social_insurance_terminated=bool(spells) and not employed and rng.random() < 0.15,
            housing_fund=account,
            housing_fund_loan=fund_loan,
            credit=self._credit_file(identity.birth_date, fund_loan) if has_credit else None,
        )
        self.extras.seed(f"{self.seed}:extras:{identity.index}")
        return self._with_extras(person)

    def _with_extras(self, person: Person) -> Person:
        """Lenders, queriers, record amounts, remarks and utility bills, from the extras stream."""
        extras = self.extras
        credit = person.credit
        if credit is not None:
            credit = replace(
                credit,
                loans=tuple(
                    replace(loan, institution_type=extras.choice(LENDERS[loan.account_type]))
                    for loan in credit.loans
                ),
                inquiries=tuple(
                    replace(inquiry, querier_type=extras.choice(QUERIERS[inquiry.reason]))
                    for inquiry in credit.inquiries
                ),
                public_records=tuple(
                    replace(record, amount=extras.randrange(1, 200) * 500)
                    for record in credit.public_records
                ),
            )
        remarks = tuple(
            (source, extras.choice(notes))
            for source, notes in _REMARKS.items()
            if extras.random() < 0.05
        )
        return replace(person, credit=credit, remarks=remarks, utility=self._utility(person))

    def _utility(self, person: Person) -> UtilityHistory | None:
        """Most adults pay some household bills in their own name; many late ones in hard times."""
        extras, as_of = self.extras, self.as_of
        if extras.random() >= 0.85:
            return None
        earliest = max(Month.of(person.birth_date).shift(12 * 22), Month(2008, 1))
        if earliest > as_of:
            return None
        opened = self._extras_month_between(earliest, as_of)
        kinds = ["ELECTRICITY", "WATER"] + (["GAS"] if extras.random() < 0.7 else [])
        accounts = tuple((kind, opened) for kind in kinds)
        late_rate = 0.01 if extras.random() < 0.85 else extras.uniform(0.05, 0.3)
        unpaid_tail = extras.randint(1, 3) if extras.random() < 0.04 else 0
        first = as_of.shift(-(UTILITY_HISTORY_MONTHS - 1))
        employed = {
            index: spell is not None
            for index, spell in enumerate(person.employment(first, as_of), start=month_index(first))
        }
        return UtilityHistory(
            accounts, draw_bills(extras, accounts, as_of, late_rate, unpaid_tail, employed)
        )

    def _extras_month_between(self, first: Month, last: Month) -> Month:
        return first.shift(self.extras.randint(0, max(0, months_from(first, last))))

    def _spells(self, start: Month) -> tuple[EmploymentSpell, ...]:
        rng, as_of = self.history, self.as_of
        spells: list[EmploymentSpell] = []
        month = start
        base = rng.lognormvariate(math.log(6_500 * _wage_level(start)), 0.45)
        while month <= as_of:
            last = month.shift(rng.randint(6, 96) - 1)
            spell = EmploymentSpell(
                employer=rng.choice(self.employers),
                first=month,
                last=None if last >= as_of else last,
                base=min(MAX_BASE, max(100, round(base / 10) * 10)),
                yearly_raise=rng.uniform(0.03, 0.09),
            )
            spells.append(spell)
            if spell.last is None or rng.random() < 0.03:  # still there, or left the workforce
                break
            base = spell.base_in(last) * rng.uniform(0.9, 1.35)
            gap = 0 if rng.random() < 0.6 else rng.randint(1, 12)
            month = last.shift(1 + gap)
        return tuple(spells)

    def _housing_fund_account(
        self, spells: tuple[EmploymentSpell, ...]
    ) -> HousingFundAccount | None:
        rng = self.history
        depositing = [spell for spell in spells if spell.employer.deposits_housing_fund]
        if not depositing:
            return None
        closed = None
        last_depositing_end = depositing[-1].last
        # Only an account nobody deposits into any more can be closed (销户).
        if last_depositing_end is not None and rng.random() < 0.25:
            closed = last_depositing_end.shift(rng.randint(3, 24))
            if closed > self.as_of:
                closed = None
        return HousingFundAccount(
            open_month=depositing[0].first,
            closed=closed,
            balance_share=rng.uniform(0.3, 1.0),
        )

    def _housing_fund_loan(
        self, spells: tuple[EmploymentSpell, ...], account: HousingFundAccount | None
    ) -> Loan | None:
        rng, as_of = self.history, self.as_of
        depositing_now = (
            bool(spells) and spells[-1].last is None and spells[-1].employer.deposits_housing_fund
        )
        if account is None or not depositing_now or rng.random() >= 0.12:
            return None
        # Lenders require a year of deposits before a 公积金 loan.
        earliest = max(account.open_month.shift(12), as_of.shift(-120))
        span = months_from(earliest, as_of.shift(-1))
        if span < 0:
            return None
        opened = earliest.shift(rng.randint(0, span))
        settled = None
        if rng.random() < 0.15 and months_from(opened.shift(12), as_of) >= 0:
            settled = opened.shift(12 + rng.randint(0, months_from(opened.shift(12), as_of)))
        return Loan(
            account_type="HOUSING_FUND",
            opened=_day_in(opened, rng),
            amount=rng.randrange(20, 121) * 10_000,
            term_months=rng.choice((240, 300, 360)),
            annual_rate=0.0285 if opened >= Month(2025, 5) else 0.031,
            settled=settled,
        )

    def _credit_file(self, birth_date: date, fund_loan: Loan | None) -> CreditFile:
        rng, as_of = self.history, self.as_of
        earliest = max(Month.of(birth_date).shift(12 * 20), Month(2005, 1))
        cards: list[Card] = []
        loans: list[Loan] = []
        if earliest <= as_of:
            utilization = min(0.98, rng.betavariate(1.2, 3.0))
            for _ in range(rng.choices(range(6), weights=(15, 30, 25, 15, 10, 5))[0]):
                opened = self._month_between(earliest, as_of)
                limit = rng.choice(_CARD_LIMITS)
                used = min(limit, round(limit * utilization * rng.uniform(0.6, 1.4)))
                history_start = max(opened.shift(1), as_of.shift(-(REPAYMENT_HISTORY_MONTHS - 1)))
                cards.append(
                    Card(
                        opened=_day_in(opened, rng),
                        credit_limit=limit,
                        used_amount=used,
                        delinquencies=self._delinquencies(history_start, as_of),
                    )
                )
            for account_type, chance, amounts, terms, rates in (
                ("MORTGAGE", 0.20, (30, 200, 10_000), (240, 300, 360), (0.035, 0.049)),
                ("CONSUMER", 0.30, (1, 20, 10_000), (12, 24, 36), (0.06, 0.15)),
                ("AUTO", 0.10, (5, 30, 10_000), (36, 60), (0.04, 0.07)),
                ("BUSINESS", 0.05, (10, 100, 10_000), (12, 24, 36, 60), (0.04, 0.08)),
            ):
                if rng.random() >= chance:
                    continue
                term = rng.choice(terms)
                opened = self._month_between(
                    max(earliest, as_of.shift(-term - 12)), as_of.shift(-1)
                )
                first_due = opened.shift(1)
                last_due = min(as_of, first_due.shift(term - 1))
                history_start = max(first_due, as_of.shift(-(REPAYMENT_HISTORY_MONTHS - 1)))
                loans.append(
                    Loan(
                        account_type=account_type,
                        opened=_day_in(opened, rng),
                        amount=rng.randint(amounts[0], amounts[1]) * amounts[2],
                        term_months=term,
                        annual_rate=round(rng.uniform(*rates), 4),
                        delinquencies=self._delinquencies(history_start, last_due),
                    )
                )
        reasons_weights = (30, 25, 25 if loans or fund_loan else 0, 15, 5)
        inquiries = tuple(
            Inquiry(
                date=_day_in(
                    self._month_between(as_of.shift(-(INQUIRY_HISTORY_MONTHS - 1)), as_of), rng
                ),
                reason=rng.choices(_INQUIRY_REASONS, weights=reasons_weights)[0],
            )
            for _ in range(rng.choices(range(9), weights=(20, 20, 18, 14, 10, 7, 5, 3, 3))[0])
        )
        public_records: tuple[PublicRecord, ...] = ()
        if rng.random() < 0.02:
            public_records = (
                PublicRecord(
                    kind=rng.choice(_PUBLIC_RECORD_KINDS),
                    date=_day_in(self._month_between(as_of.shift(-59), as_of), rng),
                ),
            )
        return CreditFile(
            loans=tuple(loans),
            cards=tuple(cards),
            inquiries=inquiries,
            public_records=public_records,
        )

    def _delinquencies(self, first: Month, last: Month) -> tuple[Delinquency, ...]:
        """Missed repayments between `first` and `last`: rare, and mostly in the past."""
        rng = self.history
        span = months_from(first, last)
        if span < 0:
            return ()
        draw = rng.random()
        if draw < 0.015 and last == self.as_of:
            months = min(span + 1, rng.randint(1, 4))
            return (Delinquency(last.shift(-(months - 1)), months),)
        if draw < 0.085 and span >= 3:
            start = first.shift(rng.randint(0, span - 3))
            return (Delinquency(start, min(rng.randint(1, 3), months_from(start, last))),)
        return ()

    def _month_between(self, first: Month, last: Month) -> Month:
        return first.shift(self.history.randint(0, max(0, months_from(first, last))))


def _random_employer(rng: random.Random) -> Employer:
    rate = rng.choice(_HOUSING_FUND_RATES)
    return Employer(
        code=employer_code(rng),
        deposits_housing_fund=rng.random() < 0.7,
        personal_rate=rate,
        unit_rate=rate,
    )


def draw_bills(
    rng: random.Random,
    accounts: tuple[tuple[str, Month], ...],
    as_of: Month,
    late_rate: float,
    unpaid_tail: int,
    employed: Mapping[int, bool],
) -> tuple[UtilityBill, ...]:
    """The last `UTILITY_HISTORY_MONTHS` months of bills for `accounts`.

    A month out of work makes a late payment three times as likely; the last
    `unpaid_tail` months are still unpaid (arrears).
    """
    bills = []
    for kind, opened in accounts:
        low, high = _UTILITY_BILLS[kind]
        usual = rng.uniform(low, high)
        for month in MonthRange.ending(as_of, UTILITY_HISTORY_MONTHS):
            if month < opened:
                continue
            amount = round(usual * _SEASONS[kind][month.month - 1] * rng.uniform(0.85, 1.15), 2)
            unpaid = months_from(month, as_of) < unpaid_tail
            chance = late_rate * (1 if employed.get(month_index(month), True) else 3)
            on_time = not unpaid and rng.random() >= chance
            bills.append(UtilityBill(month, kind, amount, not unpaid, on_time))
    bills.sort(key=lambda bill: (bill.month, UTILITY_TYPES.index(bill.utility_type)))
    return tuple(bills)
