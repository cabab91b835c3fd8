"""Credit-bureau (征信) derivations: overdue history, inquiries, cards, loans, classes."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from connectors.base import MonthRange
from policies.derivations.base import (
    CREDIT_BUREAU,
    Derivation,
    DerivationInput,
    SourceReader,
    derivation,
)

FIVE_CLASSES = ("NORMAL", "SPECIAL_MENTION", "SUBSTANDARD", "DOUBTFUL", "LOSS")
HARD_INQUIRY_REASONS = frozenset({"LOAN_APPROVAL", "CARD_APPROVAL"})


def _credit_accounts(source: SourceReader) -> list[tuple[str, Mapping[str, Any]]]:
    """Every loan and card account, each with the list it came from."""
    return [("loan_accounts", account) for account in source.items("loan_accounts")] + [
        ("card_accounts", account) for account in source.items("card_accounts")
    ]


def _five_classes(source: SourceReader) -> list[int]:
    """The five-level classification of every account, as an index into FIVE_CLASSES."""
    classes = []
    for list_field, account in _credit_accounts(source):
        five_class = account.get("five_class")
        if not isinstance(five_class, str) or five_class not in FIVE_CLASSES:
            raise source.malformed(f"{list_field}.five_class")
        classes.append(FIVE_CLASSES.index(five_class))
    return classes


def loan_total(source: SourceReader, key: str) -> Decimal:
    """The sum of one amount (`balance`, `monthly_repayment`) over every loan account."""
    return sum(
        (
            source.amount(f"loan_accounts.{key}", loan.get(key))
            for loan in source.items("loan_accounts")
        ),
        Decimal(0),
    )


def _overdue_months_in(
    source: SourceReader, list_field: str, account: Mapping[str, Any], window: MonthRange
) -> list[int]:
    """The `overdue_months` of an account's repayment history inside the window."""
    path = f"{list_field}.repayment_history"
    counts = []
    for entry in source.nested_items(list_field, account, "repayment_history"):
        if source.month(path, entry) in window:
            counts.append(source.count(path, entry, "overdue_months"))
    return counts


def cb_overdue_accounts(inputs: DerivationInput) -> int:
    """Loan and card accounts with any overdue month inside the window."""
    source = inputs.source(CREDIT_BUREAU)
    if not source.found:
        return 0
    window = inputs.window()
    return sum(
        1
        for list_field, account in _credit_accounts(source)
        if any(overdue > 0 for overdue in _overdue_months_in(source, list_field, account, window))
    )


def cb_max_overdue_months(inputs: DerivationInput) -> int:
    """The longest overdue status (in months) any account reached inside the window."""
    source = inputs.source(CREDIT_BUREAU)
    if not source.found:
        return 0
    window = inputs.window()
    return max(
        (
            overdue
            for list_field, account in _credit_accounts(source)
            for overdue in _overdue_months_in(source, list_field, account, window)
        ),
        default=0,
    )


def cb_hard_inquiries(inputs: DerivationInput) -> int:
    """Loan- and card-approval inquiries inside the window (the date key comes with them)."""
    source = inputs.source(CREDIT_BUREAU)
    if not source.found:
        return 0
    window = inputs.window()
    count = 0
    for inquiry in source.items("inquiries"):
        reason = inquiry.get("reason")
        if not isinstance(reason, str):
            raise source.malformed("inquiries.reason")
        if reason in HARD_INQUIRY_REASONS and source.day_month("inquiries", inquiry) in window:
            count += 1
    return count


def cb_card_utilization(inputs: DerivationInput) -> Decimal | None:
    """Total used over total limit of every card; None with no cards or no limit at all."""
    source = inputs.source(CREDIT_BUREAU)
    if not source.found:
        return None
    limit = Decimal(0)
    used = Decimal(0)
    for card in source.items("card_accounts"):
        limit += source.amount("card_accounts.credit_limit", card.get("credit_limit"))
        # A negative used amount is an overpayment (溢缴款): nothing of the limit is used.
        used += max(
            source.amount("card_accounts.used_amount", card.get("used_amount"), negative=True),
            Decimal(0),
        )
    if limit == 0:
        return None
    return used / limit


