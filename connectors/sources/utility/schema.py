"""What the gateway may ask the 水电燃气缴费 source for (field paths: `connectors.schemas`).

accounts             [{utility_type, opened "YYYY-MM", status}]
    utility_type     ELECTRICITY | WATER | GAS
    status           ACTIVE | CLOSED
bill_records         [{month, utility_type, amount, paid (bool), paid_on_time (bool)}]
arrears_amount       unpaid past-due bills now (欠费金额)
arrears_months       months with a past-due bill still unpaid now
remarks              free text (备注)
name
"""

from __future__ import annotations

FIELDS = frozenset(
    {
        "name",
        "accounts",
        "accounts.utility_type",
        "accounts.opened",
        "accounts.status",
        "bill_records",
        "bill_records.month",
        "bill_records.utility_type",
        "bill_records.amount",
        "bill_records.paid",
        "bill_records.paid_on_time",
        "arrears_amount",
        "arrears_months",
        "remarks",
    }
)
