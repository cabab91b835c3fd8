"""Utility-payment (水电燃气缴费) derivations.

Utility payments are a source added through the connector plug-in interface
(connectors/utility.py).
"""

from __future__ import annotations

from connectors.base import Month
from policies.derivations.base import UTILITY, Derivation, DerivationInput, derivation


def ut_on_time_months(inputs: DerivationInput) -> int:
    """Months of the range with utility bills, every one of them paid on time."""
    source = inputs.source(UTILITY)
    if not source.found:
        return 0
    billed: set[Month] = set()
    late: set[Month] = set()
    for bill in source.items("bill_records"):
        month = source.month("bill_records", bill)
        if month not in inputs.months:
            continue
        billed.add(month)
        if not source.flag("bill_records", bill, "paid_on_time"):
            late.add(month)
    return len(billed - late)


def ut_in_arrears(inputs: DerivationInput) -> bool:
    """Whether a utility bill is past due and unpaid now; False without utility accounts."""
    source = inputs.source(UTILITY)
    if not source.found:
        return False
    return source.amount("arrears_amount", source.scalar("arrears_amount")) > 0


DERIVATIONS: tuple[Derivation, ...] = (
    derivation(ut_on_time_months, reads={UTILITY: ["bill_records.paid_on_time"]}, output="integer"),
    derivation(ut_in_arrears, reads={UTILITY: ["arrears_amount"]}, output="boolean"),
)
"""Every derivation of this module, each with the contract features are held to."""
