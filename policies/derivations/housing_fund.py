"""Housing-fund (公积金) derivations: account status, deposits, balance and loan."""

from __future__ import annotations

from decimal import Decimal

from connectors.base import Month, MonthRange
from policies.derivations.base import (
    HOUSING_FUND,
    Derivation,
    DerivationInput,
    SourceReader,
    continuous_paid_months,
    derivation,
    paid_month_count,
)

ACCOUNT_STATUSES = ("NORMAL", "SEALED", "CLOSED")
HF_LOAN_STATUSES = ("NONE", "REPAYING", "SETTLED")


def current_deposit_base(source: SourceReader) -> Decimal | None:
    """The deposit base of an account in normal standing; a sealed account's base is stale."""
    if source.code("account_status", ACCOUNT_STATUSES) != "NORMAL":
        return None
    return source.amount("deposit_base", source.scalar("deposit_base"))


def _latest_paid_hf_deposit(source: SourceReader, months: MonthRange) -> Decimal | None:
    """What was deposited in the latest paid month of the range (all its records together)."""
    by_month: dict[Month, Decimal] = {}
    for item in source.items("deposit_records"):
        month = source.month("deposit_records", item)
        if month not in months or not source.flag("deposit_records", item, "paid"):
            continue
        amount = source.amount("deposit_records.amount", item.get("amount"))
        # Two records in one month are two deposits (a supplementary one, or two employers).
        by_month[month] = by_month.get(month, Decimal(0)) + amount
    return by_month[max(by_month)] if by_month else None


def hf_status(inputs: DerivationInput) -> str:
    """The account status, or NONE when the person has no housing-fund account."""
    source = inputs.source(HOUSING_FUND)
    if not source.found:
        return "NONE"
    return source.code("account_status", ACCOUNT_STATUSES)


def hf_continuous_months(inputs: DerivationInput) -> int:
    """Consecutive paid deposit months ending at the last month of the range."""
    return continuous_paid_months(inputs, HOUSING_FUND, "deposit_records")


def hf_paid_months(inputs: DerivationInput) -> int:
    """Months of the range with a paid housing-fund deposit."""
    return paid_month_count(inputs, HOUSING_FUND, "deposit_records")


def hf_current_deposit_base(inputs: DerivationInput) -> Decimal | None:
    """Deposit base of an account in normal standing; None when sealed, closed or absent."""
    source = inputs.source(HOUSING_FUND)
    if not source.found:
        return None
    return current_deposit_base(source)


def hf_latest_paid_deposit(inputs: DerivationInput) -> Decimal | None:
    """Personal plus employer deposit of the latest paid month in the range; None when none."""
    source = inputs.source(HOUSING_FUND)
    if not source.found:
        return None
    return _latest_paid_hf_deposit(source, inputs.months)


def hf_balance(inputs: DerivationInput) -> Decimal | None:
    """The account balance (a closed account holds 0); None without an account."""
    source = inputs.source(HOUSING_FUND)
    if not source.found:
        return None
    return source.amount("balance", source.scalar("balance"))


def hf_loan_status(inputs: DerivationInput) -> str:
    """Housing-fund loan status; NONE also when there is no account."""
    source = inputs.source(HOUSING_FUND)
    if not source.found:
        return "NONE"
    return source.code("loan_status", HF_LOAN_STATUSES)


def hf_has_loan(inputs: DerivationInput) -> bool:
    """Whether a housing-fund loan is being repaid now (a settled one no longer counts)."""
    source = inputs.source(HOUSING_FUND)
    if not source.found:
        return False
    return source.code("loan_status", HF_LOAN_STATUSES) == "REPAYING"


DERIVATIONS: tuple[Derivation, ...] = (
    derivation(
        hf_status,
        reads={HOUSING_FUND: ["account_status"]},
        output="enum",
        values=[*ACCOUNT_STATUSES, "NONE"],
    ),
    derivation(
        hf_continuous_months, reads={HOUSING_FUND: ["deposit_records.paid"]}, output="integer"
    ),
    derivation(hf_paid_months, reads={HOUSING_FUND: ["deposit_records.paid"]}, output="integer"),
    derivation(
        hf_current_deposit_base,
        reads={HOUSING_FUND: ["account_status", "deposit_base"]},
        output="band",
        nullable=True,
    ),
    derivation(
        hf_latest_paid_deposit,
        reads={HOUSING_FUND: ["deposit_records.amount", "deposit_records.paid"]},
        output="band",
        nullable=True,
    ),
    derivation(hf_balance, reads={HOUSING_FUND: ["balance"]}, output="band", nullable=True),
    derivation(
        hf_loan_status,
        reads={HOUSING_FUND: ["loan_status"]},
        output="enum",
        values=HF_LOAN_STATUSES,
    ),
    derivation(hf_has_loan, reads={HOUSING_FUND: ["loan_status"]}, output="boolean"),
)
"""Every derivation of this module, each with the contract features are held to."""
