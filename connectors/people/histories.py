"""The life history of a fictional person: employment, housing fund, credit file, utility bills.

Every source's record is derived from this one history when asked (the record builders
live with each source in `connectors.sources`), so the sources agree the way real ones do.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date

from connectors.base import Month

MAX_BASE = 36_000
"""Contribution bases are capped (at about three times the local average wage)."""

UTILITY_TYPES = ("ELECTRICITY", "WATER", "GAS")

UTILITY_HISTORY_MONTHS = 36
"""How far back utility companies answer for bills."""

REPAYMENT_HISTORY_MONTHS = 60
"""How far back a credit report shows repayment records (the second-generation report: 5 years)."""

# Who grants each kind of loan, and who looks at a report for each reason.
LENDERS = {
    "MORTGAGE": ("BANK",),
    "CONSUMER": ("BANK", "BANK", "CONSUMER_FINANCE", "CONSUMER_FINANCE", "MICROLOAN"),
    "BUSINESS": ("BANK", "BANK", "MICROLOAN"),
    "AUTO": ("AUTO_FINANCE", "BANK"),
    "HOUSING_FUND": ("HOUSING_FUND_CENTER",),
}
QUERIERS = {
    "LOAN_APPROVAL": ("BANK", "BANK", "CONSUMER_FINANCE", "MICROLOAN"),
    "CARD_APPROVAL": ("BANK",),
    "POST_LOAN": ("BANK", "CONSUMER_FINANCE"),
    "SELF": ("PERSON",),
    "GUARANTEE_CHECK": ("GUARANTEE_COMPANY",),
}


def month_index(month: Month) -> int:
    """The month as a count of months since year 0 (months subtract and index as integers)."""
    return month.year * 12 + month.month - 1


@functools.cache
def month_text(index: int) -> str:
    """`YYYY-MM` of a month index (cached: records repeat the same months over and over)."""
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def months_from(first: Month, last: Month) -> int:
    """How many months `last` lies after `first` (negative when before)."""
    return month_index(last) - month_index(first)


@dataclass(frozen=True)
class Employer:
    """An organisation that pays social insurance, and maybe housing fund, for its staff."""

    code: str
    deposits_housing_fund: bool
    personal_rate: float
    unit_rate: float
    name: str = ""


@dataclass(frozen=True)
class EmploymentSpell:
    """A stretch of months with one employer; `last` is None while it lasts."""

    employer: Employer
    first: Month
    last: Month | None
    base: int
    yearly_raise: float

    def covers(self, month: Month) -> bool:
        """Whether the person worked for this employer in `month`."""
        return self.first <= month and (self.last is None or month <= self.last)

    def base_in(self, month: Month) -> int:
        """The contribution base in `month`: set at hiring, adjusted every July like real ones."""
        return self.base_at(month_index(month))

    def base_at(self, index: int) -> int:
        """The contribution base in the month with index `index` (see `month_index`)."""
        julys = (index - 6) // 12 - (month_index(self.first) - 6) // 12
        return min(MAX_BASE, round(self.base * (1 + self.yearly_raise) ** julys / 10) * 10)


@dataclass(frozen=True)
class Delinquency:
    """A run of consecutive months in which a repayment was missed."""

    first: Month
    months: int

    def overdue_months_in(self, month: Month) -> int:
        """How many repayments were outstanding in `month` (0 outside the run)."""
        elapsed = months_from(self.first, month)
        return elapsed + 1 if 0 <= elapsed < self.months else 0


def months_overdue(delinquencies: tuple[Delinquency, ...], month: Month) -> int:
    """How many repayments were outstanding in `month` across the delinquencies."""
    return max((d.overdue_months_in(month) for d in delinquencies), default=0)


@dataclass(frozen=True)
class Loan:
    """An instalment loan: mortgage, consumer, business, auto or a 公积金 loan."""

    account_type: str
    opened: date
    amount: int
    term_months: int
    annual_rate: float
    settled: Month | None = None
    delinquencies: tuple[Delinquency, ...] = ()
    institution_type: str | None = None
    """Who granted it; None means the usual lender of its kind."""

    @property
    def lender(self) -> str:
        """The kind of institution that granted the loan."""
        return self.institution_type or LENDERS[self.account_type][0]

    @property
    def first_due(self) -> Month:
        """The month of the first instalment."""
        return Month.of(self.opened).shift(1)

    @property
    def monthly_repayment(self) -> float:
        """The level instalment of the loan."""
        rate = self.annual_rate / 12
        return round(self.amount * rate / (1 - (1 + rate) ** -self.term_months), 2)

    def last_due(self, as_of: Month) -> Month:
        """The last month with an instalment up to `as_of`."""
        last = min(as_of, self.first_due.shift(self.term_months - 1))
        return min(last, self.settled) if self.settled else last

    def is_closed(self, as_of: Month) -> bool:
        """Whether the loan was repaid (on schedule or early) by `as_of`."""
        settled_early = self.settled is not None and self.settled <= as_of
        return settled_early or months_from(self.first_due, as_of) + 1 >= self.term_months

    def balance(self, as_of: Month) -> float:
        """Principal outstanding after the instalments due up to `as_of`."""
        if self.is_closed(as_of):
            return 0.0
        paid = max(0, months_from(self.first_due, as_of) + 1)
        rate = self.annual_rate / 12
        growth = (1 + rate) ** paid
        return round(self.amount * growth - self.monthly_repayment * (growth - 1) / rate, 2)


@dataclass(frozen=True)
class Card:
    """A credit card account."""

    opened: date
    credit_limit: int
    used_amount: int
    delinquencies: tuple[Delinquency, ...] = ()

    @property
    def minimum_payment(self) -> int:
        """What falls overdue for each missed month."""
        return max(100, round(self.used_amount * 0.1))


@dataclass(frozen=True)
class Inquiry:
    """Someone looked at the credit report."""

    date: date
    reason: str
    querier_type: str | None = None
    """Who looked; None means the usual querier for the reason."""

    @property
    def querier(self) -> str:
        """The kind of institution (or the person) that looked."""
        return self.querier_type or QUERIERS[self.reason][0]


@dataclass(frozen=True)
class PublicRecord:
    """A court, tax or administrative record attached to the credit file."""

    kind: str
    date: date
    amount: int = 0


@dataclass(frozen=True)
class CreditFile:
    """What the credit bureau holds apart from the 公积金 loan (which it mirrors)."""

    loans: tuple[Loan, ...] = ()
    cards: tuple[Card, ...] = ()
    inquiries: tuple[Inquiry, ...] = ()
    public_records: tuple[PublicRecord, ...] = ()


@dataclass(frozen=True)
class HousingFundAccount:
    """A 公积金 account: opened with the first depositing employer, maybe closed since."""

    open_month: Month
    closed: Month | None = None
    balance_share: float = 1.0
    """Share of all deposits still in the account; the rest was withdrawn (rent, purchase)."""


@dataclass(frozen=True)
class UtilityBill:
    """One month's bill of one utility account."""

    month: Month
    utility_type: str
    amount: float
    paid: bool
    paid_on_time: bool


