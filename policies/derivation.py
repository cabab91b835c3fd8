"""Feature derivation: pure functions turning source answers into generalized features.

Each derivation is registered under the key that `features.yaml` names in `derivation`
and declares the exact source fields it reads, its output type and its parameters; the
catalog checker holds every feature to that declaration, so a feature can neither fetch
a field its derivation ignores nor release a raw value.

Conventions shared by every derivation:

- `months` is the consented data range; anything a source sends outside it is ignored.
- A source that holds no record of the person (`found=False`) yields the "nothing known"
  value: `False`, `0`, `NONE` or `None` (JSON null) as each feature documents.
- A list the source left out is read as empty (sources may omit empty lists); a value of
  the wrong shape means the source answered badly and raises `SourceUnavailable`.
- Windowed features (`window_months`) look at the last N months of the range, or at the
  whole range when it is shorter.
- Amounts are summed and compared as exact decimals; bands and ratios are applied by the
  catalog (`Output.generalize`), never here.

Identity comparisons (the `identity_match` purpose) are the one place a derivation reads a
source's `name` or `phone`: they are registered with `compares_identity=True`, receive the
borrower's claimed identity, and answer only true/false. No other derivation ever sees the
claimed identity, and the catalog refuses identity fields for every other derivation.
"""

from __future__ import annotations

import hmac
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol

from connectors.base import Month, MonthRange, SourceRecord
from gateway.core.errors import SourceUnavailable

if TYPE_CHECKING:
    from policies.catalog import Catalog

SOCIAL_INSURANCE = "social_insurance"
HOUSING_FUND = "housing_fund"
CREDIT_BUREAU = "credit_bureau"

ITEM_KEYS = frozenset({"month", "date"})
"""Keys a source always keeps in the items of a list kept by month or date."""

INSURED_STATUSES = frozenset({"NORMAL", "SUSPENDED", "TERMINATED"})
ACCOUNT_STATUSES = ("NORMAL", "SEALED", "CLOSED")
HF_LOAN_STATUSES = ("NONE", "REPAYING", "SETTLED")
FIVE_CLASSES = ("NORMAL", "SPECIAL_MENTION", "SUBSTANDARD", "DOUBTFUL", "LOSS")
HARD_INQUIRY_REASONS = frozenset({"LOAN_APPROVAL", "CARD_APPROVAL"})

# Ways sources and lenders write the middle dot of names such as 阿依古丽·买买提.
_NAME_DOTS = str.maketrans(dict.fromkeys("\u00b7\u2022\u2027\u2219\u22c5\u30fb\uff0e", "\u00b7"))


class ClaimedIdentity(Protocol):
    """Who the lender says the borrower is: the consent's borrower identity, decrypted."""

    @property
    def name(self) -> str: ...

    @property
    def id_number(self) -> str: ...

    @property
    def phone(self) -> str: ...


