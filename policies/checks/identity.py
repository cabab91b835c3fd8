"""Identity fields and raw values: no feature may ever output a raw identifier.

An identity field (`name`, `phone`) is allowed to exactly one kind of derivation: an
identity comparison, which answers true/false and never the value.
"""

from __future__ import annotations

from connectors.schemas import IDENTITY_FIELDS

RAW_DERIVATIONS = frozenset({"identity", "passthrough", "raw", "copy"})
"""Derivation names that would hand a source value over unchanged; always refused."""


def identifier_problem(what: str, source: str, path: str, compares_identity: bool) -> str | None:
    """The problem with a feature reading `source.path` when it is an identity field."""
    if path.split(".")[-1] not in IDENTITY_FIELDS or compares_identity:
        return None
    return (
        f"{what} reads the identifier `{source}.{path}`; "
        "a feature must never output a raw identifier "
        "(only an identity comparison may read it, to answer true/false)."
    )


def raw_derivation_problem(what: str, derivation: str) -> str | None:
    """The problem with a feature naming a derivation that hands a value over unchanged."""
    if derivation not in RAW_DERIVATIONS:
        return None
    return (
        f"{what} uses the raw derivation `{derivation}`; "
        "a feature must never output a raw identifier or source value."
    )
