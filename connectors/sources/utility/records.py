"""How the 水电燃气 simulator derives its record from a person's history."""

from __future__ import annotations

from typing import Any

from connectors.base import Month
from connectors.people.histories import UTILITY_HISTORY_MONTHS, Person


def utility_record(person: Person, as_of: Month) -> dict[str, Any] | None:
    """The 水电燃气 record: accounts in the person's name and the recent monthly bills."""
    utility = person.utility
    if utility is None:
        return None
    accounts = [(kind, opened) for kind, opened in utility.accounts if opened <= as_of]
    if not accounts:
        return None
    first = as_of.shift(-(UTILITY_HISTORY_MONTHS - 1))
    bills = [bill for bill in utility.bills if first <= bill.month <= as_of]
    unpaid = [bill for bill in bills if not bill.paid]
    return {
        "name": person.name,
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
        "remarks": person.remark("utility"),
    }
