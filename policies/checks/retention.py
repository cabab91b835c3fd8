"""Retention: no feature or purpose looks further back than the sources it reads keep."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from connectors.registry import load_sources
from policies.lines import CatalogFile, LineMap, line_at


def check_window(
    file: CatalogFile,
    node: LineMap,
    what: str,
    source_fields: Mapping[str, tuple[str, ...]],
    params: Mapping[str, int],
) -> bool:
    """Whether the feature's look-back window stays within every source's retention."""
    window = params.get("window_months")
    if window is None:
        return True
    sound = True
    for source in source_fields:
        retention = load_sources().retention_months.get(source)
        if retention is not None and window > retention:
            file.problem(
                line_at(node, ["params", "window_months"], node.line),
                f"{what} looks back {window} months, beyond the {retention} months "
                f"`{source}` keeps (its `retention_months`).",
            )
            sound = False
    return sound


def check_range(
    file: CatalogFile,
    node: LineMap,
    what: str,
    range_limit: int,
    sources: Mapping[str, Sequence[str]],
) -> bool:
    """Whether `max_data_range_months` stays within the retention of every source read."""
    sound = True
    for source, readers in sources.items():
        retention = load_sources().retention_months.get(source)
        if retention is not None and range_limit > retention:
            file.problem(
                node.line_of("max_data_range_months"),
                f"{what} `max_data_range_months` of {range_limit} is above the {retention} "
                f"months `{source}` keeps (read by {', '.join(f'`{n}`' for n in readers)}).",
            )
            sound = False
    return sound
