"""The purpose and feature catalogs: the policy every consent and release is judged against.

Both catalogs live in YAML (`features.yaml`, `purposes.yaml`) so that an institution can
ship its own products and ceilings (`LENDGATE_POLICY_DIR`). The models below are the shape
of every entry: loading (`policies.loading`) validates each entry against them, then holds
it to the connector schemas, the sources' retention and the derivation registry.
"""

from __future__ import annotations

import hashlib
import re
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise
from typing import Annotated, Any, Literal, TypeGuard, get_args

from annotated_types import Gt, MinLen
from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Strict,
    StrictBool,
    StrictStr,
    StringConstraints,
)
from pydantic import dataclasses as pydantic_dataclasses
from pydantic_core import PydanticCustomError

from connectors.schemas import SOURCE_RETENTION_MONTHS, SOURCE_SCHEMAS, SOURCE_TITLES
from gateway.core.errors import PurposeViolation
from policies.derivations.base import Derivation

FetchType = Literal["ONETIME", "PERIODIC"]
FrequencyUnit = Literal["DAY", "MONTH", "YEAR"]
OutputType = Literal["boolean", "integer", "band", "ratio", "enum"]
DataClass = Literal["C1", "C2", "C3"]
"""JR/T 0171-2020 classes of personal financial information (C3 most sensitive)."""

FETCH_TYPES: tuple[str, ...] = get_args(FetchType)
FREQUENCY_UNITS: tuple[str, ...] = get_args(FrequencyUnit)
OUTPUT_TYPES: tuple[str, ...] = get_args(OutputType)
DATA_CLASSES: tuple[str, ...] = get_args(DataClass)

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
_NAME = re.compile(NAME_PATTERN)

# The most intervals of a finer unit that fit in one interval of a coarser one.
_INTERVALS_WITHIN = {("DAY", "MONTH"): 31, ("DAY", "YEAR"): 366, ("MONTH", "YEAR"): 12}


def quoted(value: object) -> str:
    """A caller-supplied name for an error detail, or a placeholder when it is not a name."""
    # Details are logged and echoed: free text might carry personal data, so only
    # identifier-shaped values are repeated back.
    if isinstance(value, str) and _NAME.match(value):
        return f"'{value}'"
    return "(an unrecognized value)"


def is_name(value: object) -> TypeGuard[str]:
    """Whether `value` is a lower_snake_case name (a feature name or purpose code)."""
    return isinstance(value, str) and _NAME.match(value) is not None


def _distinct(items: tuple[str, ...]) -> tuple[str, ...]:
    repeated = [index for index, item in enumerate(items) if item in items[:index]]
    if repeated:
        raise PydanticCustomError("repeated", "lists an item twice", {"repeated": repeated})
    return items