class SourceReader:
    """Checked access to one source's answer; a badly shaped value raises `SourceUnavailable`."""

    def __init__(self, record: SourceRecord):
        self.record = record

    @property
    def found(self) -> bool:
        """Whether the source holds a record of the person."""
        return self.record.found

    def malformed(self, field_path: str) -> SourceUnavailable:
        """The error for a value the source should not have sent."""
        # Names the field, never the value: details must not carry personal data.
        return SourceUnavailable(f"{self.record.source} answered a malformed `{field_path}`.")

    def scalar(self, name: str) -> Any:
        """A top-level field the feature asked for; absent means the source answered badly."""
        value = self.record.fields.get(name)
        if value is None:
            raise self.malformed(name)
        return value

    def code(self, name: str, allowed: Iterable[str]) -> str:
        """A top-level enumeration field, checked against its codes."""
        value = self.scalar(name)
        if not isinstance(value, str) or value not in allowed:
            raise self.malformed(name)
        return value

    def amount(self, field_path: str, value: Any, *, negative: bool = False) -> Decimal:
        """A CNY amount as an exact decimal (floats go through their shortest text form)."""
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
            raise self.malformed(field_path)
        try:
            amount = Decimal(str(value)) if isinstance(value, float | str) else Decimal(value)
        except InvalidOperation:
            raise self.malformed(field_path) from None
        if not amount.is_finite() or (amount < 0 and not negative):
            raise self.malformed(field_path)
        return amount

    def items(self, name: str) -> list[Mapping[str, Any]]:
        """The items of a list field; a list left out counts as empty."""
        value = self.record.fields.get(name)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
            raise self.malformed(name)
        return value

    def nested_items(self, parent: str, item: Mapping[str, Any], name: str) -> list[Any]:
        """The items of a list kept inside another list's item (e.g. a repayment history)."""
        value = item.get(name)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(entry, Mapping) for entry in value):
            raise self.malformed(f"{parent}.{name}")
        return value

    def month(self, field_path: str, item: Mapping[str, Any]) -> Month:
        """The `month` key of an item kept by month."""
        value = item.get("month")
        if not isinstance(value, str):
            raise self.malformed(f"{field_path}.month")
        try:
            return Month.parse(value)
        except ValueError:
            raise self.malformed(f"{field_path}.month") from None

    def day_month(self, field_path: str, item: Mapping[str, Any]) -> Month:
        """The month of the `date` key of an item kept by date."""
        value = item.get("date")
        if not isinstance(value, str):
            raise self.malformed(f"{field_path}.date")
        try:
            return Month.of(date.fromisoformat(value))
        except ValueError:
            raise self.malformed(f"{field_path}.date") from None

    def flag(self, field_path: str, item: Mapping[str, Any], key: str) -> bool:
        """A boolean key of an item (`paid`)."""
        value = item.get(key)
        if not isinstance(value, bool):
            raise self.malformed(f"{field_path}.{key}")
        return value

    def count(self, field_path: str, item: Mapping[str, Any], key: str) -> int:
        """A non-negative whole-number key of an item (`overdue_months`)."""
        value = item.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.malformed(f"{field_path}.{key}")
        return value


@dataclass(frozen=True)
class DerivationInput:
    """What a derivation sees: the feature's own fields of each source, the range, its params."""

    records: Mapping[str, SourceRecord]
    months: MonthRange
    params: Mapping[str, int] = field(default_factory=dict)
    claimed: ClaimedIdentity | None = None
    """The borrower's claimed identity; only identity comparisons are handed it."""

    def source(self, name: str) -> SourceReader:
        """Checked access to one source's answer."""
        return SourceReader(self.records[name])

    def claimed_identity(self) -> ClaimedIdentity:
        """The claimed identity an identity comparison checks the sources against."""
        if self.claimed is None:
            # The release pipeline opens it for every plan that compares identity: a bug.
            raise ValueError("an identity comparison was derived without the claimed identity")
        return self.claimed

    def window(self) -> MonthRange:
        """The last `window_months` months of the data range (all of it when shorter)."""
        size = self.params["window_months"]
        if size >= len(self.months):
            return self.months
        return MonthRange.ending(self.months.last, size)


DerivationFunction = Callable[[DerivationInput], Any]


@dataclass(frozen=True)
class Derivation:
    """A registered derivation and the contract the catalog checker holds features to."""

    name: str
    function: DerivationFunction
    reads: Mapping[str, frozenset[str]]
    """Exactly the source field paths the function reads, per source."""
    output_type: str
    """The only output type that generalizes this derivation's value without leaking it."""
    params: frozenset[str] = frozenset()
    """Parameter names the feature must set (each a positive whole number)."""
    values: tuple[str, ...] = ()
    """Every code an `enum` derivation can return."""
    nullable: bool = False
    """Whether the derivation answers None when the sources hold nothing to derive from."""
    compares_identity: bool = False
    """Whether it compares identity fields (`name`, `phone`) with the claimed identity."""


_REGISTRY: dict[str, Derivation] = {}

DERIVATIONS: Mapping[str, Derivation] = MappingProxyType(_REGISTRY)
"""Every derivation a feature may name, by key."""


def _derivation(
    name: str,
    *,
    reads: Mapping[str, Sequence[str]],
    output: str,
    params: Sequence[str] = (),
    values: Sequence[str] = (),
    nullable: bool = False,
    compares_identity: bool = False,
) -> Callable[[DerivationFunction], DerivationFunction]:
    def register(function: DerivationFunction) -> DerivationFunction:
        if name in _REGISTRY:
            raise RuntimeError(f"derivation {name!r} registered twice")
        if compares_identity and (output != "boolean" or nullable):
            # Match, don't reveal: anything richer than yes/no could leak the value on file.
            raise RuntimeError(f"identity comparison {name!r} must answer true or false")
        _REGISTRY[name] = Derivation(
            name=name,
            function=function,
            reads=MappingProxyType({source: frozenset(paths) for source, paths in reads.items()}),
            output_type=output,
            params=frozenset(params),
            values=tuple(values),
            nullable=nullable,
            compares_identity=compares_identity,
        )
        return function

    return register


