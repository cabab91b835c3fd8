"""The public catalog as lenders read it (`GET /v1/catalog`), for OpenAPI and validation.

`Catalog.public_view()` builds the document; these models describe it field by field.
Keys that do not apply to an output type (band `edges`, ratio `step`, enum `values`)
are left out of the document rather than sent as null.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from policies.catalog import DataClass, FetchType, FrequencyUnit
from policies.outputs import OutputType


class LocalizedTextView(BaseModel):
    """Text in Chinese and English."""

    zh: str = Field(description="In Chinese.")
    en: str = Field(description="In English.")


class FrequencyView(BaseModel):
    """At most `value` releases per calendar `unit`."""

    unit: FrequencyUnit = Field(description="The calendar period the limit counts in.")
    value: int = Field(description="Releases allowed per period.")


class OutputView(BaseModel):
    """A feature's output type and how its value is generalized before release."""

    type: OutputType = Field(description="The shape of the released value.")
    nullable: bool = Field(description="Whether the value is null when the sources hold nothing.")
    edges: list[int | float] | None = Field(
        None, description="Band edges, lowest first; bands are lower-inclusive, [lo, hi)."
    )
    labels: list[str] | None = Field(None, description="Every label a band can take.")
    step: float | None = Field(None, description="A ratio is rounded half-up to this step.")
    values: list[str] | None = Field(None, description="Every code an enum can take.")
    unit: LocalizedTextView | None = Field(
        None, description="What a count counts or a band measures (元), in plain words."
    )
    value_labels: dict[str, LocalizedTextView] | None = Field(
        None,
        description="Plain words for released values, by the value as released: `true` and "
        "`false`, every enum code, and bands that mean something of their own.",
    )


class FeatureView(BaseModel):
    """A value the gateway can release, what it reads and how it is generalized."""

    name: str = Field(description="The feature's code, as a consent names it.")
    description: LocalizedTextView = Field(
        description="What the feature is, for the lender's developers."
    )
    label: LocalizedTextView = Field(description="A short plain name, for the borrower.")
    explanation: LocalizedTextView = Field(description="What the value says, for the borrower.")
    sources: list[str] = Field(description="The sources it reads.")
    source_fields: dict[str, list[str]] = Field(
        description="Per source, exactly the fields fetched for this feature (`a.b`: key b "
        "of the items of list a). An empty list asks only whether the source holds the person."
    )
    params: dict[str, int] = Field(description="Derivation parameters, e.g. `window_months`.")
    output: OutputView = Field(description="Its output type and how the value is generalized.")
    data_class: DataClass = Field(
        description="JR/T 0171-2020 class of the inputs (C3 most sensitive)."
    )
    compares_identity: bool = Field(
        description="Match, don't reveal: compares the claimed identity, answers true/false."
    )


class CeilingsView(BaseModel):
    """The ceilings on every term of a consent for a purpose or product."""

    fetch_types: list[FetchType] = Field(
        description="How a consent may let the lender fetch: once, or periodically."
    )
    max_validity_days: int = Field(description="The longest a consent may hold, in days.")
    max_frequency: FrequencyView = Field(
        description="The most releases a consent may allow per period."
    )
    max_data_range_months: int = Field(
        description="The furthest back a consent may read, in months."
    )
    max_data_life_days: int = Field(
        description="The longest a lender may keep released data, in days."
    )


class PurposeView(CeilingsView):
    """Why a lender may ask, what it may ask for, and the ceilings on every consent term."""

    code: str = Field(description="The purpose's code, as a consent request names it.")
    title: LocalizedTextView = Field(description="Its name.")
    notice: LocalizedTextView = Field(description="What the borrower reads before approving.")
    why: LocalizedTextView = Field(
        description="Why the lender asks, without numbers or data: the consent page adds the "
        "consent's own terms and features."
    )
    legal_basis: str = Field(description="The legal ground it rests on (PIPL Art. 13).")
    features: list[str] = Field(description="The features a consent for this purpose may name.")
    sources: list[str] = Field(description="Every source those features read.")


class SourceView(BaseModel):
    """A source system the catalog reads."""

    name: str = Field(description="The source's code.")
    title: LocalizedTextView = Field(description="Its name.")
    retention_months: int = Field(
        description="How far back the source answers; no purpose's data range reaches further."
    )


class ProductView(CeilingsView):
    """A lender's own product: a base purpose narrowed, with its own name and notice."""

    code: str = Field(description="The product's code, as a consent request names it.")
    title: LocalizedTextView = Field(description="Its name.")
    notice: LocalizedTextView = Field(description="What the borrower reads before approving.")
    purpose: str = Field(description="The base purpose it narrows.")
    features: list[str] = Field(description="The features a consent for this product may name.")
    sources: list[str] = Field(description="Every source those features read.")
    version: str = Field(description="`sha256:` + hex SHA-256 of the document declaring it.")


class CatalogView(BaseModel):
    """Every purpose and feature in force, and the version releases are stamped with."""

    policy_version: str = Field(
        description="`sha256:` + hex SHA-256 of features.yaml, purposes.yaml, then every "
        "lender's products file; "
        "every release payload and consent audit event carries it."
    )
    purposes: list[PurposeView] = Field(description="Every purpose in force.")
    features: list[FeatureView] = Field(description="Every feature in force.")
    sources: list[SourceView] = Field(description="Every source the features read.")
    products: list[ProductView] = Field(
        default_factory=list,
        description="The calling lender's own products (empty without a lender's token).",
    )
