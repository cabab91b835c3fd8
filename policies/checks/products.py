"""Products: a lender's product only ever narrows its base purpose.

A product names one purpose and may keep fewer of its features, fewer of the sources
they read, fewer fetch types and lower ceilings; never a feature, a source or a term
the purpose does not allow. Each problem is placed on the line that widens.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import fields
from typing import Any

from pydantic import TypeAdapter

from connectors.registry import load_sources
from policies.catalog import Feature, Product, ProductEntry, Purpose, document_version
from policies.checks.structure import entry_name, validate
from policies.lines import CatalogFile, LineMap, line_at
from policies.values import is_name

PRODUCTS_KEY = "products"
_PRODUCT_ENTRY = TypeAdapter(ProductEntry)
_CEILINGS = ("max_validity_days", "max_data_range_months", "max_data_life_days")


def check_products(
    file: CatalogFile,
    client: str,
    purposes: Mapping[str, Purpose],
    features: Mapping[str, Feature],
    declared_purposes: Collection[str] = (),
) -> dict[str, Product]:
    """The sound products of `client` in `file`, each problem recorded on its line.

    `purposes` and `features` are the sound base catalog; a purpose in `declared_purposes`
    that is not sound has had its own problems reported, so products naming it are skipped.
    """
    products: dict[str, Product] = {}
    seen: set[str] = set()
    version = document_version(file.data)
    for node, line in file.entries(PRODUCTS_KEY):
        what = entry_name(node, "code", "product", line)
        code = node.get("code")
        if is_name(code):
            if code in seen:
                file.problem(node.line_of("code"), f"{what} is declared twice.")
            seen.add(code)
        entry = validate(file, _PRODUCT_ENTRY, node, what)
        if entry is None:
            continue
        purpose = purposes.get(entry.purpose)
        if purpose is None:
            if entry.purpose not in declared_purposes:
                file.problem(
                    node.line_of("purpose"),
                    f"{what} narrows `{entry.purpose}`, which purposes.yaml does not declare.",
                )
            continue
        if _narrows(file, node, what, entry, purpose, features) and entry.code not in products:
            products[entry.code] = _resolved(client, entry, purpose, features, version)
    return products


def _narrows(
    file: CatalogFile,
    node: LineMap,
    what: str,
    entry: ProductEntry,
    purpose: Purpose,
    features: Mapping[str, Feature],
) -> bool:
    """Whether every feature, source, fetch type and ceiling of the product stays inside."""
    base = f"purpose `{purpose.code}`"
    problems: list[tuple[int, str]] = []
    for index, name in enumerate(entry.features):
        line = line_at(node, ["features", index], node.line)
        if name not in features:
            problems.append((line, f"{what} lists `{name}`, which features.yaml does not declare."))
        elif name not in purpose.features:
            problems.append(
                (line, f"{what} adds the feature `{name}`, which {base} does not allow.")
            )
    for index, source in enumerate(entry.sources or ()):
        line = line_at(node, ["sources", index], node.line)
        if source not in load_sources():
            problems.append((line, f"{what} names an unknown source `{source}`."))
        elif source not in purpose.sources:
            problems.append(
                (line, f"{what} adds the source `{source}`, which {base} does not read.")
            )
    if entry.sources is not None:
        for index, name in enumerate(entry.features):
            outside = [s for s in _sources_of(features, name) if s not in entry.sources]
            if outside and name in purpose.features:
                problems.append(
                    (
                        line_at(node, ["features", index], node.line),
                        f"{what} keeps `{name}`, which reads `{outside[0]}`, a source "
                        "its `sources` leaves out.",
                    )
                )
    for index, fetch_type in enumerate(entry.fetch_types or ()):
        if fetch_type not in purpose.fetch_types:
            problems.append(
                (
                    line_at(node, ["fetch_types", index], node.line),
                    f"{what} adds the fetch type {fetch_type}, which {base} does not allow.",
                )
            )
    for ceiling in _CEILINGS:
        value, limit = getattr(entry, ceiling), getattr(purpose, ceiling)
        if value is not None and value > limit:
            problems.append(
                (
                    node.line_of(ceiling),
                    f"{what} `{ceiling}` of {value} widens {base}'s {limit}.",
                )
            )
    if entry.max_frequency is not None and not entry.max_frequency.within(purpose.max_frequency):
        problems.append(
            (
                node.line_of("max_frequency"),
                f"{what} `max_frequency` of {entry.max_frequency} widens {base}'s "
                f"{purpose.max_frequency}.",
            )
        )
    for line, message in problems:
        file.problem(line, message)
    return not problems


def _sources_of(features: Mapping[str, Feature], name: str) -> tuple[str, ...]:
    feature = features.get(name)
    return feature.sources if feature is not None else ()


def _resolved(
    client: str,
    entry: ProductEntry,
    purpose: Purpose,
    features: Mapping[str, Feature],
    version: str,
) -> Product:
    """The product with the purpose's ceilings filled in where it keeps them."""
    declared: dict[str, Any] = {field.name: getattr(entry, field.name) for field in fields(entry)}
    for key, value in declared.items():
        if value is None:
            declared[key] = getattr(purpose, key)
    read = {source for name in entry.features for source in _sources_of(features, name)}
    declared["sources"] = tuple(source for source in purpose.sources if source in read)
    return Product(client=client, **declared, version=version)