# -- shared readings -------------------------------------------------------------------


def _paid_months(source: SourceReader, list_field: str, months: MonthRange) -> set[Month]:
    """Months of the range with at least one paid record."""
    paid: set[Month] = set()
    for item in source.items(list_field):
        month = source.month(list_field, item)
        if month in months and source.flag(list_field, item, "paid"):
            paid.add(month)
    return paid


def _consecutive_paid_months(paid: set[Month], months: MonthRange) -> int:
    """Paid months in a row ending at the last month of the range (0 when it is unpaid)."""
    run = 0
    month = months.last
    while month in months and month in paid:
        run += 1
        month = month.shift(-1)
    return run


def _latest_paid_si_base(source: SourceReader, months: MonthRange) -> Decimal | None:
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


def _current_hf_base(source: SourceReader) -> Decimal | None:
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


def _income_proxy(inputs: DerivationInput) -> Decimal | None:
    """The larger of the latest paid contribution base and the current deposit base."""
    social_insurance = inputs.source(SOCIAL_INSURANCE)
    housing_fund = inputs.source(HOUSING_FUND)
    bases = [
        _latest_paid_si_base(social_insurance, inputs.months) if social_insurance.found else None,
        _current_hf_base(housing_fund) if housing_fund.found else None,
    ]
    known = [base for base in bases if base is not None]
    return max(known) if known else None


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


def _loan_total(source: SourceReader, key: str) -> Decimal:
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


# -- social insurance ------------------------------------------------------------------


@_derivation(
    "si_active",
    reads={SOCIAL_INSURANCE: ["insured_status", "contribution_records.paid"]},
    output="boolean",
)
def si_active(inputs: DerivationInput) -> bool:
    """Insured status NORMAL and the last month of the range paid."""
    source = inputs.source(SOCIAL_INSURANCE)
    if not source.found:
        return False
    status = source.code("insured_status", INSURED_STATUSES)
    paid = _paid_months(source, "contribution_records", inputs.months)
    return status == "NORMAL" and inputs.months.last in paid


@_derivation(
    "si_paid_months",
    reads={SOCIAL_INSURANCE: ["contribution_records.paid"]},
    output="integer",
)
def si_paid_months(inputs: DerivationInput) -> int:
    """Months of the range with a paid social-insurance contribution."""
    source = inputs.source(SOCIAL_INSURANCE)
    if not source.found:
        return 0
    return len(_paid_months(source, "contribution_records", inputs.months))


@_derivation(
    "si_continuous_months",
    reads={SOCIAL_INSURANCE: ["contribution_records.paid"]},
    output="integer",
)
def si_continuous_months(inputs: DerivationInput) -> int:
    """Consecutive paid contribution months ending at the last month of the range."""
    source = inputs.source(SOCIAL_INSURANCE)
    if not source.found:
        return 0
    paid = _paid_months(source, "contribution_records", inputs.months)
    return _consecutive_paid_months(paid, inputs.months)


@_derivation(
    "si_employer_changes",
    reads={SOCIAL_INSURANCE: ["contribution_records.employer_code", "contribution_records.paid"]},
    output="integer",
)
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


@_derivation(
    "si_latest_paid_base",
    reads={SOCIAL_INSURANCE: ["contribution_records.base", "contribution_records.paid"]},
    output="band",
    nullable=True,
)
def si_latest_paid_base(inputs: DerivationInput) -> Decimal | None:
    """Contribution base of the latest paid month in the range; None when none was paid."""
    source = inputs.source(SOCIAL_INSURANCE)
    if not source.found:
        return None
    return _latest_paid_si_base(source, inputs.months)


# -- housing fund ----------------------------------------------------------------------


