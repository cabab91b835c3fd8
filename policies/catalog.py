"""The purpose and feature catalogs: the policy every consent and release is judged against.

Both catalogs live in YAML (`features.yaml`, `purposes.yaml`) so that an institution can
ship its own products and ceilings (`LENDGATE_POLICY_DIR`). The models below are the shape
of every entry: loading (`policies.loading`) validates each entry against them, then holds
it to the connector schemas, the sources' retention and the derivation registry.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, get_args

from annotated_types import MinLen
from pydantic import AfterValidator, BeforeValidator, Field
from pydantic import dataclasses as pydantic_dataclasses

from connectors.registry import load_sources
from gateway.core.errors import PurposeViolation
from policies.derivations.base import CREDIT_BUREAU, Derivation
from policies.outputs import AnyOutput
from policies.values import (
    ENTRY,
    Fields,
    LocalizedText,
    Name,
    Names,
    PositiveInt,
    Text,
    distinct,
    quoted,
)

FetchType = Literal["ONETIME", "PERIODIC"]
FrequencyUnit = Literal["DAY", "MONTH", "YEAR"]
DataClass = Literal["C1", "C2", "C3"]
"""JR/T 0171-2020 classes of personal financial information (C3 most sensitive)."""

FETCH_TYPES: tuple[str, ...] = get_args(FetchType)
FREQUENCY_UNITS: tuple[str, ...] = get_args(FrequencyUnit)
DATA_CLASSES: tuple[str, ...] = get_args(DataClass)

# The most intervals of a finer unit that fit in one interval of a coarser one.
_INTERVALS_WITHIN = {("DAY", "MONTH"): 31, ("DAY", "YEAR"): 366, ("MONTH", "YEAR"): 12}


def _stripped(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


@pydantic_dataclasses.dataclass(frozen=True, config=ENTRY)
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


@pydantic_dataclasses.dataclass(frozen=True, kw_only=True, config=ENTRY)
class FeatureEntry:
    """A feature as `features.yaml` declares it."""

    name: Name
    description: LocalizedText
    label: LocalizedText
    """A short plain name for the borrower's pages (the description is for lenders)."""
    explanation: LocalizedText
    """What the value says, in plain words for the borrower."""
    sources: Names
    source_fields: Annotated[dict[str, Fields], MinLen(1)]
    derivation: Text
    params: dict[str, PositiveInt] = Field(default_factory=dict)
    output: AnyOutput
    data_class: Annotated[DataClass, BeforeValidator(_stripped)]


@pydantic_dataclasses.dataclass(frozen=True, kw_only=True, config=ENTRY)
class Feature(FeatureEntry):
    """A value the gateway can release: what it reads, how it is derived and generalized."""

    compares_identity: bool = False
    """Match, don't reveal: compares `name`/`phone` with the claimed identity, answers yes/no."""

    def public_view(self) -> dict[str, Any]:
        """The JSON form shown in the public catalog."""
        return {
            "name": self.name,
            "description": self.description.as_dict(),
            "label": self.label.as_dict(),
            "explanation": self.explanation.as_dict(),
            "sources": list(self.sources),
            "source_fields": {source: list(paths) for source, paths in self.source_fields.items()},
            "params": dict(self.params),
            "output": self.output.public_view(),
            "data_class": self.data_class,
            "compares_identity": self.compares_identity,
        }


def ceilings_view(limits: PurposeEntry | Product) -> dict[str, Any]:
    """The JSON form of a purpose's or product's fetch types and ceilings."""
    return {
        "fetch_types": list(limits.fetch_types),
        "max_validity_days": limits.max_validity_days,
        "max_frequency": {"unit": limits.max_frequency.unit, "value": limits.max_frequency.value},
        "max_data_range_months": limits.max_data_range_months,
        "max_data_life_days": limits.max_data_life_days,
    }


@pydantic_dataclasses.dataclass(frozen=True, kw_only=True, config=ENTRY)
class PurposeEntry:
    """A purpose as `purposes.yaml` declares it."""

    code: Name
    title: LocalizedText
    notice: LocalizedText
    why: LocalizedText
    """Why the lender asks, for the borrower's pages: no numbers and no data, which the
    page takes from the consent's own terms and features."""
    legal_basis: Text
    features: Names
    fetch_types: Annotated[tuple[FetchType, ...], MinLen(1), AfterValidator(distinct)]
    max_validity_days: PositiveInt
    max_frequency: Frequency
    max_data_range_months: PositiveInt
    max_data_life_days: PositiveInt


@pydantic_dataclasses.dataclass(frozen=True, kw_only=True, config=ENTRY)
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
            "why": self.why.as_dict(),
            "legal_basis": self.legal_basis,
            "features": list(self.features),
            "sources": list(self.sources),
            **ceilings_view(self),
        }


