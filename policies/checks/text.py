"""Free text: a field that may carry anything, personal data included, is never read."""

from __future__ import annotations

from connectors.schemas import FREE_TEXT_FIELDS


def free_text_problem(what: str, source: str, path: str) -> str | None:
    """The problem with a feature reading `source.path` when it is a free-text field."""
    if path.split(".")[-1] not in FREE_TEXT_FIELDS:
        return None
    return (
        f"{what} reads the free-text field `{source}.{path}`, which may carry "
        "anything, personal data included; no feature may read it."
    )
