"""Borrower-facing text: the plain words the portal shows hold no codes, and a purpose's
`why` no numbers or data (the page takes those from the consent's own terms)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

from policies.catalog import FeatureEntry, PurposeEntry
from policies.lines import CatalogFile, LineMap, line_at
from policies.outputs import BandOutput, BooleanOutput, EnumOutput, IntegerOutput
from policies.values import LocalizedText, identifier_tokens

# Any digit, ASCII or full-width: a number in `why` would speak for the consent's terms.
DIGIT: Final = re.compile(r"[0-9０-９]")


def _texts(entry: FeatureEntry) -> Iterator[tuple[list[str | int], LocalizedText]]:
    """Each borrower-facing text of a feature, with where it stands in the entry."""
    yield ["label"], entry.label
    yield ["explanation"], entry.explanation
    output = entry.output
    if isinstance(output, IntegerOutput | BandOutput):
        yield ["output", "unit"], output.unit
    if isinstance(output, BooleanOutput):
        yield ["output", "value_labels", "true"], output.value_labels.true
        yield ["output", "value_labels", "false"], output.value_labels.false
    if isinstance(output, EnumOutput | BandOutput):
        for value, text in output.value_labels.items():
            yield ["output", "value_labels", value], text


def check_feature_words(file: CatalogFile, node: LineMap, what: str, entry: FeatureEntry) -> bool:
    """Whether every borrower-facing text of the feature is free of codes; else each is
    reported on its line."""
    sound = True
    for path, text in _texts(entry):
        for language in ("zh", "en"):
            if tokens := identifier_tokens(getattr(text, language)):
                where = "`" + ".".join(str(step) for step in path) + "`"
                file.problem(
                    line_at(node, [*path, language], node.line),
                    f"{what} {where} shows borrowers the code "
                    f"{', '.join(f'`{token}`' for token in tokens)}; write it in plain words.",
                )
                sound = False
    return sound


def check_purpose_words(file: CatalogFile, node: LineMap, what: str, entry: PurposeEntry) -> bool:
    """Whether the purpose's `why` is plain and holds no number; else each is reported."""
    sound = True
    for language in ("zh", "en"):
        text = getattr(entry.why, language)
        line = line_at(node, ["why", language], node.line)
        if tokens := identifier_tokens(text):
            listed = ", ".join(f"`{token}`" for token in tokens)
            file.problem(line, f"{what} `why` shows borrowers the code {listed}.")
            sound = False
        if DIGIT.search(text):
            file.problem(
                line,
                f"{what} `why` holds a number; the consent page states the consent's own "
                "terms, so `why` says only why the lender asks.",
            )
            sound = False
    return sound
