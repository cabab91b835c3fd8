"""Loading the catalogs: every entry validated, checked, and each problem named by file and line.

Loading checks the catalogs against the connector schemas, the sources' retention and the
derivation registry, and refuses the whole catalog on any problem: a half-loaded policy is
worse than none. The gateway loads the catalogs before anything else at start-up, so an
invalid policy folder stops it with the list of problems (`lendgate policy check` prints
the same list).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pydantic import TypeAdapter

from policies.catalog import (
    Catalog,
    Feature,
    FeatureEntry,
    Product,
    Purpose,
    PurposeEntry,
    catalog_version,
)
from policies.checks.derivation import check_derivation, check_output, check_params
from policies.checks.plain import check_feature_words, check_purpose_words
from policies.checks.products import check_products
from policies.checks.retention import check_range, check_window
from policies.checks.sources import check_sources, purpose_sources, unknown_sources
from policies.checks.structure import entry_name, validate
from policies.derivations.base import Derivation
from policies.derivations.registry import shipped_derivations
from policies.lines import CatalogFile, LineMap, LineSeq
from policies.values import is_name

FEATURES_FILE = "features.yaml"
PURPOSES_FILE = "purposes.yaml"
PRODUCTS_FOLDER = "products"
DEFAULT_DIRECTORY = Path(__file__).resolve().parent

_FEATURE_ENTRY = TypeAdapter(FeatureEntry)
_PURPOSE_ENTRY = TypeAdapter(PurposeEntry)


class CatalogError(ValueError):
    """The catalogs cannot be loaded; `problems` names each fault by file and line."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        super().__init__("policy catalog is invalid:\n" + "\n".join(self.problems))


def load_catalog(
    directory: Path | None = None, derivations: Mapping[str, Derivation] | None = None
) -> Catalog:
    """Load and check the catalogs in `directory` against `derivations` (default: shipped)."""
    catalog, problems = _load(directory or DEFAULT_DIRECTORY, derivations)
    if catalog is None:
        raise CatalogError(problems)
    return catalog


def check_catalog(
    directory: Path | None = None, derivations: Mapping[str, Derivation] | None = None
) -> list[str]:
    """Every problem in the catalogs of `directory` (default: the shipped ones)."""
    return _load(directory or DEFAULT_DIRECTORY, derivations)[1]


def _load(
    directory: Path, derivations: Mapping[str, Derivation] | None
) -> tuple[Catalog | None, list[str]]:
    if derivations is None:
        derivations = shipped_derivations()
    problems: list[str] = []
    features_file = CatalogFile(directory / FEATURES_FILE, problems)
    purposes_file = CatalogFile(directory / PURPOSES_FILE, problems)
    features, declared = _features(features_file, derivations)
    purposes, declared_purposes = _purposes(purposes_file, declared, features)
    products: dict[str, Mapping[str, Product]] = {}
    product_files: dict[str, bytes] = {}
    for path in _product_files(directory):
        file = CatalogFile(path, problems)
        client = path.stem
        products[client] = MappingProxyType(
            check_products(file, client, purposes, features, declared_purposes)
        )
        product_files[client] = file.data
    if problems:
        return None, problems
    catalog = Catalog(
        purposes=MappingProxyType(purposes),
        features=MappingProxyType(features),
        version=catalog_version(features_file.data, purposes_file.data, product_files),
        derivations=derivations,
        products=MappingProxyType(products),
    )
    return catalog, problems


def _product_files(directory: Path) -> list[Path]:
    """Each client's product file, `products/<client name>.yaml`, in name order."""
    folder = directory / PRODUCTS_FOLDER
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.iterdir() if path.suffix in (".yaml", ".yml"))


def check_product_document(
    catalog: Catalog, client: str, data: bytes, origin: Path
) -> tuple[dict[str, Product], list[str]]:
    """The products `data` declares for `client`, judged against `catalog`, and any problems.

    `origin` names the document in problems (`FILE:LINE`), e.g. the file an operator
    registers with `lendgate products set`.
    """
    problems: list[str] = []
    file = CatalogFile(origin, problems, data)
    products = check_products(file, client, catalog.purposes, catalog.features)
    return (products if not problems else {}), problems


