"""How the 公积金 simulator derives its record from a person's history."""

from __future__ import annotations

from typing import Any

from connectors.base import Month
from connectors.people.histories import Employer, Person, month_index, month_text


def housing_fund_record(person: Person, as_of: Month) -> dict[str, Any] | None:
    """The 公积金 record: account, one deposit record per month since opening, any loan."""
    account = person.housing_fund
    if account is None or account.open_month > as_of:
        return None
    closed = account.closed if account.closed and account.closed <= as_of else None
    records = []
    deposited = 0
    last_paid: tuple[int, int, Employer] | None = None
    employment = person.employment(account.open_month, closed or as_of)
    for index, spell in enumerate(employment, start=month_index(account.open_month)):
        if spell is None or not spell.employer.deposits_housing_fund:
            records.append(
                {
                    "month": month_text(index),
                    "amount": 0,
                    "paid": False,
                    "personal_amount": 0,
                    "unit_amount": 0,
                }
            )
            continue
        base, employer = spell.base_at(index), spell.employer
        personal, unit = round(base * employer.personal_rate), round(base * employer.unit_rate)
        records.append(
            {
                "month": month_text(index),
                "amount": personal + unit,
                "paid": True,
                "personal_amount": personal,
                "unit_amount": unit,
            }
        )
        deposited += personal + unit
        last_paid = (index, base, employer)
    current = person.spell_in(as_of)
    if closed:
        status = "CLOSED"
    elif current and current.employer.deposits_housing_fund:
        status = "NORMAL"
    else:
        status = "SEALED"
    loan = person.housing_fund_loan
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
        "name": person.name,
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
        "last_paid_month": month_text(last_paid[0]) if last_paid else None,
        "loan_status": loan_status,
        "loan_amount": loan.amount if loan else 0,
        "loan_opened": loan.opened.isoformat() if loan else None,
        "loan_term_months": loan.term_months if loan else 0,
        "loan_outstanding": outstanding,
        "loan_monthly_repayment": repayment,
        "remarks": person.remark("housing_fund"),
    }
