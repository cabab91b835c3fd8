"""A feature's output: its type, and how a derivation's value is generalized before release."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import field
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise
from typing import Annotated, Any, Literal, get_args

from annotated_types import Gt, MinLen
from pydantic import BeforeValidator, Discriminator, StrictBool, StrictStr
from pydantic import dataclasses as pydantic_dataclasses
from pydantic_core import PydanticCustomError

from policies.values import ENTRY, LocalizedText, Names

OutputType = Literal["boolean", "integer", "band", "ratio", "enum"]
OUTPUT_TYPES: tuple[str, ...] = get_args(OutputType)


def _number(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise PydanticCustomError("number", "must be a number")
    return Decimal(str(value))


Number = Annotated[Decimal, BeforeValidator(_number)]


def format_number(number: Decimal) -> str:
    """A band edge as labels write it: no trailing zeros, no exponent."""
    if number == number.to_integral_value():
        return str(int(number))
    return format(number.normalize(), "f")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _decimal(value: int | float | Decimal) -> Decimal:
    return Decimal(str(value)) if isinstance(value, float) else Decimal(value)


def _json_number(number: Decimal) -> int | float:
    return int(number) if number == number.to_integral_value() else float(number)


@pydantic_dataclasses.dataclass(frozen=True, kw_only=True, config=ENTRY)
class Output:
    """A feature's output type and how its value is generalized before release."""

    type: OutputType
    nullable: StrictBool = False

    @property
    def labels(self) -> tuple[str, ...]:
        """Every label a band can take, lowest first (none for other types)."""
        return ()

    def generalize(self, value: Any) -> Any:
        """The JSON-ready released form of a derivation's raw value."""
        if value is None:
            if not self.nullable:
                raise ValueError(f"a {self.type} output without `nullable` cannot be null")
            return None
        generalized = self._generalize(value)
        if generalized is None:
            raise ValueError(
                f"value of type {type(value).__name__} does not fit a {self.type} output"
            )
        return generalized

    def _generalize(self, value: Any) -> Any:
        """The released form of a non-null value, or None when it does not fit the type."""
        return None

    def public_view(self) -> dict[str, Any]:
        """The JSON form shown in the public catalog."""
        return {"type": self.type, "nullable": self.nullable}


ValueLabels = dict[StrictStr, LocalizedText]
"""Plain words for released values, by the value as released (`"true"`, a code, a band)."""


def _labels_view(labels: ValueLabels) -> dict[str, dict[str, str]]:
    return {value: text.as_dict() for value, text in labels.items()}


@pydantic_dataclasses.dataclass(frozen=True, kw_only=True, config=ENTRY)
class BooleanLabels:
    """How the borrower's pages say yes and no for one feature."""

    true: LocalizedText
    false: LocalizedText


@pydantic_dataclasses.dataclass(frozen=True, kw_only=True, config=ENTRY)
class BooleanOutput(Output):
    """A yes/no answer, released as it is."""

    type: Literal["boolean"] = "boolean"
    value_labels: BooleanLabels

    def public_view(self) -> dict[str, Any]:
        """The JSON form shown in the public catalog, with the words for yes and no."""
        labels = self.value_labels
        words = {"true": labels.true.as_dict(), "false": labels.false.as_dict()}
        return {**super().public_view(), "value_labels": words}

    def _generalize(self, value: Any) -> Any:
        return value if isinstance(value, bool) else None


@pydantic_dataclasses.dataclass(frozen=True, kw_only=True, config=ENTRY)
class IntegerOutput(Output):
    """A count, released as it is."""

    type: Literal["integer"] = "integer"
    unit: LocalizedText
    """What is counted (months, times, accounts), as the borrower's pages write it."""

    def public_view(self) -> dict[str, Any]:
        """The JSON form shown in the public catalog, with the unit."""
        return {**super().public_view(), "unit": self.unit.as_dict()}

    def _generalize(self, value: Any) -> Any:
        return value if isinstance(value, int) and not isinstance(value, bool) else None