def _features(
    file: CatalogFile, derivations: Mapping[str, Derivation]
) -> tuple[dict[str, Feature], dict[str, tuple[str, ...]]]:
    """The sound features, and every declared name with the sources it names.

    Broken features are declared too, so that the purposes can be judged against what
    each feature claims to read without reporting the same fault twice.
    """
    features: dict[str, Feature] = {}
    declared: dict[str, tuple[str, ...]] = {}
    for node, line in file.entries("features"):
        what = entry_name(node, "name", "feature", line)
        if (name := _declared_name(file, node, "name", what, declared)) is not None:
            declared.setdefault(name, _named_sources(node))
        entry = validate(file, _FEATURE_ENTRY, node, what)
        if entry is None:
            continue
        feature = _feature(file, node, what, entry, derivations)
        if feature is not None and entry.name not in features:
            features[entry.name] = feature
    return features, declared


def _feature(
    file: CatalogFile,
    node: LineMap,
    what: str,
    entry: FeatureEntry,
    derivations: Mapping[str, Derivation],
) -> Feature | None:
    """The feature, when it keeps to the sources, its derivation and the retention."""
    named = derivations.get(entry.derivation)
    compares_identity = named is not None and named.compares_identity
    source_fields = check_sources(file, node, what, entry, compares_identity)
    derivation = check_derivation(file, node, what, entry, source_fields, derivations)
    sound = source_fields is not None and derivation is not None
    if derivation is not None:
        sound = check_params(file, node, what, entry, derivation) and sound
    if source_fields is not None:
        sound = check_window(file, node, what, source_fields, entry.params) and sound
    sound = check_output(file, node, what, entry, derivation) and sound
    sound = check_feature_words(file, node, what, entry) and sound
    if not sound or source_fields is None:
        return None
    return Feature(
        **{**_fields(entry), "source_fields": source_fields},
        compares_identity=compares_identity,
    )


def _fields(entry: FeatureEntry | PurposeEntry) -> dict[str, Any]:
    """An entry's fields by name, to build the catalog's record of it."""
    return {field.name: getattr(entry, field.name) for field in fields(entry)}


def _declared_name(
    file: CatalogFile, node: LineMap, key: str, what: str, seen: Collection[str]
) -> str | None:
    """The entry's name (`key`) when it is a sound one, reported when `seen` holds it."""
    name = node.get(key)
    if not is_name(name):
        return None
    if name in seen:
        file.problem(node.line_of(key), f"{what} is declared twice.")
    return name


def _named_sources(node: LineMap) -> tuple[str, ...]:
    """Every source a feature entry names, in `sources` or as a `source_fields` key."""
    named: list[str] = []
    sources = node.get("sources")
    if isinstance(sources, LineSeq):
        named.extend(source for source in sources if isinstance(source, str))
    fields = node.get("source_fields")
    if isinstance(fields, LineMap):
        named.extend(fields)
    return tuple(dict.fromkeys(named))


def _purposes(
    file: CatalogFile, declared: Mapping[str, tuple[str, ...]], features: Mapping[str, Feature]
) -> tuple[dict[str, Purpose], set[str]]:
    """The sound purposes and every declared code, judged against the declared features."""
    purposes: dict[str, Purpose] = {}
    seen: set[str] = set()
    for node, line in file.entries("purposes"):
        what = entry_name(node, "code", "purpose", line)
        if (code := _declared_name(file, node, "code", what, seen)) is not None:
            seen.add(code)
        entry = validate(file, _PURPOSE_ENTRY, node, what)
        if entry is None:
            continue
        sound = True
        for index, name in enumerate(entry.features):
            item_line = node["features"].item_lines[index]
            if problem := _allowed_problem(what, name, declared, features, entry):
                file.problem(item_line, problem)
                sound = False
        read = {name: feature.sources for name, feature in features.items()}
        sources = purpose_sources(entry.features, read)
        sound = check_range(file, node, what, entry.max_data_range_months, sources) and sound
        sound = check_purpose_words(file, node, what, entry) and sound
        if sound and entry.code not in purposes:
            purposes[entry.code] = Purpose(**_fields(entry), sources=tuple(sources))
    return purposes, seen


def _allowed_problem(
    what: str,
    name: str,
    declared: Mapping[str, tuple[str, ...]],
    features: Mapping[str, Feature],
    entry: PurposeEntry,
) -> str | None:
    """What is wrong with a purpose allowing the feature `name`, if anything."""
    if name not in declared:
        return f"{what} allows `{name}`, which features.yaml does not declare."
    if unknown := unknown_sources(declared[name]):
        return (
            f"{what} allows `{name}`, which reads the undeclared source "
            f"{', '.join(f'`{source}`' for source in unknown)} "
            "(no source folder or plug-in declares it)."
        )
    window = features[name].params.get("window_months") if name in features else None
    if window is not None and window > entry.max_data_range_months:
        return (
            f"{what} allows `{name}`, which looks back {window} months, "
            f"beyond its max_data_range_months of {entry.max_data_range_months}."
        )
    return None
