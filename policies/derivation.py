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
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from connectors.base import Month, MonthRange, SourceRecord
from gateway.errors import SourceUnavailable

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

    def source(self, name: str) -> SourceReader:
        """Checked access to one source's answer."""
        return SourceReader(self.records[name])

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
) -> Callable[[DerivationFunction], DerivationFunction]:
    def register(function: DerivationFunction) -> DerivationFunction:
        if name in _REGISTRY:
            raise RuntimeError(f"derivation {name!r} registered twice")
        _REGISTRY[name] = Derivation(
            name=name,
            function=function,
            reads=MappingProxyType({source: frozenset(paths) for source, paths in reads.items()}),
            output_type=output,
            params=frozenset(params),
            values=tuple(values),
            nullable=nullable,
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


def _credit_accounts(source: SourceReader) -> list[tuple[str, Mapping[str, Any]]]:
    """Every loan and card account, each with the list it came from."""
    return [("loan_accounts", account) for account in source.items("loan_accounts")] + [
        ("card_accounts", account) for account in source.items("card_accounts")
    ]


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
    social_insurance = inputs.source(SOCIAL_INSURANCE)
    housing_fund = inputs.source(HOUSING_FUND)
    bases = [
        _latest_paid_si_base(social_insurance, inputs.months) if social_insurance.found else None,
        _current_hf_base(housing_fund) if housing_fund.found else None,
    ]
    known = [base for base in bases if base is not None]
    return max(known) if known else None


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
    worst = -1
    for list_field, account in _credit_accounts(source):
        five_class = account.get("five_class")
        if not isinstance(five_class, str) or five_class not in FIVE_CLASSES:
            raise source.malformed(f"{list_field}.five_class")
        worst = max(worst, FIVE_CLASSES.index(five_class))
    return FIVE_CLASSES[worst] if worst >= 0 else "NONE"


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
) -> dict[str, Any]:
    """Derive and generalize `features` from the sources' answers over the data range."""
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
        value = DERIVATIONS[feature.derivation].function(
            DerivationInput(MappingProxyType(inputs), months, feature.params)
        )
        derived[name] = feature.output.generalize(value)
    return derived