@pydantic_dataclasses.dataclass(frozen=True, kw_only=True, config=ENTRY)
class BandOutput(Output):
    """A number released as the band it falls in.

    Bands are lower-inclusive, `[lo, hi)`: with edges `[0, 3000, 5000]` the value 3000 is
    `"3000-5000"` and 5000 or more is `"5000+"`; a value below the first edge is `"<lo"`.
    """

    type: Literal["band"] = "band"
    edges: Annotated[tuple[Number, ...], MinLen(2)]
    unit: LocalizedText
    """The unit of the edges (元), as the borrower's pages write it."""
    value_labels: ValueLabels = field(default_factory=dict)
    """Plain words for bands that mean something of their own ("0-1": nothing overdue)."""

    def __post_init__(self) -> None:
        if unknown := [band for band in self.value_labels if band not in self.labels]:
            raise PydanticCustomError(
                "unknown_band", "labels a band it cannot take: {bands}", {"bands": unknown}
            )

    @property
    def labels(self) -> tuple[str, ...]:
        """Every label the band can take, lowest first."""
        edges = [format_number(edge) for edge in self.edges]
        below = (f"<{edges[0]}",) if self.edges[0] > 0 else ()
        return (
            *below,
            *(f"{lo}-{hi}" for lo, hi in pairwise(edges)),
            f"{edges[-1]}+",
        )

    def _generalize(self, value: Any) -> Any:
        if not _is_number(value):
            return None
        number = _decimal(value)
        edges = [format_number(edge) for edge in self.edges]
        # bisect_right keeps a value equal to an edge in the band that starts there.
        index = bisect_right(self.edges, number) - 1
        if index < 0:
            return f"<{edges[0]}"
        if index == len(self.edges) - 1:
            return f"{edges[index]}+"
        return f"{edges[index]}-{edges[index + 1]}"

    def public_view(self) -> dict[str, Any]:
        """The JSON form shown in the public catalog, with the edges and every label."""
        view = super().public_view()
        view["edges"] = [_json_number(edge) for edge in self.edges]
        view["labels"] = list(self.labels)
        view["unit"] = self.unit.as_dict()
        view["value_labels"] = _labels_view(self.value_labels)
        return view


@pydantic_dataclasses.dataclass(frozen=True, kw_only=True, config=ENTRY)
class RatioOutput(Output):
    """A ratio released rounded half-up to a multiple of `step`."""

    type: Literal["ratio"] = "ratio"
    step: Annotated[Number, Gt(0)]

    def _generalize(self, value: Any) -> Any:
        if not _is_number(value):
            return None
        steps = (_decimal(value) / self.step).to_integral_value(rounding=ROUND_HALF_UP)
        return float(steps * self.step)

    def public_view(self) -> dict[str, Any]:
        """The JSON form shown in the public catalog, with the step."""
        return {**super().public_view(), "step": _json_number(self.step)}


@pydantic_dataclasses.dataclass(frozen=True, kw_only=True, config=ENTRY)
class EnumOutput(Output):
    """One of a fixed list of codes, released as it is."""

    type: Literal["enum"] = "enum"
    values: Names
    value_labels: ValueLabels
    """Plain words for every code, for the borrower's pages."""

    def __post_init__(self) -> None:
        missing = [value for value in self.values if value not in self.value_labels]
        unknown = [value for value in self.value_labels if value not in self.values]
        if missing or unknown:
            raise PydanticCustomError(
                "value_labels",
                "must label every value and only those (missing: {missing}; unknown: {unknown})",
                {"missing": missing or "none", "unknown": unknown or "none"},
            )

    def _generalize(self, value: Any) -> Any:
        return value if value in self.values else None

    def public_view(self) -> dict[str, Any]:
        """The JSON form shown in the public catalog, with every code."""
        view = {**super().public_view(), "values": list(self.values)}
        return {**view, "value_labels": _labels_view(self.value_labels)}


AnyOutput = Annotated[
    BooleanOutput | IntegerOutput | BandOutput | RatioOutput | EnumOutput,
    Discriminator("type"),
]