@dataclass(frozen=True)
class UtilityHistory:
    """The household accounts in the person's name and their recent bills."""

    accounts: tuple[tuple[str, Month], ...]
    """(utility type, month opened)."""
    bills: tuple[UtilityBill, ...]


@dataclass(frozen=True)
class Person:
    """One fictional person and the single history every source derives from."""

    name: str
    id_number: str
    phone: str
    birth_date: date
    spells: tuple[EmploymentSpell, ...] = ()
    social_insurance_terminated: bool = False
    housing_fund: HousingFundAccount | None = None
    housing_fund_loan: Loan | None = None
    credit: CreditFile | None = None
    utility: UtilityHistory | None = None
    remarks: tuple[tuple[str, str], ...] = ()
    """(source, note): the free-text notes sources keep about the person."""

    def remark(self, source: str) -> str | None:
        """The note `source` keeps about the person, if any."""
        return next((note for name, note in self.remarks if name == source), None)

    def spell_in(self, month: Month) -> EmploymentSpell | None:
        """The employment covering `month`, if any."""
        return next((spell for spell in self.spells if spell.covers(month)), None)

    def employment(self, first: Month, last: Month) -> list[EmploymentSpell | None]:
        """The employment of each month from `first` to `last`, in one pass over the spells."""
        start, end = month_index(first), month_index(last)
        months: list[EmploymentSpell | None] = [None] * max(0, end - start + 1)
        for spell in self.spells:
            spell_end = end if spell.last is None else min(end, month_index(spell.last))
            for index in range(max(start, month_index(spell.first)), spell_end + 1):
                months[index - start] = spell
        return months
