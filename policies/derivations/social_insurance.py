"""Social-insurance (社保) derivations: insured status, paid months, employers, base."""

from __future__ import annotations

from decimal import Decimal

from connectors.base import Month, MonthRange
from policies.derivations.base import (
    SOCIAL_INSURANCE,
    Derivation,
    DerivationInput,
    SourceReader,
    continuous_paid_months,
    derivation,
    paid_month_count,
    paid_months,
)

INSURED_STATUSES = frozenset({"NORMAL", "SUSPENDED", "TERMINATED"})


def latest_paid_base(source: SourceReader, months: MonthRange) -> Decimal | None:
    """The contribution base of the latest paid month in the range."""
    latest: Month | None = None
    base: Decimal | None = None
    for item in source.items("contribution_records"):
        month = source.month("contribution_records", item)
        if month not in months or not source.flag("contribution_records", item, "paid"):
            continue
        amount = source.amount("contribution_records.base", item.get("base"))
        if latest is None or month > latest:
            latest, base = month, amount
        elif month == latest and base is not None:
            # Two paid records in one month (a change of employer): the higher base is
            # the one the person was last insured on in full.
            base = max(base, amount)
    return base


def si_active(inputs: DerivationInput) -> bool:
    """Insured status NORMAL and the last month of the range paid."""
    source = inputs.source(SOCIAL_INSURANCE)
    if not source.found:
        return False
    status = source.code("insured_status", INSURED_STATUSES)
    paid = paid_months(source, "contribution_records", inputs.months)
    return status == "NORMAL" and inputs.months.last in paid


def si_paid_months(inputs: DerivationInput) -> int:
    """Months of the range with a paid social-insurance contribution."""
    return paid_month_count(inputs, SOCIAL_INSURANCE, "contribution_records")


def si_continuous_months(inputs: DerivationInput) -> int:
    """Consecutive paid contribution months ending at the last month of the range."""
    return continuous_paid_months(inputs, SOCIAL_INSURANCE, "contribution_records")


def si_employer_changes(inputs: DerivationInput) -> int:
    """How often the paying employer changed from one paid month of the range to the next.

    Unpaid months are skipped, so a gap between two spells with the same employer is not
    a change. An employer that also paid in the previous paid month is not new, so a month
    paid by the old and the new employer (a mid-month move) counts the move once.
    """
    source = inputs.source(SOCIAL_INSURANCE)
    if not source.found:
        return 0
    employers: dict[Month, set[str]] = {}
    for item in source.items("contribution_records"):
        month = source.month("contribution_records", item)
        if month not in inputs.months or not source.flag("contribution_records", item, "paid"):
            continue
        code = item.get("employer_code")
        if not isinstance(code, str) or not code:
            raise source.malformed("contribution_records.employer_code")
        employers.setdefault(month, set()).add(code)
    changes = 0
    previous: set[str] | None = None
    for month in sorted(employers):
        codes = employers[month]
        changes += len(codes) - 1 if previous is None else len(codes - previous)
        previous = codes
    return changes


def si_latest_paid_base(inputs: DerivationInput) -> Decimal | None:
    """Contribution base of the latest paid month in the range; None when none was paid."""
    source = inputs.source(SOCIAL_INSURANCE)
    if not source.found:
        return None
    return latest_paid_base(source, inputs.months)


DERIVATIONS: tuple[Derivation, ...] = (
    derivation(
        si_active,
        reads={SOCIAL_INSURANCE: ["insured_status", "contribution_records.paid"]},
        output="boolean",
    ),
    derivation(
        si_paid_months, reads={SOCIAL_INSURANCE: ["contribution_records.paid"]}, output="integer"
    ),
    derivation(
        si_continuous_months,
        reads={SOCIAL_INSURANCE: ["contribution_records.paid"]},
        output="integer",
    ),
    derivation(
        si_employer_changes,
        reads={
            SOCIAL_INSURANCE: ["contribution_records.employer_code", "contribution_records.paid"]
        },
        output="integer",
    ),
    derivation(
        si_latest_paid_base,
        reads={SOCIAL_INSURANCE: ["contribution_records.base", "contribution_records.paid"]},
        output="band",
        nullable=True,
    ),
)
"""Every derivation of this module, each with the contract features are held to."""
