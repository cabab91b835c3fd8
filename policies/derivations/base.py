"""What every derivation shares: its input, checked access to a source's answer, its contract.

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
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, Protocol

from connectors.base import Month, MonthRange, SourceRecord
from gateway.core.errors import SourceUnavailable

SOCIAL_INSURANCE = "social_insurance"
HOUSING_FUND = "housing_fund"
CREDIT_BUREAU = "credit_bureau"
UTILITY = "utility"


class ClaimedIdentity(Protocol):
    """Who the lender says the borrower is: the consent's borrower identity, decrypted."""

    @property
    def name(self) -> str:
        """The claimed name."""
        ...

    @property
    def id_number(self) -> str:
        """The claimed resident ID number."""
        ...

    @property
    def phone(self) -> str:
        """The claimed mobile number."""
        ...


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
    """A derivation and the contract the catalog checker holds features to."""

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


def derivation(
    function: DerivationFunction,
    *,
    reads: Mapping[str, Sequence[str]],
    output: str,
    params: Sequence[str] = (),
    values: Sequence[str] = (),
    nullable: bool = False,
    compares_identity: bool = False,
) -> Derivation:
    """The contract of `function`, named as the function is (the key `features.yaml` uses)."""
    name = function.__name__
    if compares_identity and (output != "boolean" or nullable):
        # Match, don't reveal: anything richer than yes/no could leak the value on file.
        raise RuntimeError(f"identity comparison {name!r} must answer true or false")
    return Derivation(
        name=name,
        function=function,
        reads=MappingProxyType({source: frozenset(paths) for source, paths in reads.items()}),
        output_type=output,
        params=frozenset(params),
        values=tuple(values),
        nullable=nullable,
        compares_identity=compares_identity,
    )


# -- readings shared by several sources ------------------------------------------------


def paid_months(source: SourceReader, list_field: str, months: MonthRange) -> set[Month]:
    """Months of the range with at least one paid record."""
    paid: set[Month] = set()
    for item in source.items(list_field):
        month = source.month(list_field, item)
        if month in months and source.flag(list_field, item, "paid"):
            paid.add(month)
    return paid


def paid_month_count(inputs: DerivationInput, source_name: str, list_field: str) -> int:
    """Months of the range with a paid record in `list_field`; 0 without a record."""
    source = inputs.source(source_name)
    if not source.found:
        return 0
    return len(paid_months(source, list_field, inputs.months))


def continuous_paid_months(inputs: DerivationInput, source_name: str, list_field: str) -> int:
    """Paid months in a row ending at the last month of the range (0 when it is unpaid)."""
    source = inputs.source(source_name)
    if not source.found:
        return 0
    paid = paid_months(source, list_field, inputs.months)
    run = 0
    month = inputs.months.last
    while month in inputs.months and month in paid:
        run += 1
        month = month.shift(-1)
    return run
