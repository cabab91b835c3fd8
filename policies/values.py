"""The kinds of value a catalog entry holds: names, texts, counts and lists of names."""

from __future__ import annotations

import re
from typing import Annotated, TypeGuard

from annotated_types import Gt, MinLen
from pydantic import AfterValidator, ConfigDict, Strict, StrictStr, StringConstraints
from pydantic import dataclasses as pydantic_dataclasses
from pydantic_core import PydanticCustomError

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
_NAME = re.compile(NAME_PATTERN)

ENTRY = ConfigDict(extra="forbid")
"""Catalog entries refuse unknown keys; each is validated on construction and read-only."""


def quoted(value: object) -> str:
    """A caller-supplied name for an error detail, or a placeholder when it is not a name."""
    # Details are logged and echoed: free text might carry personal data, so only
    # identifier-shaped values are repeated back.
    if is_name(value):
        return f"'{value}'"
    return "(an unrecognized value)"


def is_name(value: object) -> TypeGuard[str]:
    """Whether `value` is a lower_snake_case name (a feature name or purpose code)."""
    return isinstance(value, str) and _NAME.match(value) is not None


def distinct(items: tuple[str, ...]) -> tuple[str, ...]:
    """`items` when no item is listed twice; else an error naming every repeat."""
    repeated = [index for index, item in enumerate(items) if item in items[:index]]
    if repeated:
        raise PydanticCustomError("repeated", "lists an item twice", {"repeated": repeated})
    return items


# What a reader should never meet in borrower-facing text: a snake_case name, an ALL-CAPS
# code, or a JSON boolean. The pages and `lendgate policy check` hold text to it.
IDENTIFIER_TOKEN = re.compile(
    r"(?<![A-Za-z0-9_])(?:[A-Za-z][A-Za-z0-9]*_[A-Za-z0-9_]+|[A-Z][A-Z0-9]{2,}|true|false)"
    r"(?![A-Za-z0-9_])"
)


# Abbreviations readers know, which look like codes.
PLAIN_ABBREVIATIONS = frozenset({"API", "CSV", "JSON", "PDF", "RFC", "SDK", "SHA", "UTC"})


def identifier_tokens(text: str) -> list[str]:
    """Every identifier-shaped token in `text` (snake_case, ALL-CAPS codes, true/false)."""
    return [token for token in IDENTIFIER_TOKEN.findall(text) if token not in PLAIN_ABBREVIATIONS]


Name = Annotated[str, StringConstraints(strict=True, pattern=NAME_PATTERN)]
Text = Annotated[str, StringConstraints(strict=True, strip_whitespace=True, min_length=1)]
PositiveInt = Annotated[int, Strict(), Gt(0)]
Names = Annotated[tuple[StrictStr, ...], MinLen(1), AfterValidator(distinct)]
Fields = Annotated[tuple[StrictStr, ...], AfterValidator(distinct)]


@pydantic_dataclasses.dataclass(frozen=True, kw_only=True, config=ENTRY)
class LocalizedText:
    """Text a borrower or lender reads, in Chinese and English."""

    zh: Text
    en: Text

    def as_dict(self) -> dict[str, str]:
        """The JSON form, `{"zh": ..., "en": ...}`."""
        return {"zh": self.zh, "en": self.en}
