"""Releasing features: each derivation sees only its feature's fields, then is generalized."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from connectors.base import MonthRange, SourceRecord
from policies.catalog import Catalog
from policies.derivations.base import ClaimedIdentity, DerivationInput

ITEM_KEYS = frozenset({"month", "date"})
"""Keys a source always keeps in the items of a list kept by month or date."""


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
        derivation = catalog.derivations[feature.derivation]
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
