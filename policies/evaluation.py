"""Policy evaluation: consent terms against their purpose, and the minimal plan of a release.

Pure functions over a `Catalog`. Terms outside the purpose are a `PurposeViolation`;
a release asking beyond what the borrower consented to is a `PolicyViolation`;
terms or requests that are malformed in themselves are an `InvalidRequest`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from gateway.core.errors import InvalidRequest, PolicyViolation, PurposeViolation
from policies.catalog import (
    FETCH_TYPES,
    FREQUENCY_UNITS,
    Catalog,
    Frequency,
    FrequencyUnit,
    Product,
    Purpose,
)
from policies.values import quoted


@dataclass(frozen=True)
class ConsentTerms:
    """What a consent asks for, as a lender requested it and the borrower approves it."""

    purpose: str
    features: tuple[str, ...]
    fetch_type: str
    frequency_unit: str
    frequency_value: int
    valid_from: datetime
    valid_until: datetime
    data_range_months: int
    data_life_days: int

    @property
    def frequency(self) -> Frequency:
        """The requested release frequency (read only once the terms are well formed)."""
        return Frequency(unit=cast(FrequencyUnit, self.frequency_unit), value=self.frequency_value)


@dataclass(frozen=True)
class ReleasePlan:
    """The features one release derives and exactly the source fields they need."""

    features: tuple[str, ...]
    source_fields: Mapping[str, tuple[str, ...]]
    """Per source, the sorted union of the features' declared fields; unused sources absent."""
    compares_identity: bool = False
    """Whether a feature compares the claimed identity (so the pipeline must open it)."""


def check_terms(catalog: Catalog, terms: ConsentTerms, product: Product | None = None) -> None:
    """Refuse consent terms that are malformed or lie outside their purpose or `product`.

    A product's ceilings apply on top of its purpose's: the terms must fit both.
    """
    purpose = catalog.purpose(terms.purpose)
    _check_well_formed(terms)
    if product is not None and product.purpose != purpose.code:
        raise PurposeViolation(
            f"Product '{product.code}' is for purpose '{product.purpose}', "
            f"not {quoted(terms.purpose)}."
        )
    violations = [
        *_feature_violations(catalog, purpose, terms.features),
        *_term_violations(purpose, f"purpose '{purpose.code}'", terms),
    ]
    if product is not None and not violations:
        violations = product_violations(product, terms.features, terms)
    if violations:
        raise PurposeViolation(" ".join(violations))


def product_violations(product: Product, features: Sequence[str], terms: ConsentTerms) -> list[str]:
    """Each of `features` the product does not offer, and each term beyond its ceilings."""
    violations = []
    if outside := [name for name in features if name not in product.features]:
        violations.append(f"Product '{product.code}' does not offer feature {_names(outside)}.")
    violations.extend(_term_violations(product, f"product '{product.code}'", terms))
    return violations


def plan_release(
    catalog: Catalog,
    purpose: str,
    consented: Sequence[str],
    requested: Sequence[str] | None,
) -> ReleasePlan:
    """The minimal release for `requested` features (None: all consented ones)."""
    allowed = catalog.purpose(purpose)
    if requested is not None and not requested:
        raise InvalidRequest("`features` must name at least one feature or be left out.")
    chosen = sorted(set(consented if requested is None else requested))
    # Checked again at release time, not only at consent: a deployment may have
    # replaced the catalog since the borrower approved.
    if violations := _feature_violations(catalog, allowed, chosen):
        raise PurposeViolation(" ".join(violations))
    if not_consented := [name for name in chosen if name not in consented]:
        raise PolicyViolation(
            f"The consent does not cover {_names(not_consented)}; "
            "ask for a new consent to receive them."
        )
    source_fields: dict[str, set[str]] = {}
    for name in chosen:
        for source, paths in catalog.features[name].source_fields.items():
            source_fields.setdefault(source, set()).update(paths)
    return ReleasePlan(
        features=tuple(chosen),
        source_fields={
            source: tuple(sorted(source_fields[source])) for source in sorted(source_fields)
        },
        compares_identity=any(catalog.features[name].compares_identity for name in chosen),
    )


def _check_well_formed(terms: ConsentTerms) -> None:
    """Terms no purpose could allow because they are not valid terms at all."""
    if terms.fetch_type not in FETCH_TYPES:
        raise InvalidRequest(f"`fetch_type` must be {' or '.join(FETCH_TYPES)}.")
    if terms.frequency_unit not in FREQUENCY_UNITS:
        raise InvalidRequest(f"`frequency.unit` must be one of {', '.join(FREQUENCY_UNITS)}.")
    for term in ("frequency_value", "data_range_months", "data_life_days"):
        value = getattr(terms, term)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise InvalidRequest(f"`{_public_name(term)}` must be a positive whole number.")
    for term in ("valid_from", "valid_until"):
        moment = getattr(terms, term)
        if not isinstance(moment, datetime) or moment.utcoffset() is None:
            raise InvalidRequest(f"`{term}` must be a date-time with a UTC offset.")
    seen: set[str] = set()
    for name in terms.features:
        if name in seen:
            raise InvalidRequest(f"`features` lists {quoted(name)} more than once.")
        seen.add(name)


def _feature_violations(catalog: Catalog, purpose: Purpose, features: Sequence[str]) -> list[str]:
    if not features:
        return [f"`features` is empty; purpose '{purpose.code}' needs at least one feature."]
    unknown = [name for name in features if name not in catalog.features]
    outside = [
        name for name in features if name in catalog.features and name not in purpose.features
    ]
    violations = []
    if unknown:
        violations.append(f"Unknown feature {_names(unknown)}.")
    if outside:
        violations.append(f"Purpose '{purpose.code}' does not allow feature {_names(outside)}.")
    return violations


def _term_violations(purpose: Purpose | Product, owner: str, terms: ConsentTerms) -> list[str]:
    """Each term beyond the ceilings of `purpose` (a purpose or a product, named `owner`)."""
    violations = []
    if terms.fetch_type not in purpose.fetch_types:
        violations.append(
            f"`fetch_type` {terms.fetch_type} is not allowed for {owner} "
            f"(allowed: {', '.join(purpose.fetch_types)})."
        )
    if not terms.frequency.within(purpose.max_frequency):
        violations.append(
            f"`frequency` {terms.frequency} exceeds the maximum of {owner}, "
            f"{purpose.max_frequency} (calendar intervals)."
        )
    validity = terms.valid_until - terms.valid_from
    if validity <= timedelta(0):
        violations.append("`valid_until` must be later than `valid_from`.")
    elif validity > timedelta(days=purpose.max_validity_days):
        violations.append(
            f"The validity period ({_duration(validity)}) exceeds the maximum of "
            f"{owner}, {purpose.max_validity_days} days."
        )
    if terms.data_range_months > purpose.max_data_range_months:
        violations.append(
            f"`data_range_months` {terms.data_range_months} exceeds the maximum of "
            f"{owner}, {purpose.max_data_range_months}."
        )
    if terms.data_life_days > purpose.max_data_life_days:
        violations.append(
            f"`data_life_days` {terms.data_life_days} exceeds the maximum of "
            f"{owner}, {purpose.max_data_life_days}."
        )
    return violations


def _names(names: Sequence[str]) -> str:
    return ", ".join(quoted(name) for name in names)


def _public_name(term: str) -> str:
    return "frequency.value" if term == "frequency_value" else term


def _duration(period: timedelta) -> str:
    days = period / timedelta(days=1)
    # Exact: "30 days" must never describe 30 days and a second.
    shown = f"{days:g}"
    return f"{shown} days" if float(shown) == days else str(period)