@pydantic_dataclasses.dataclass(frozen=True, kw_only=True, config=ENTRY)
class ProductEntry:
    """A lender's product as `products/<client name>.yaml` declares it.

    A product narrows one base purpose: its own title and notice, a subset of the
    purpose's features (and of the sources they read), and ceilings that are left out
    (the purpose's apply) or set no wider than the purpose's.
    """

    code: Name
    title: LocalizedText
    notice: LocalizedText
    purpose: Name
    features: Names
    sources: Names | None = None
    fetch_types: Annotated[tuple[FetchType, ...], MinLen(1), AfterValidator(distinct)] | None = None
    max_validity_days: PositiveInt | None = None
    max_frequency: Frequency | None = None
    max_data_range_months: PositiveInt | None = None
    max_data_life_days: PositiveInt | None = None


@pydantic_dataclasses.dataclass(frozen=True, kw_only=True, config=ENTRY)
class Product:
    """A lender client's own product: a base purpose narrowed, every ceiling resolved."""

    client: str
    """The name of the lender client the product belongs to."""
    code: Name
    title: LocalizedText
    notice: LocalizedText
    purpose: Name
    features: Names
    sources: tuple[str, ...]
    fetch_types: tuple[FetchType, ...]
    max_validity_days: PositiveInt
    max_frequency: Frequency
    max_data_range_months: PositiveInt
    max_data_life_days: PositiveInt
    version: str
    """`sha256:` + hex SHA-256 of the file (or registered document) that declared it."""

    @classmethod
    def from_view(cls, client: str, view: Mapping[str, Any]) -> Product:
        """The product again from its `public_view()` (as a consent keeps it)."""
        return cls(client=client, **{key: view[key] for key in _PRODUCT_VIEW_KEYS})

    def public_view(self) -> dict[str, Any]:
        """The JSON form shown to the lender that owns it."""
        return {
            "code": self.code,
            "title": self.title.as_dict(),
            "notice": self.notice.as_dict(),
            "purpose": self.purpose,
            "features": list(self.features),
            "sources": list(self.sources),
            **ceilings_view(self),
            "version": self.version,
        }


_PRODUCT_VIEW_KEYS = (
    "code",
    "title",
    "notice",
    "purpose",
    "features",
    "sources",
    "fetch_types",
    "max_validity_days",
    "max_frequency",
    "max_data_range_months",
    "max_data_life_days",
    "version",
)


@dataclass(frozen=True)
class Catalog:
    """Every purpose and feature in force, the derivations they use, and the version."""

    purposes: Mapping[str, Purpose]
    features: Mapping[str, Feature]
    version: str
    derivations: Mapping[str, Derivation]
    """The derivation registry the features were checked against, by name."""
    products: Mapping[str, Mapping[str, Product]] = field(default_factory=dict)
    """Each lender client's products from the policy folder, by client name, then code."""

    def client_products(self, client: str) -> Mapping[str, Product]:
        """The products the policy folder declares for the client named `client`."""
        return self.products.get(client, {})

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

    def reads_credit_report(self, features: Iterable[str]) -> bool:
        """Whether any of `features` reads the credit report (征信), which needs the
        borrower's written authorization and leaves a query record."""
        return any(
            CREDIT_BUREAU in self.features[name].sources
            for name in features
            if name in self.features
        )

    def public_view(self, products: Iterable[Product] = ()) -> dict[str, Any]:
        """The JSON document `GET /v1/catalog` serves; `products` are the caller's own."""
        used = {source for feature in self.features.values() for source in feature.sources}
        sources = load_sources()
        return {
            "policy_version": self.version,
            "purposes": [purpose.public_view() for purpose in self.purposes.values()],
            "features": [feature.public_view() for feature in self.features.values()],
            "sources": [
                {
                    "name": source,
                    "title": sources[source].title,
                    "retention_months": sources[source].retention_months,
                }
                for source in sources
                if source in used
            ],
            "products": [product.public_view() for product in products],
        }


def catalog_version(
    features_yaml: bytes, purposes_yaml: bytes, products: Mapping[str, bytes] | None = None
) -> str:
    """`sha256:` + hex SHA-256 over the features file's bytes, then the purposes file's.

    Product files (by client name) follow, each as its name and its bytes: a folder
    without products keeps the version of its two catalogs alone.
    """
    digest = hashlib.sha256(features_yaml + purposes_yaml)
    for client in sorted(products or {}):
        data = (products or {})[client]
        digest.update(b"\0products/" + client.encode() + b"\0" + str(len(data)).encode() + b"\0")
        digest.update(data)
    return "sha256:" + digest.hexdigest()


def document_version(data: bytes) -> str:
    """`sha256:` + hex SHA-256 of one document (a product file or registered product)."""
    return "sha256:" + hashlib.sha256(data).hexdigest()
