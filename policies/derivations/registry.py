"""Every derivation a feature may name, gathered from the per-source modules.

The gateway builds the registry once at start-up and hands it to the catalog it loads,
which carries it to every release. The catalog checker holds every feature to its
derivation's declared reads, output type and parameters, so a feature can neither fetch
a field its derivation ignores nor release a raw value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

from policies.derivations import (
    credit_bureau,
    cross_source,
    housing_fund,
    identity,
    social_insurance,
    utility,
)
from policies.derivations.base import Derivation


def build_registry(*groups: Iterable[Derivation]) -> Mapping[str, Derivation]:
    """The derivations of `groups` by name, read-only; a name given twice is refused."""
    registry: dict[str, Derivation] = {}
    for group in groups:
        for derivation in group:
            if derivation.name in registry:
                raise RuntimeError(f"derivation {derivation.name!r} registered twice")
            registry[derivation.name] = derivation
    return MappingProxyType(registry)


def shipped_derivations() -> Mapping[str, Derivation]:
    """Every derivation the shipped gateway knows, by name."""
    return build_registry(
        social_insurance.DERIVATIONS,
        housing_fund.DERIVATIONS,
        cross_source.DERIVATIONS,
        credit_bureau.DERIVATIONS,
        identity.DERIVATIONS,
        utility.DERIVATIONS,
    )
