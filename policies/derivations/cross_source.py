"""Derivations across sources: the income proxy and the debt-service ratio."""

from __future__ import annotations

from decimal import Decimal

from policies.derivations.base import (
    CREDIT_BUREAU,
    HOUSING_FUND,
    SOCIAL_INSURANCE,
    Derivation,
    DerivationInput,
    derivation,
)
from policies.derivations.credit_bureau import loan_total
from policies.derivations.housing_fund import current_deposit_base
from policies.derivations.social_insurance import latest_paid_base


def _income_proxy(inputs: DerivationInput) -> Decimal | None:
    """The larger of the latest paid contribution base and the current deposit base."""
    social_insurance = inputs.source(SOCIAL_INSURANCE)
    housing_fund = inputs.source(HOUSING_FUND)
    bases = [
        latest_paid_base(social_insurance, inputs.months) if social_insurance.found else None,
        current_deposit_base(housing_fund) if housing_fund.found else None,
    ]
    known = [base for base in bases if base is not None]
    return max(known) if known else None


def income_proxy(inputs: DerivationInput) -> Decimal | None:
    """The larger of the latest paid contribution base and the current deposit base."""
    return _income_proxy(inputs)


def debt_service_ratio(inputs: DerivationInput) -> Decimal | None:
    """Monthly loan instalments over the monthly income proxy; None when income is unknown.

    Without a credit file there are no reported instalments, so the ratio is 0.
    """
    income = _income_proxy(inputs)
    if income is None or income == 0:
        return None
    credit_bureau = inputs.source(CREDIT_BUREAU)
    if not credit_bureau.found:
        return Decimal(0)
    return loan_total(credit_bureau, "monthly_repayment") / income


DERIVATIONS: tuple[Derivation, ...] = (
    derivation(
        income_proxy,
        reads={
            SOCIAL_INSURANCE: ["contribution_records.base", "contribution_records.paid"],
            HOUSING_FUND: ["account_status", "deposit_base"],
        },
        output="band",
        nullable=True,
    ),
    derivation(
        debt_service_ratio,
        reads={
            SOCIAL_INSURANCE: ["contribution_records.base", "contribution_records.paid"],
            HOUSING_FUND: ["account_status", "deposit_base"],
            CREDIT_BUREAU: ["loan_accounts.monthly_repayment"],
        },
        output="ratio",
        nullable=True,
    ),
)
"""Every derivation of this module, each with the contract features are held to."""
