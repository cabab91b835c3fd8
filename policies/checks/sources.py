"""Sources: a feature reads only known sources and fields, and names each source alike.

`sources` and the keys of `source_fields` must agree; every field must exist in its
source's schema and be neither free text nor (outside an identity comparison) an
identifier. An empty field list asks a source only whether it holds the person.
"""

from __future__ import annotations

from collections.abc import Mapping

from connectors.registry import load_sources
from policies.catalog import FeatureEntry
from policies.checks.identity import identifier_problem
from policies.checks.text import free_text_problem
from policies.lines import CatalogFile, LineMap, line_at


def check_sources(
    file: CatalogFile, node: LineMap, what: str, entry: FeatureEntry, compares_identity: bool
) -> dict[str, tuple[str, ...]] | None:
    """The feature's fields per source in `sources` order, or None after recording why not."""
    sound = True
    for index, source in enumerate(entry.sources):
        line = line_at(node, ["sources", index], node.line)
        if source not in load_sources():
            file.problem(line, f"{what} names an unknown source `{source}`.")
            sound = False
    mapping = node["source_fields"]
    for source, paths in entry.source_fields.items():
        source_line = mapping.line_of(source)
        schema = load_sources().schemas.get(source)
        if schema is None:
            file.problem(source_line, f"{what} reads an unknown source `{source}`.")
            sound = False
            continue
        if source not in entry.sources:
            file.problem(source_line, f"{what} reads `{source}`, which `sources` does not list.")
            sound = False
        for index, path in enumerate(paths):
            line = line_at(mapping, [source, index], source_line)
            problem = (
                f"{what} reads an unknown field `{source}.{path}`."
                if path not in schema
                else free_text_problem(what, source, path)
                or identifier_problem(what, source, path, compares_identity)
            )
            if problem is not None:
                file.problem(line, problem)
                sound = False
    for source in sorted(set(entry.sources) - set(entry.source_fields)):
        if source in load_sources():
            file.problem(
                mapping.line, f"{what} lists source `{source}` but no `source_fields` for it."
            )
            sound = False
    if not sound:
        return None
    # Keep the order of `sources`, so the public view reads like the YAML.
    return {source: entry.source_fields[source] for source in entry.sources}


def unknown_sources(sources: tuple[str, ...]) -> list[str]:
    """The sources no source folder or plug-in declares."""
    return [source for source in sources if source not in load_sources()]


def purpose_sources(
    allowed: tuple[str, ...], features: Mapping[str, tuple[str, ...]]
) -> dict[str, list[str]]:
    """The sources a purpose's (sound) features read, each with the features that read it."""
    readers: dict[str, list[str]] = {}
    for name in allowed:
        for source in features.get(name, ()):
            readers.setdefault(source, []).append(name)
    # Catalog order of the sources, so every view lists them alike.
    return {source: readers[source] for source in load_sources() if source in readers}