def _number(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise PydanticCustomError("number", "must be a number")
    return Decimal(str(value))


def _stripped(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


Name = Annotated[str, StringConstraints(strict=True, pattern=NAME_PATTERN)]
Text = Annotated[str, StringConstraints(strict=True, strip_whitespace=True, min_length=1)]
PositiveInt = Annotated[int, Strict(), Gt(0)]
Names = Annotated[tuple[StrictStr, ...], MinLen(1), AfterValidator(_distinct)]
Fields = Annotated[tuple[StrictStr, ...], AfterValidator(_distinct)]
Number = Annotated[Decimal, BeforeValidator(_number)]


_ENTRY = ConfigDict(extra="forbid")
"""Catalog entries refuse unknown keys; each is validated on construction and read-only."""


@pydantic_dataclasses.dataclass(frozen=True, kw_only=True, config=_ENTRY)
class LocalizedText:
    """Text a borrower or lender reads, in Chinese and English."""

    zh: Text
    en: Text

    def as_dict(self) -> dict[str, str]:
        """The JSON form, `{"zh": ..., "en": ...}`."""
        return {"zh": self.zh, "en": self.en}


@pydantic_dataclasses.dataclass(frozen=True, config=_ENTRY)
class Frequency:
    """At most `value` releases per calendar `unit` (DAY, MONTH or YEAR)."""

    unit: FrequencyUnit
    value: PositiveInt

    def within(self, maximum: Frequency) -> bool:
        """Whether every release pattern this frequency allows is also allowed by `maximum`.

        Intervals are calendar intervals, so a coarser frequency may spend its whole budget
        inside one interval of the maximum's unit (12 per YEAR can mean 12 in one month);
        a finer one adds up over the most intervals that fit (1 per DAY is 31 in a month).
        Either way the comparison is in the maximum's unit, and strict rate order holds:
        DAY is faster than MONTH, which is faster than YEAR.
        """
        own = FREQUENCY_UNITS.index(self.unit)
        limit = FREQUENCY_UNITS.index(maximum.unit)
        if own >= limit:
            return self.value <= maximum.value
        return self.value * _INTERVALS_WITHIN[(self.unit, maximum.unit)] <= maximum.value

    def __str__(self) -> str:
        return f"{self.value} per {self.unit}"


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


@pydantic_dataclasses.dataclass(frozen=True, kw_only=True, config=_ENTRY)
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


@pydantic_dataclasses.dataclass(frozen=True, kw_only=True, config=_ENTRY)
class BooleanOutput(Output):
    """A yes/no answer, released as it is."""

    type: Literal["boolean"] = "boolean"

    def _generalize(self, value: Any) -> Any:
        return value if isinstance(value, bool) else None


@pydantic_dataclasses.dataclass(frozen=True, kw_only=True, config=_ENTRY)
class IntegerOutput(Output):
    """A count, released as it is."""

    type: Literal["integer"] = "integer"

    def _generalize(self, value: Any) -> Any:
        return value if isinstance(value, int) and not isinstance(value, bool) else None


@pydantic_dataclasses.dataclass(frozen=True, kw_only=True, config=_ENTRY)
class BandOutput(Output):
    """A number released as the band it falls in.

    Bands are lower-inclusive, `[lo, hi)`: with edges `[0, 3000, 5000]` the value 3000 is
    `"3000-5000"` and 5000 or more is `"5000+"`; a value below the first edge is `"<lo"`.
    """

    type: Literal["band"] = "band"
    edges: Annotated[tuple[Number, ...], MinLen(2)]

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
        return view


@pydantic_dataclasses.dataclass(frozen=True, kw_only=True, config=_ENTRY)
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


@pydantic_dataclasses.dataclass(frozen=True, kw_only=True, config=_ENTRY)
class EnumOutput(Output):
    """One of a fixed list of codes, released as it is."""

    type: Literal["enum"] = "enum"
    values: Names

    def _generalize(self, value: Any) -> Any:
        return value if value in self.values else None

    def public_view(self) -> dict[str, Any]:
        """The JSON form shown in the public catalog, with every code."""
        return {**super().public_view(), "values": list(self.values)}


AnyOutput = Annotated[
    BooleanOutput | IntegerOutput | BandOutput | RatioOutput | EnumOutput,
    Discriminator("type"),
]


@pydantic_dataclasses.dataclass(frozen=True, kw_only=True, config=_ENTRY)
class FeatureEntry:
    """A feature as `features.yaml` declares it."""

    name: Name
    description: LocalizedText
    sources: Names
    source_fields: Annotated[dict[str, Fields], MinLen(1)]
    derivation: Text
    params: dict[str, PositiveInt] = Field(default_factory=dict)
    output: AnyOutput
    data_class: Annotated[DataClass, BeforeValidator(_stripped)]


@pydantic_dataclasses.dataclass(frozen=True, kw_only=True, config=_ENTRY)
class Feature(FeatureEntry):
    """A value the gateway can release: what it reads, how it is derived and generalized."""

    compares_identity: bool = False
    """Match, don't reveal: compares `name`/`phone` with the claimed identity, answers yes/no."""

    def public_view(self) -> dict[str, Any]:
        """The JSON form shown in the public catalog."""
        return {
            "name": self.name,
            "description": self.description.as_dict(),
            "sources": list(self.sources),
            "source_fields": {source: list(paths) for source, paths in self.source_fields.items()},
            "params": dict(self.params),
            "output": self.output.public_view(),
            "data_class": self.data_class,
            "compares_identity": self.compares_identity,
        }


@pydantic_dataclasses.dataclass(frozen=True, kw_only=True, config=_ENTRY)
class PurposeEntry:
    """A purpose as `purposes.yaml` declares it."""

    code: Name
    title: LocalizedText
    notice: LocalizedText
    legal_basis: Text
    features: Names
    fetch_types: Annotated[tuple[FetchType, ...], MinLen(1), AfterValidator(_distinct)]
    max_validity_days: PositiveInt
    max_frequency: Frequency
    max_data_range_months: PositiveInt
    max_data_life_days: PositiveInt


@pydantic_dataclasses.dataclass(frozen=True, kw_only=True, config=_ENTRY)
class Purpose(PurposeEntry):
    """Why a lender may ask: the features allowed and the ceilings on every consent term."""

    sources: tuple[str, ...] = ()
    """Every source its features read, in catalog order."""

    def public_view(self) -> dict[str, Any]:
        """The JSON form shown in the public catalog."""
        return {
            "code": self.code,
            "title": self.title.as_dict(),
            "notice": self.notice.as_dict(),
            "legal_basis": self.legal_basis,
            "features": list(self.features),
            "sources": list(self.sources),
            "fetch_types": list(self.fetch_types),
            "max_validity_days": self.max_validity_days,
            "max_frequency": {"unit": self.max_frequency.unit, "value": self.max_frequency.value},
            "max_data_range_months": self.max_data_range_months,
            "max_data_life_days": self.max_data_life_days,
        }


@dataclass(frozen=True)
class Catalog:
    """Every purpose and feature in force, the derivations they use, and the version."""

    purposes: Mapping[str, Purpose]
    features: Mapping[str, Feature]
    version: str
    derivations: Mapping[str, Derivation]
    """The derivation registry the features were checked against, by name."""

    def purpose(self, code: str) -> Purpose:
        """The purpose `code`; an unknown purpose is a `PurposeViolation`."""
        try:
            return self.purposes[code]
        except (KeyError, TypeError):
            raise PurposeViolation(f"Unknown purpose {quoted(code)}.") from None

    def feature(self, name: str) -> Feature:
        """The feature `name`; an unknown feature is a `PurposeViolation`."""
        try:
            return self.features[name]
        except (KeyError, TypeError):
            raise PurposeViolation(f"Unknown feature {quoted(name)}.") from None

    def public_view(self) -> dict[str, Any]:
        """The JSON document `GET /v1/catalog` serves."""
        used = {source for feature in self.features.values() for source in feature.sources}
        return {
            "policy_version": self.version,
            "purposes": [purpose.public_view() for purpose in self.purposes.values()],
            "features": [feature.public_view() for feature in self.features.values()],
            "sources": [
                {
                    "name": source,
                    "title": dict(SOURCE_TITLES.get(source, {"zh": source, "en": source})),
                    "retention_months": SOURCE_RETENTION_MONTHS[source],
                }
                for source in SOURCE_SCHEMAS
                if source in used
            ],
        }


def catalog_version(features_yaml: bytes, purposes_yaml: bytes) -> str:
    """`sha256:` + hex SHA-256 over the features file's bytes, then the purposes file's."""
    return "sha256:" + hashlib.sha256(features_yaml + purposes_yaml).hexdigest()
