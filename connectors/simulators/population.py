"""A seeded, fictional population that the source simulators answer from.

Every person has one life history — employment spells, a housing-fund account,
a credit file, household utility bills — and each source's record is derived from
it when asked, so the sources agree the way real ones do: a gap between jobs is
unpaid in both 社保 and 公积金 (and bills run late more often then), the deposit
base is the contribution base while the person works for an employer that
deposits, and a 公积金 loan shows in the credit file too.

Names come from Faker `zh_CN`; resident IDs follow GB 11643 and employer codes
GB 32100, so the gateway's recognizers see realistic shapes. Nobody here is real.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import random
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from faker import Faker
from faker.providers.ssn.zh_CN import Provider as _ChineseSsnProvider

from connectors.base import Month, MonthRange

SANDBOX_ID_NUMBERS = (
    "11010519491231002X",
    "440304199001010011",
    "310101198506150024",
    "510107199203080030",
)
"""The fictional people every simulator holds whatever its seed (DESIGN.md)."""

MAX_BASE = 36_000
"""Contribution bases are capped (at about three times the local average wage)."""

INSURANCE_TYPES = ("PENSION", "MEDICAL", "UNEMPLOYMENT", "WORK_INJURY", "MATERNITY")

PERSONAL_CONTRIBUTION_RATE = 0.105
"""The employee's share of the base: pension 8%, medical 2%, unemployment 0.5%."""

UNIT_CONTRIBUTION_RATE = 0.245
"""The employer's share: pension 16%, medical and maternity 7.5%, unemployment and work injury."""

UTILITY_TYPES = ("ELECTRICITY", "WATER", "GAS")

UTILITY_HISTORY_MONTHS = 36
"""How far back utility companies answer for bills."""

REPAYMENT_HISTORY_MONTHS = 60
"""How far back a credit report shows repayment records (the second-generation report: 5 years)."""

INQUIRY_HISTORY_MONTHS = 24
"""How far back a credit report shows inquiries."""

_EARLIEST_RECORD = Month(1999, 1)
"""Digitised social-insurance records start around here; earlier careers are not simulated."""

_RESIDENT_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RESIDENT_ID_CHECK = "10X98765432"

_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORGANIZATION_CODE_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)

# County-level codes only: province/prefecture codes (…00) and the Taiwan, Hong Kong
# and Macao codes (71, 81, 82, 83) do not appear on mainland resident IDs.
_COUNTY_CODES = tuple(
    code
    for code in _ChineseSsnProvider.area_codes
    if not code.endswith("00") and code[:2] not in {"71", "81", "82", "83"}
)

_MOBILE_PREFIXES = (
    *(f"13{d}" for d in range(10)),
    "147",
    *(f"15{d}" for d in (0, 1, 2, 3, 5, 6, 7, 8, 9)),
    "166",
    "173",
    "177",
    *(f"18{d}" for d in range(10)),
    "191",
    "198",
    "199",
)

_HOUSING_FUND_RATES = (0.05, 0.07, 0.08, 0.10, 0.12, 0.12, 0.12)
_CARD_LIMITS = (5_000, 8_000, 10_000, 20_000, 30_000, 50_000, 80_000, 100_000)
_INQUIRY_REASONS = ("LOAN_APPROVAL", "CARD_APPROVAL", "POST_LOAN", "SELF", "GUARANTEE_CHECK")
_PUBLIC_RECORD_KINDS = ("CIVIL_JUDGMENT", "ENFORCEMENT", "TAX_ARREARS", "ADMINISTRATIVE_PENALTY")

# Who grants each kind of loan, and who looks at a report for each reason.
_LENDERS = {
    "MORTGAGE": ("BANK",),
    "CONSUMER": ("BANK", "BANK", "CONSUMER_FINANCE", "CONSUMER_FINANCE", "MICROLOAN"),
    "BUSINESS": ("BANK", "BANK", "MICROLOAN"),
    "AUTO": ("AUTO_FINANCE", "BANK"),
    "HOUSING_FUND": ("HOUSING_FUND_CENTER",),
}
_QUERIERS = {
    "LOAN_APPROVAL": ("BANK", "BANK", "CONSUMER_FINANCE", "MICROLOAN"),
    "CARD_APPROVAL": ("BANK",),
    "POST_LOAN": ("BANK", "CONSUMER_FINANCE"),
    "SELF": ("PERSON",),
    "GUARANTEE_CHECK": ("GUARANTEE_COMPANY",),
}

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


