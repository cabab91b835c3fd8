"""How the 征信 simulator derives its report from a person's history."""

from __future__ import annotations

from typing import Any

from connectors.base import Month, MonthRange
from connectors.people.histories import (
    REPAYMENT_HISTORY_MONTHS,
    Card,
    Loan,
    Person,
    months_overdue,
)


def credit_bureau_record(person: Person, as_of: Month) -> dict[str, Any] | None:
    """The 征信 record: loan and card accounts with repayment histories, inquiries, records."""
    if person.credit is None:
        return None
    loans = person.credit.loans
    if person.housing_fund_loan is not None:
        loans = (*loans, person.housing_fund_loan)
    window_start = as_of.shift(-(REPAYMENT_HISTORY_MONTHS - 1))
    return {
        "name": person.name,
        "phone": person.phone,
        "loan_accounts": [
            _loan_account(loan, as_of, window_start)
            for loan in sorted(loans, key=lambda loan: loan.opened)
            if Month.of(loan.opened) <= as_of
        ],
        "card_accounts": [
            _card_account(card, as_of, window_start)
            for card in sorted(person.credit.cards, key=lambda card: card.opened)
            if Month.of(card.opened) <= as_of
        ],
        "inquiries": [
            {
                "date": inquiry.date.isoformat(),
                "reason": inquiry.reason,
                "querier_type": inquiry.querier,
            }
            for inquiry in sorted(person.credit.inquiries, key=lambda inquiry: inquiry.date)
            if Month.of(inquiry.date) <= as_of
        ],
        "public_records": [
            {"kind": record.kind, "date": record.date.isoformat(), "amount": record.amount}
            for record in sorted(person.credit.public_records, key=lambda record: record.date)
            if Month.of(record.date) <= as_of
        ],
        "remarks": person.remark("credit_bureau"),
    }


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
        for overdue in (months_overdue(loan.delinquencies, month),)
    ]
    overdue_now = 0 if closed else months_overdue(loan.delinquencies, as_of)
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
        for overdue in (months_overdue(card.delinquencies, month),)
    ]
    overdue_now = months_overdue(card.delinquencies, as_of)
    return {
        "opened": card.opened.isoformat(),
        "credit_limit": card.credit_limit,
        "used_amount": card.used_amount,
        "status": "OVERDUE" if overdue_now else "NORMAL",
        "five_class": _five_class(overdue_now),
        "repayment_history": history,
    }
