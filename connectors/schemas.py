"""How a source's field schema is written, and the fields no feature may output.

A field path is either a top-level field (`insured_status`) or a key of the items
of a list field (`contribution_records.base`). Asking for `a.b` returns the list
`a` with only key `b` in each item (and always the item's `month`/`date` key when
the list is kept by month or date, so the range can be applied). Lists kept by
month or date are cut to the consented data range by the source itself: a list is
kept by month (date) exactly when its schema names `a.month` (`a.date`).

Each source declares its schema, with its enumerations (values are stable codes, not
display text; amounts are CNY), in `connectors/sources/<source>/schema.py`.
"""

from __future__ import annotations

NESTED_MONTHLY_LISTS = frozenset({"repayment_history"})
"""Keys of list items that are themselves lists kept by month (credit account histories);
a schema names only the key, and both sides cut them to the months asked for."""

FREE_TEXT_FIELDS = frozenset({"remarks"})
"""Fields a source fills with free text: they may carry anything, personal data included,
so no feature reads them; they exist because real sources have them (and the fault
injection plants personal data there)."""

IDENTITY_FIELDS = frozenset({"name", "phone"})
"""Fields that are personal data themselves: no feature may output them.

Only a derivation registered as an identity comparison (`identity_match`) may read one,
to answer true/false against the borrower's claimed identity; the catalog checker refuses
every other feature that lists one.
"""