@_derivation(
    "hf_status",
    reads={HOUSING_FUND: ["account_status"]},
    output="enum",
    values=[*ACCOUNT_STATUSES, "NONE"],
)
def hf_status(inputs: DerivationInput) -> str:
    """The account status, or NONE when the person has no housing-fund account."""
    source = inputs.source(HOUSING_FUND)
    if not source.found:
        return "NONE"
    return source.code("account_status", ACCOUNT_STATUSES)


@_derivation(
    "hf_continuous_months",
    reads={HOUSING_FUND: ["deposit_records.paid"]},
    output="integer",
)
def hf_continuous_months(inputs: DerivationInput) -> int:
    """Consecutive paid deposit months ending at the last month of the range."""
    source = inputs.source(HOUSING_FUND)
    if not source.found:
        return 0
    paid = _paid_months(source, "deposit_records", inputs.months)
    return _consecutive_paid_months(paid, inputs.months)


@_derivation(
    "hf_paid_months",
    reads={HOUSING_FUND: ["deposit_records.paid"]},
    output="integer",
)
def hf_paid_months(inputs: DerivationInput) -> int:
    """Months of the range with a paid housing-fund deposit."""
    source = inputs.source(HOUSING_FUND)
    if not source.found:
        return 0
    return len(_paid_months(source, "deposit_records", inputs.months))


@_derivation(
    "hf_current_deposit_base",
    reads={HOUSING_FUND: ["account_status", "deposit_base"]},
    output="band",
    nullable=True,
)
def hf_current_deposit_base(inputs: DerivationInput) -> Decimal | None:
    """Deposit base of an account in normal standing; None when sealed, closed or absent."""
    source = inputs.source(HOUSING_FUND)
    if not source.found:
        return None
    return _current_hf_base(source)


@_derivation(
    "hf_latest_paid_deposit",
    reads={HOUSING_FUND: ["deposit_records.amount", "deposit_records.paid"]},
    output="band",
    nullable=True,
)
def hf_latest_paid_deposit(inputs: DerivationInput) -> Decimal | None:
    """Personal plus employer deposit of the latest paid month in the range; None when none."""
    source = inputs.source(HOUSING_FUND)
    if not source.found:
        return None
    return _latest_paid_hf_deposit(source, inputs.months)


@_derivation(
    "hf_balance",
    reads={HOUSING_FUND: ["balance"]},
    output="band",
    nullable=True,
)
def hf_balance(inputs: DerivationInput) -> Decimal | None:
    """The account balance (a closed account holds 0); None without an account."""
    source = inputs.source(HOUSING_FUND)
    if not source.found:
        return None
    return source.amount("balance", source.scalar("balance"))


@_derivation(
    "hf_loan_status",
    reads={HOUSING_FUND: ["loan_status"]},
    output="enum",
    values=HF_LOAN_STATUSES,
)
def hf_loan_status(inputs: DerivationInput) -> str:
    """Housing-fund loan status; NONE also when there is no account."""
    source = inputs.source(HOUSING_FUND)
    if not source.found:
        return "NONE"
    return source.code("loan_status", HF_LOAN_STATUSES)


@_derivation(
    "hf_has_loan",
    reads={HOUSING_FUND: ["loan_status"]},
    output="boolean",
)
def hf_has_loan(inputs: DerivationInput) -> bool:
    """Whether a housing-fund loan is being repaid now (a settled one no longer counts)."""
    source = inputs.source(HOUSING_FUND)
    if not source.found:
        return False
    return source.code("loan_status", HF_LOAN_STATUSES) == "REPAYING"


# -- cross-source ----------------------------------------------------------------------


@_derivation(
    "income_proxy",
    reads={
        SOCIAL_INSURANCE: ["contribution_records.base", "contribution_records.paid"],
        HOUSING_FUND: ["account_status", "deposit_base"],
    },
    output="band",
    nullable=True,
)
def income_proxy(inputs: DerivationInput) -> Decimal | None:
    """The larger of the latest paid contribution base and the current deposit base."""
    return _income_proxy(inputs)


@_derivation(
    "debt_service_ratio",
    reads={
        SOCIAL_INSURANCE: ["contribution_records.base", "contribution_records.paid"],
        HOUSING_FUND: ["account_status", "deposit_base"],
        CREDIT_BUREAU: ["loan_accounts.monthly_repayment"],
    },
    output="ratio",
    nullable=True,
)
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
    return _loan_total(credit_bureau, "monthly_repayment") / income


# -- credit bureau ---------------------------------------------------------------------