def resident_id_check_digit(first_17: str) -> str:
    """The GB 11643 check character for the first 17 digits of a resident ID."""
    total = sum(
        int(digit) * weight for digit, weight in zip(first_17, _RESIDENT_ID_WEIGHTS, strict=True)
    )
    return _RESIDENT_ID_CHECK[total % 11]


def uscc_check_character(first_17: str) -> str:
    """The GB 32100 check character for the first 17 characters of a USCC."""
    total = sum(
        _USCC_ALPHABET.index(char) * weight
        for char, weight in zip(first_17, _USCC_WEIGHTS, strict=True)
    )
    return _USCC_ALPHABET[(31 - total % 31) % 31]


def _organization_code(rng: random.Random) -> str:
    """A GB 11714 organisation code: 8 digits and their check character."""
    body = f"{rng.randrange(10**8):08d}"
    remainder = (
        11 - sum(int(d) * w for d, w in zip(body, _ORGANIZATION_CODE_WEIGHTS, strict=True)) % 11
    )
    return body + {10: "X", 11: "0"}.get(remainder, str(remainder))


def _employer_code(rng: random.Random) -> str:
    # 9 = registered by the market regulator, 1 = enterprise: the common case for employers.
    first_17 = "91" + rng.choice(_COUNTY_CODES) + _organization_code(rng)
    return first_17 + uscc_check_character(first_17)


def _index(month: Month) -> int:
    return month.year * 12 + month.month - 1