def cb_open_loans(inputs: DerivationInput) -> int:
    """Loan accounts with an outstanding balance (the bureau keeps settled loans at 0)."""
    source = inputs.source(CREDIT_BUREAU)
    if not source.found:
        return 0
    return sum(
        1
        for loan in source.items("loan_accounts")
        if source.amount("loan_accounts.balance", loan.get("balance")) > 0
    )


def cb_worst_five_class(inputs: DerivationInput) -> str:
    """The worst five-level classification over every account; NONE without accounts."""
    source = inputs.source(CREDIT_BUREAU)
    if not source.found:
        return "NONE"
    worst = max(_five_classes(source), default=None)
    return FIVE_CLASSES[worst] if worst is not None else "NONE"


def cb_abnormal_five_class(inputs: DerivationInput) -> bool:
    """Whether any account is classified below NORMAL (关注, or 不良: 次级/可疑/损失)."""
    source = inputs.source(CREDIT_BUREAU)
    if not source.found:
        return False
    return any(five_class > 0 for five_class in _five_classes(source))


def cb_current_overdue_amount(inputs: DerivationInput) -> Decimal | None:
    """The amount overdue on every account in the last month of the range; None without a file.

    An account with no repayment record that month (settled, or not yet due) owes nothing.
    """
    source = inputs.source(CREDIT_BUREAU)
    if not source.found:
        return None
    total = Decimal(0)
    for list_field, account in _credit_accounts(source):
        path = f"{list_field}.repayment_history"
        for entry in source.nested_items(list_field, account, "repayment_history"):
            if source.month(path, entry) == inputs.months.last:
                total += source.amount(f"{path}.overdue_amount", entry.get("overdue_amount"))
    return total


def cb_loan_balance(inputs: DerivationInput) -> Decimal | None:
    """Principal outstanding over every loan account; None without a credit file."""
    source = inputs.source(CREDIT_BUREAU)
    if not source.found:
        return None
    return loan_total(source, "balance")


def cb_monthly_repayment(inputs: DerivationInput) -> Decimal | None:
    """The instalments due each month over every loan (0 for settled ones); None without a file."""
    source = inputs.source(CREDIT_BUREAU)
    if not source.found:
        return None
    return loan_total(source, "monthly_repayment")


DERIVATIONS: tuple[Derivation, ...] = (
    derivation(
        cb_overdue_accounts,
        reads={
            CREDIT_BUREAU: ["loan_accounts.repayment_history", "card_accounts.repayment_history"]
        },
        output="integer",
        params=["window_months"],
    ),
    derivation(
        cb_max_overdue_months,
        reads={
            CREDIT_BUREAU: ["loan_accounts.repayment_history", "card_accounts.repayment_history"]
        },
        output="integer",
        params=["window_months"],
    ),
    derivation(
        cb_hard_inquiries,
        reads={CREDIT_BUREAU: ["inquiries.reason"]},
        output="integer",
        params=["window_months"],
    ),
    derivation(
        cb_card_utilization,
        reads={CREDIT_BUREAU: ["card_accounts.credit_limit", "card_accounts.used_amount"]},
        output="ratio",
        nullable=True,
    ),
    derivation(cb_open_loans, reads={CREDIT_BUREAU: ["loan_accounts.balance"]}, output="integer"),
    derivation(
        cb_worst_five_class,
        reads={CREDIT_BUREAU: ["loan_accounts.five_class", "card_accounts.five_class"]},
        output="enum",
        values=[*FIVE_CLASSES, "NONE"],
    ),
    derivation(
        cb_abnormal_five_class,
        reads={CREDIT_BUREAU: ["loan_accounts.five_class", "card_accounts.five_class"]},
        output="boolean",
    ),
    derivation(
        cb_current_overdue_amount,
        reads={
            CREDIT_BUREAU: ["loan_accounts.repayment_history", "card_accounts.repayment_history"]
        },
        output="band",
        nullable=True,
    ),
    derivation(
        cb_loan_balance,
        reads={CREDIT_BUREAU: ["loan_accounts.balance"]},
        output="band",
        nullable=True,
    ),
    derivation(
        cb_monthly_repayment,
        reads={CREDIT_BUREAU: ["loan_accounts.monthly_repayment"]},
        output="band",
        nullable=True,
    ),
)
"""Every derivation of this module, each with the contract features are held to."""
