"""Derivations: a feature names a registered one and keeps to its contract.

It reads exactly the fields the derivation reads, sets exactly its parameters, and
generalizes its value with the one output type that does not leak it.
"""

from __future__ import annotations

from collections.abc import Mapping

from policies.catalog import FeatureEntry
from policies.checks.identity import raw_derivation_problem
from policies.derivations.base import Derivation
from policies.lines import CatalogFile, LineMap, line_at
from policies.outputs import BandOutput, EnumOutput, format_number


def check_derivation(
    file: CatalogFile,
    node: LineMap,
    what: str,
    entry: FeatureEntry,
    source_fields: Mapping[str, tuple[str, ...]] | None,
    derivations: Mapping[str, Derivation],
) -> Derivation | None:
    """The feature's derivation when it is registered and its reads agree with the fields."""
    name = entry.derivation
    line = node.line_of("derivation")
    if problem := raw_derivation_problem(what, name):
        file.problem(line, problem)
        return None
    derivation = derivations.get(name)
    if derivation is None:
        file.problem(line, f"{what} names an unknown derivation `{name}`.")
        return None
    if source_fields is None:
        return derivation
    sound = True
    fields_node = node["source_fields"]
    for source in sorted(set(derivation.reads) | set(source_fields)):
        declared = set(source_fields.get(source, ()))
        reads = derivation.reads.get(source, frozenset())
        # Point at the field list to fix, or at `derivation` when the source is missing.
        fields_line = fields_node.line_of(source) if source in fields_node else line
        if source not in derivation.reads:
            file.problem(
                fields_line,
                f"{what} reads `{source}`, which derivation `{name}` does not use "
                "(contact only the sources needed).",
            )
            sound = False
            continue
        if source not in source_fields and not reads:
            file.problem(
                line,
                f"{what} must list source `{source}` (with no fields): derivation `{name}` "
                "asks it whether it holds the person.",
            )
            sound = False
            continue
        if extra := sorted(declared - reads):
            file.problem(
                fields_line,
                f"{what} declares {', '.join(f'`{source}.{p}`' for p in extra)}, which "
                f"derivation `{name}` does not read (collect only the minimum).",
            )
            sound = False
        if missing := sorted(reads - declared):
            file.problem(
                fields_line,
                f"{what} must declare {', '.join(f'`{source}.{p}`' for p in missing)}, "
                f"which derivation `{name}` reads.",
            )
            sound = False
    return derivation if sound else None


def check_params(
    file: CatalogFile, node: LineMap, what: str, entry: FeatureEntry, derivation: Derivation
) -> bool:
    """Whether the feature sets exactly the derivation's parameters."""
    sound = True
    for key in sorted(set(entry.params) - derivation.params):
        file.problem(
            line_at(node, ["params", key], node.line),
            f"{what}: derivation `{derivation.name}` takes no `{key}`.",
        )
        sound = False
    for key in sorted(derivation.params - set(entry.params)):
        file.problem(
            node.line_of("params"), f"{what}: derivation `{derivation.name}` needs `params.{key}`."
        )
        sound = False
    return sound


def check_output(
    file: CatalogFile,
    node: LineMap,
    what: str,
    entry: FeatureEntry,
    derivation: Derivation | None,
) -> bool:
    """Whether the output generalizes the derivation's value soundly."""
    output = entry.output
    output_node = node["output"]
    sound = True
    if isinstance(output, BandOutput):
        edges = output.edges
        for index in range(1, len(edges)):
            if edges[index] <= edges[index - 1]:
                file.problem(
                    line_at(output_node, ["edges", index], output_node.line),
                    f"{what} band `edges` must be strictly increasing "
                    f"({format_number(edges[index])} follows {format_number(edges[index - 1])}).",
                )
                sound = False
    if derivation is None:
        return sound
    if derivation.output_type != output.type:
        file.problem(
            output_node.line_of("type"),
            f"{what}: derivation `{derivation.name}` needs output type "
            f"`{derivation.output_type}`, not `{output.type}`.",
        )
        sound = False
    if derivation.nullable and not output.nullable:
        file.problem(
            node.line_of("output"),
            f"{what}: derivation `{derivation.name}` can answer null; "
            "its output needs `nullable: true`.",
        )
        sound = False
    if (
        isinstance(output, EnumOutput)
        and derivation.output_type == "enum"
        and set(output.values) != set(derivation.values)
    ):
        file.problem(
            output_node.line_of("values"),
            f"{what} output `values` must be exactly {', '.join(derivation.values)}, "
            f"the codes derivation `{derivation.name}` returns.",
        )
        sound = False
    return sound