@_derivation(
    "cb_overdue_accounts",
    reads={CREDIT_BUREAU: ["loan_accounts.repayment_history", "card_accounts.repayment_history"]},
    output="integer",
    params=["window_months"],
)
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


@_derivation(
    "cb_max_overdue_months",
    reads={CREDIT_BUREAU: ["loan_accounts.repayment_history", "card_accounts.repayment_history"]},
    output="integer",
    params=["window_months"],
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


@_derivation(
    "cb_hard_inquiries",
    reads={CREDIT_BUREAU: ["inquiries.reason"]},
    output="integer",
    params=["window_months"],
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


@_derivation(
    "cb_card_utilization",
    reads={CREDIT_BUREAU: ["card_accounts.credit_limit", "card_accounts.used_amount"]},
    output="ratio",
    nullable=True,
)
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


@_derivation(
    "cb_open_loans",
    reads={CREDIT_BUREAU: ["loan_accounts.balance"]},
    output="integer",
)
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


@_derivation(
    "cb_worst_five_class",
    reads={CREDIT_BUREAU: ["loan_accounts.five_class", "card_accounts.five_class"]},
    output="enum",
    values=[*FIVE_CLASSES, "NONE"],
)
def cb_worst_five_class(inputs: DerivationInput) -> str:
    """The worst five-level classification over every account; NONE without accounts."""
    source = inputs.source(CREDIT_BUREAU)
    if not source.found:
        return "NONE"
    worst = max(_five_classes(source), default=None)
    return FIVE_CLASSES[worst] if worst is not None else "NONE"


@_derivation(
    "cb_abnormal_five_class",
    reads={CREDIT_BUREAU: ["loan_accounts.five_class", "card_accounts.five_class"]},
    output="boolean",
)
def cb_abnormal_five_class(inputs: DerivationInput) -> bool:
    """Whether any account is classified below NORMAL (关注, or 不良: 次级/可疑/损失)."""
    source = inputs.source(CREDIT_BUREAU)
    if not source.found:
        return False
    return any(five_class > 0 for five_class in _five_classes(source))


@_derivation(
    "cb_current_overdue_amount",
    reads={CREDIT_BUREAU: ["loan_accounts.repayment_history", "card_accounts.repayment_history"]},
    output="band",
    nullable=True,
)
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


@_derivation(
    "cb_loan_balance",
    reads={CREDIT_BUREAU: ["loan_accounts.balance"]},
    output="band",
    nullable=True,
)
def cb_loan_balance(inputs: DerivationInput) -> Decimal | None:
    """Principal outstanding over every loan account; None without a credit file."""
    source = inputs.source(CREDIT_BUREAU)
    if not source.found:
        return None
    return _loan_total(source, "balance")


@_derivation(
    "cb_monthly_repayment",
    reads={CREDIT_BUREAU: ["loan_accounts.monthly_repayment"]},
    output="band",
    nullable=True,
)
def cb_monthly_repayment(inputs: DerivationInput) -> Decimal | None:
    """The instalments due each month over every loan (0 for settled ones); None without a file."""
    source = inputs.source(CREDIT_BUREAU)
    if not source.found:
        return None
    return _loan_total(source, "monthly_repayment")


# -- identity match --------------------------------------------------------------------


@_derivation("identity_on_file", reads={CREDIT_BUREAU: []}, output="boolean")
def identity_on_file(inputs: DerivationInput) -> bool:
    """Whether the credit bureau holds a file under the claimed resident ID number.

    Sources are asked by the claimed number itself, so whether one finds the person is the
    answer: no field is read, and no value is compared here.
    """
    return inputs.source(CREDIT_BUREAU).found


@_derivation(
    "identity_name_match",
    reads={CREDIT_BUREAU: ["name"]},
    output="boolean",
    compares_identity=True,
)
def identity_name_match(inputs: DerivationInput) -> bool:
    """Whether the name on the credit file is the claimed name; False without a file."""
    claimed = inputs.claimed_identity()
    source = inputs.source(CREDIT_BUREAU)
    if not source.found:
        return False
    on_file = source.scalar("name")
    if not isinstance(on_file, str):
        raise source.malformed("name")
    return _same(_normal_name(on_file), _normal_name(claimed.name))


@_derivation(
    "identity_phone_match",
    reads={CREDIT_BUREAU: ["phone"]},
    output="boolean",
    compares_identity=True,
)
def identity_phone_match(inputs: DerivationInput) -> bool:
    """Whether the mobile on the credit file is the claimed one; False without a file."""
    claimed = inputs.claimed_identity()
    source = inputs.source(CREDIT_BUREAU)
    if not source.found:
        return False
    on_file = source.scalar("phone")
    if not isinstance(on_file, str):
        raise source.malformed("phone")
    return _same(_normal_phone(on_file), _normal_phone(claimed.phone))


def _normal_name(name: str) -> str:
    """A name as compared: NFKC (full-width forms), one middle dot, no spaces, case-folded."""
    folded = unicodedata.normalize("NFKC", name).translate(_NAME_DOTS)
    return "".join(folded.split()).casefold()


def _normal_phone(phone: str) -> str:
    """A mainland mobile as compared: digits only, without a +86 / 0086 country prefix."""
    digits = "".join(char for char in unicodedata.normalize("NFKC", phone) if char.isdigit())
    for prefix in ("0086", "86"):
        if len(digits) == len(prefix) + 11 and digits.startswith(prefix):
            return digits[len(prefix) :]
    return digits


def _same(on_file: str, claimed: str) -> bool:
    """Equal and non-empty, compared in constant time (the answer is all that may leak)."""
    return bool(on_file) and hmac.compare_digest(on_file.encode(), claimed.encode())


# -- release ---------------------------------------------------------------------------


def project_record(record: SourceRecord, paths: Iterable[str]) -> SourceRecord:
    """The record cut down to `paths`, so a derivation cannot read another feature's fields."""
    if not record.found:
        return record
    wanted: dict[str, set[str] | None] = {}
    for path in paths:
        top, _, key = path.partition(".")
        if not key:
            wanted[top] = None
        elif top not in wanted:
            wanted[top] = {key}
        else:
            keys = wanted[top]
            if keys is not None:
                keys.add(key)
    fields: dict[str, Any] = {}
    for top, keys in wanted.items():
        if top not in record.fields:
            continue
        value = record.fields[top]
        if keys is not None and isinstance(value, list):
            # Badly shaped lists are left as they are for the derivation to refuse.
            value = [
                {k: v for k, v in item.items() if k in keys or k in ITEM_KEYS}
                if isinstance(item, Mapping)
                else item
                for item in value
            ]
        fields[top] = value
    return replace(record, fields=fields, overshared=())


def derive_features(
    catalog: Catalog,
    features: Sequence[str],
    records: Mapping[str, SourceRecord],
    months: MonthRange,
    claimed: ClaimedIdentity | None = None,
) -> dict[str, Any]:
    """Derive and generalize `features` from the sources' answers over the data range.

    `claimed` (the consent's borrower identity) is handed to identity comparisons only.
    """
    derived: dict[str, Any] = {}
    for name in features:
        if name in derived:
            continue
        feature = catalog.feature(name)
        inputs: dict[str, SourceRecord] = {}
        for source, paths in feature.source_fields.items():
            if source not in records:
                # The release pipeline fetches every source of the plan: this is a bug.
                raise ValueError(f"feature {name!r} needs source {source!r}, which was not fetched")
            inputs[source] = project_record(records[source], paths)
        derivation = DERIVATIONS[feature.derivation]
        value = derivation.function(
            DerivationInput(
                MappingProxyType(inputs),
                months,
                feature.params,
                claimed if derivation.compares_identity else None,
            )
        )
        derived[name] = feature.output.generalize(value)
    return derived


# -- utility payments (水电燃气缴费) -------------------------------------------------------
# A source added through the connector plug-in interface (connectors/sources/utility/).

UTILITY = "utility"


@_derivation(
    "ut_on_time_months",
    reads={UTILITY: ["bill_records.paid_on_time"]},
    output="integer",
)
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


@_derivation(
    "ut_in_arrears",
    reads={UTILITY: ["arrears_amount"]},
    output="boolean",
)
def ut_in_arrears(inputs: DerivationInput) -> bool:
    """Whether a utility bill is past due and unpaid now; False without utility accounts."""
    source = inputs.source(UTILITY)
    if not source.found:
        return False
    return source.amount("arrears_amount", source.scalar("arrears_amount")) > 0