@functools.cache
def _month_text(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _wage_level(month: Month) -> float:
    """Wages relative to 2025: contribution bases have grown about 7.5% a year."""
    return float(1.075 ** (month.year - 2025))


def _months_from(first: Month, last: Month) -> int:
    """How many months `last` lies after `first` (negative when before)."""
    return _index(last) - _index(first)


def _day_in(month: Month, rng: random.Random) -> date:
    return date(month.year, month.month, rng.randint(1, 28))


def _five_class(overdue_months: int) -> str:
    """The five-tier loan classification a lender reports for a given arrears length."""
    if overdue_months == 0:
        return "NORMAL"
    if overdue_months <= 3:
        return "SPECIAL_MENTION"
    if overdue_months <= 6:
        return "SUBSTANDARD"
    if overdue_months <= 12:
        return "DOUBTFUL"
    return "LOSS"


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
        return self._base_at(_index(month))

    def _base_at(self, index: int) -> int:
        julys = (index - 6) // 12 - (_index(self.first) - 6) // 12
        return min(MAX_BASE, round(self.base * (1 + self.yearly_raise) ** julys / 10) * 10)


@dataclass(frozen=True)
class Delinquency:
    """A run of consecutive months in which a repayment was missed."""

    first: Month
    months: int

    def overdue_months_in(self, month: Month) -> int:
        """How many repayments were outstanding in `month` (0 outside the run)."""
        elapsed = _months_from(self.first, month)
        return elapsed + 1 if 0 <= elapsed < self.months else 0


def _overdue_months(delinquencies: tuple[Delinquency, ...], month: Month) -> int:
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
        return self.institution_type or _LENDERS[self.account_type][0]

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
        return settled_early or _months_from(self.first_due, as_of) + 1 >= self.term_months

    def balance(self, as_of: Month) -> float:
        """Principal outstanding after the instalments due up to `as_of`."""
        if self.is_closed(as_of):
            return 0.0
        paid = max(0, _months_from(self.first_due, as_of) + 1)
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
        return self.querier_type or _QUERIERS[self.reason][0]


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

    def _employment(self, first: Month, last: Month) -> list[EmploymentSpell | None]:
        """The employment of each month from `first` to `last`, in one pass over the spells."""
        start, end = _index(first), _index(last)
        months: list[EmploymentSpell | None] = [None] * max(0, end - start + 1)
        for spell in self.spells:
            spell_end = end if spell.last is None else min(end, _index(spell.last))
            for index in range(max(start, _index(spell.first)), spell_end + 1):
                months[index - start] = spell
        return months

    def source_record(self, source: str, as_of: Month) -> dict[str, Any] | None:
        """Everything `source` holds about the person up to `as_of`; None when it holds nothing."""
        if source not in RECORD_BUILDERS:
            raise ValueError(f"unknown source: {source}")
        return RECORD_BUILDERS[source](self, as_of)

    def social_insurance_record(self, as_of: Month) -> dict[str, Any] | None:
        """The 社保 record: status and one contribution record per month since first insured."""
        if not self.spells or self.spells[0].first > as_of:
            return None
        first = self.spells[0].first
        current = self.spell_in(as_of)
        if current is not None:
            status, last = "NORMAL", as_of
        elif self.social_insurance_terminated:
            status, last = "TERMINATED", min(as_of, self.spells[-1].last or as_of)
        else:
            status, last = "SUSPENDED", as_of
        records = []
        for index, spell in enumerate(self._employment(first, last), start=_index(first)):
            base = spell._base_at(index) if spell else None
            records.append(
                {
                    "month": _month_text(index),
                    "base": base,
                    "paid": spell is not None,
                    "employer_code": spell.employer.code if spell else None,
                    "personal_amount": round(base * PERSONAL_CONTRIBUTION_RATE, 2)
                    if base
                    else None,
                    "unit_amount": round(base * UNIT_CONTRIBUTION_RATE, 2) if base else None,
                }
            )
        ended = None
        if status != "NORMAL":
            ended = next((item["month"] for item in reversed(records) if item["paid"]), None)
        return {
            "name": self.name,
            "insured_status": status,
            "first_insured_month": str(first),
            "insurance_types": list(INSURANCE_TYPES),
            "insurance_enrolments": [
                {
                    "insurance_type": insurance_type,
                    "status": status,
                    "enrolled_month": str(first),
                    "ended_month": ended,
                }
                for insurance_type in INSURANCE_TYPES
            ],
            "current_employer_code": current.employer.code if current else None,
            "current_employer_name": current.employer.name if current else None,
            "contribution_records": records,
            "remarks": self.remark("social_insurance"),
        }

    def housing_fund_record(self, as_of: Month) -> dict[str, Any] | None:
        """The 公积金 record: account, one deposit record per month since opening, any loan."""
        account = self.housing_fund
        if account is None or account.open_month > as_of:
            return None
        closed = account.closed if account.closed and account.closed <= as_of else None
        records = []
        deposited = 0
        last_paid: tuple[int, int, Employer] | None = None
        employment = self._employment(account.open_month, closed or as_of)
        for index, spell in enumerate(employment, start=_index(account.open_month)):
            if spell is None or not spell.employer.deposits_housing_fund:
                records.append(
                    {
                        "month": _month_text(index),
                        "amount": 0,
                        "paid": False,
                        "personal_amount": 0,
                        "unit_amount": 0,
                    }
                )
                continue
            base, employer = spell._base_at(index), spell.employer
            personal, unit = round(base * employer.personal_rate), round(base * employer.unit_rate)
            records.append(
                {
                    "month": _month_text(index),
                    "amount": personal + unit,
                    "paid": True,
                    "personal_amount": personal,
                    "unit_amount": unit,
                }
            )
            deposited += personal + unit
            last_paid = (index, base, employer)
        current = self.spell_in(as_of)
        if closed:
            status = "CLOSED"
        elif current and current.employer.deposits_housing_fund:
            status = "NORMAL"
        else:
            status = "SEALED"
        loan = self.housing_fund_loan
        if loan is None or Month.of(loan.opened) > as_of:
            loan, loan_status, outstanding, repayment = None, "NONE", 0.0, 0.0
        elif loan.is_closed(as_of):
            loan_status, outstanding, repayment = "SETTLED", 0.0, 0.0
        else:
            loan_status = "REPAYING"
            outstanding, repayment = loan.balance(as_of), loan.monthly_repayment
        depositing_unit = last_paid[2] if last_paid and not closed else None
        latest = next((item for item in reversed(records) if item["paid"]), None)
        return {
            "name": self.name,
            "account_status": status,
            "open_month": str(account.open_month),
            "employer_code": depositing_unit.code if depositing_unit else None,
            "employer_name": depositing_unit.name if depositing_unit else None,
            "deposit_base": last_paid[1] if last_paid else 0,
            "personal_rate": last_paid[2].personal_rate if last_paid else 0.0,
            "unit_rate": last_paid[2].unit_rate if last_paid else 0.0,
            "monthly_deposit": latest["amount"] if latest and status == "NORMAL" else 0,
            "deposit_records": records,
            "balance": 0.0 if closed else round(deposited * account.balance_share, 2),
            "last_paid_month": _month_text(last_paid[0]) if last_paid else None,
            "loan_status": loan_status,
            "loan_amount": loan.amount if loan else 0,
            "loan_opened": loan.opened.isoformat() if loan else None,
            "loan_term_months": loan.term_months if loan else 0,
            "loan_outstanding": outstanding,
            "loan_monthly_repayment": repayment,
            "remarks": self.remark("housing_fund"),
        }

    def credit_bureau_record(self, as_of: Month) -> dict[str, Any] | None:
        """The 征信 record: loan and card accounts with repayment histories, inquiries, records."""
        if self.credit is None:
            return None
        loans = self.credit.loans
        if self.housing_fund_loan is not None:
            loans = (*loans, self.housing_fund_loan)
        window_start = as_of.shift(-(REPAYMENT_HISTORY_MONTHS - 1))
        return {
            "name": self.name,
            "phone": self.phone,
            "loan_accounts": [
                _loan_account(loan, as_of, window_start)
                for loan in sorted(loans, key=lambda loan: loan.opened)
                if Month.of(loan.opened) <= as_of
            ],
            "card_accounts": [
                _card_account(card, as_of, window_start)
                for card in sorted(self.credit.cards, key=lambda card: card.opened)
                if Month.of(card.opened) <= as_of
            ],
            "inquiries": [
                {
                    "date": inquiry.date.isoformat(),
                    "reason": inquiry.reason,
                    "querier_type": inquiry.querier,
                }
                for inquiry in sorted(self.credit.inquiries, key=lambda inquiry: inquiry.date)
                if Month.of(inquiry.date) <= as_of
            ],
            "public_records": [
                {"kind": record.kind, "date": record.date.isoformat(), "amount": record.amount}
                for record in sorted(self.credit.public_records, key=lambda record: record.date)
                if Month.of(record.date) <= as_of
            ],
            "remarks": self.remark("credit_bureau"),
        }

    def utility_record(self, as_of: Month) -> dict[str, Any] | None:
        """The 水电燃气 record: accounts in the person's name and the recent monthly bills."""
        utility = self.utility
        if utility is None:
            return None
        accounts = [(kind, opened) for kind, opened in utility.accounts if opened <= as_of]
        if not accounts:
            return None
        first = as_of.shift(-(UTILITY_HISTORY_MONTHS - 1))
        bills = [bill for bill in utility.bills if first <= bill.month <= as_of]
        unpaid = [bill for bill in bills if not bill.paid]
        return {
            "name": self.name,
            "accounts": [
                {"utility_type": kind, "opened": str(opened), "status": "ACTIVE"}
                for kind, opened in accounts
            ],
            "bill_records": [
                {
                    "month": str(bill.month),
                    "utility_type": bill.utility_type,
                    "amount": bill.amount,
                    "paid": bill.paid,
                    "paid_on_time": bill.paid_on_time,
                }
                for bill in bills
            ],
            "arrears_amount": round(sum(bill.amount for bill in unpaid), 2),
            "arrears_months": len({bill.month for bill in unpaid}),
            "remarks": self.remark("utility"),
        }


RECORD_BUILDERS: Mapping[str, Callable[[Person, Month], dict[str, Any] | None]] = {
    "social_insurance": Person.social_insurance_record,
    "housing_fund": Person.housing_fund_record,
    "credit_bureau": Person.credit_bureau_record,
    "utility": Person.utility_record,
}
"""How each source's record is derived from a person's history (one entry per source)."""


def _repayment_status(overdue_months: int) -> str:
    """The credit report's monthly code: N on time, 1..7 months overdue (7 means 7 or more)."""
    return "N" if overdue_months == 0 else str(min(overdue_months, 7))


def _loan_account(loan: Loan, as_of: Month, window_start: Month) -> dict[str, Any]:
    closed = loan.is_closed(as_of)
    history = [
        {
            "month": str(month),
            "status": _repayment_status(overdue),
            "overdue_months": overdue,
            "overdue_amount": round(loan.monthly_repayment * overdue, 2),
        }
        for month in MonthRange(max(loan.first_due, window_start), loan.last_due(as_of))
        for overdue in (_overdue_months(loan.delinquencies, month),)
    ]
    overdue_now = 0 if closed else _overdue_months(loan.delinquencies, as_of)
    return {
        "account_type": loan.account_type,
        "institution_type": loan.lender,
        "opened": loan.opened.isoformat(),
        "amount": loan.amount,
        "term_months": loan.term_months,
        "balance": loan.balance(as_of),
        "status": "SETTLED" if closed else ("OVERDUE" if overdue_now else "NORMAL"),
        "five_class": _five_class(overdue_now),
        "monthly_repayment": 0.0 if closed else loan.monthly_repayment,
        "repayment_history": history,
    }


def _card_account(card: Card, as_of: Month, window_start: Month) -> dict[str, Any]:
    first_statement = Month.of(card.opened).shift(1)
    history = [
        {
            "month": str(month),
            "status": _repayment_status(overdue),
            "overdue_months": overdue,
            "overdue_amount": card.minimum_payment * overdue,
        }
        for month in MonthRange(max(first_statement, window_start), as_of)
        for overdue in (_overdue_months(card.delinquencies, month),)
    ]
    overdue_now = _overdue_months(card.delinquencies, as_of)
    return {
        "opened": card.opened.isoformat(),
        "credit_limit": card.credit_limit,
        "used_amount": card.used_amount,
        "status": "OVERDUE" if overdue_now else "NORMAL",
        "five_class": _five_class(overdue_now),
        "repayment_history": history,
    }


@dataclass(frozen=True)
class _Identity:
    """Who a generated person is; their history is drawn only when first looked up."""

    index: int
    id_number: str
    phone: str
    birth_date: date


class Population:
    """The people a simulator knows, looked up by resident ID.

    Generation draws only identities; each person's name and history come from
    a stream seeded by (seed, position) when first looked up, so building a large
    population is cheap and a person is the same whichever order people are read in.
    Meant for one event loop: lookups share one generator and are not thread-safe.
    """

    cached_records = 4096

    def __init__(
        self, seed: int, today: date, sandbox: list[Person], identities: list[_Identity]
    ) -> None:
        self.seed = seed
        self.today = today
        self._people: dict[str, Person] = {person.id_number: person for person in sandbox}
        self._identities = {identity.id_number: identity for identity in identities}
        self._generator = _Generator(seed, self.as_of)
        # Building a record walks every month of a person's history; benchmarks and
        # demos ask about the same people again and again.
        self._records: OrderedDict[tuple[str, str, Month], dict[str, Any] | None] = OrderedDict()

    @classmethod
    def generate(cls, seed: int, size: int, today: date | None = None) -> Population:
        """`size` seeded people plus the sandbox identities; same seed and day, same people."""
        today = today or date.today()
        sandbox = sandbox_people(Month.of(today).shift(-1))
        taken = {person.id_number for person in sandbox}
        rng = random.Random(f"{seed}:identity")
        identities = []
        for index in range(size):
            identity = _draw_identity(rng, index, taken)
            taken.add(identity.id_number)
            identities.append(identity)
        return cls(seed, today, sandbox, identities)

    @property
    def as_of(self) -> Month:
        """The last complete month before `today`: the newest month any record covers."""
        return Month.of(self.today).shift(-1)

    def get(self, id_number: str) -> Person | None:
        """The person with this resident ID, if the population holds one."""
        person = self._people.get(id_number)
        if person is None:
            identity = self._identities.get(id_number)
            if identity is None:
                return None
            person = self._people[id_number] = self._generator.person(identity)
        return person

    def record(
        self, source: str, id_number: str, as_of: Month | None = None
    ) -> dict[str, Any] | None:
        """What `source` holds about the person; None when it holds nothing or no such person.

        Records are shared between callers (a person's past does not change): read them,
        never modify them.
        """
        as_of = as_of or self.as_of
        key = (source, id_number, as_of)
        if key in self._records:
            self._records.move_to_end(key)
            return self._records[key]
        person = self.get(id_number)
        record = person.source_record(source, as_of) if person else None
        self._records[key] = record
        if len(self._records) > self.cached_records:
            self._records.popitem(last=False)
        return record

    def id_numbers(self) -> list[str]:
        """Every resident ID held, sandbox identities first."""
        return [*SANDBOX_ID_NUMBERS, *self._identities]

    def canonical_dump(self, count: int | None = None) -> Iterator[bytes]:
        """One canonical JSON line per person (the first `count`): identity and every record.

        Sorted keys, no whitespace, UTF-8: two populations are the same exactly when
        their dumps are the same bytes.
        """
        for id_number in self.id_numbers()[:count]:
            person = self.get(id_number)
            assert person is not None
            line = {
                "name": person.name,
                "id_number": person.id_number,
                "phone": person.phone,
                "records": {source: self.record(source, id_number) for source in RECORD_BUILDERS},
            }
            yield json.dumps(
                line, sort_keys=True, separators=(",", ":"), ensure_ascii=False
            ).encode()

    def digest(self, count: int | None = None) -> str:
        """Hex SHA-256 of the canonical dump of the first `count` people (all by default)."""
        hasher = hashlib.sha256()
        for line in self.canonical_dump(count):
            hasher.update(line + b"\n")
        return hasher.hexdigest()

    def __len__(self) -> int:
        return len(SANDBOX_ID_NUMBERS) + len(self._identities)

    def __iter__(self) -> Iterator[Person]:
        for id_number in self.id_numbers():
            person = self.get(id_number)
            assert person is not None
            yield person

    def __contains__(self, id_number: object) -> bool:
        return id_number in self._people or id_number in self._identities


def _draw_identity(rng: random.Random, index: int, taken: set[str]) -> _Identity:
    """A fresh resident ID (valid GB 11643, real birth date) and mobile number."""
    while True:
        area = rng.choice(_COUNTY_CODES)
        birth = date(1962, 1, 1) + timedelta(days=rng.randrange(43 * 365))
        first_17 = f"{area}{birth:%Y%m%d}{rng.randrange(1000):03d}"
        id_number = first_17 + resident_id_check_digit(first_17)
        if id_number not in taken:
            break
    phone = rng.choice(_MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
    return _Identity(index, id_number, phone, birth)


class _Generator:
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

    def person(self, identity: _Identity) -> Person:
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
                    replace(loan, institution_type=extras.choice(_LENDERS[loan.account_type]))
                    for loan in credit.loans
                ),
                inquiries=tuple(
                    replace(inquiry, querier_type=extras.choice(_QUERIERS[inquiry.reason]))
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
            for index, spell in enumerate(person._employment(first, as_of), start=_index(first))
        }
        return UtilityHistory(
            accounts, _draw_bills(extras, accounts, as_of, late_rate, unpaid_tail, employed)
        )

    def _extras_month_between(self, first: Month, last: Month) -> Month:
        return first.shift(self.extras.randint(0, max(0, _months_from(first, last))))

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
        span = _months_from(earliest, as_of.shift(-1))
        if span < 0:
            return None
        opened = earliest.shift(rng.randint(0, span))
        settled = None
        if rng.random() < 0.15 and _months_from(opened.shift(12), as_of) >= 0:
            settled = opened.shift(12 + rng.randint(0, _months_from(opened.shift(12), as_of)))
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
        span = _months_from(first, last)
        if span < 0:
            return ()
        draw = rng.random()
        if draw < 0.015 and last == self.as_of:
            months = min(span + 1, rng.randint(1, 4))
            return (Delinquency(last.shift(-(months - 1)), months),)
        if draw < 0.085 and span >= 3:
            start = first.shift(rng.randint(0, span - 3))
            return (Delinquency(start, min(rng.randint(1, 3), _months_from(start, last))),)
        return ()

    def _month_between(self, first: Month, last: Month) -> Month:
        return first.shift(self.history.randint(0, max(0, _months_from(first, last))))


def _random_employer(rng: random.Random) -> Employer:
    rate = rng.choice(_HOUSING_FUND_RATES)
    return Employer(
        code=_employer_code(rng),
        deposits_housing_fund=rng.random() < 0.7,
        personal_rate=rate,
        unit_rate=rate,
    )


def _draw_bills(
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
            unpaid = _months_from(month, as_of) < unpaid_tail
            chance = late_rate * (1 if employed.get(_index(month), True) else 3)
            on_time = not unpaid and rng.random() >= chance
            bills.append(UtilityBill(month, kind, amount, not unpaid, on_time))
    bills.sort(key=lambda bill: (bill.month, UTILITY_TYPES.index(bill.utility_type)))
    return tuple(bills)


def sandbox_people(as_of: Month) -> list[Person]:
    """The four sandbox identities, with histories placed relative to `as_of`."""
    rng = random.Random("lendgate-sandbox")
    employer_codes = [_employer_code(rng) for _ in range(6)]
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
        drawn = _draw_bills(bills, accounts, as_of, 0.0, unpaid_tail, {})
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
