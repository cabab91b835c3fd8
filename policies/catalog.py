"""The purpose and feature catalogs: the policy every consent and release is judged against.

Both catalogs live in YAML (`features.yaml`, `purposes.yaml`) so that an institution can
ship its own products and ceilings (`LENDGATE_POLICY_DIR`). Loading checks them against
the connector schemas, the sources' retention and the derivation registry, and refuses the
whole catalog on any problem, each problem named by file and line: a half-loaded policy is
worse than none. The gateway loads the catalogs before anything else at start-up, so an
invalid policy folder stops it with the list of problems (`lendgate policy check` prints
the same list).
"""

from __future__ import annotations

import hashlib
import re
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from connectors.registry import load_sources
from connectors.schemas import FREE_TEXT_FIELDS, IDENTITY_FIELDS
from gateway.core.errors import PurposeViolation
from policies.derivation import DERIVATIONS

FEATURES_FILE = "features.yaml"
PURPOSES_FILE = "purposes.yaml"
DEFAULT_DIRECTORY = Path(__file__).resolve().parent

FETCH_TYPES = ("ONETIME", "PERIODIC")
FREQUENCY_UNITS = ("DAY", "MONTH", "YEAR")
OUTPUT_TYPES = ("boolean", "integer", "band", "ratio", "enum")
DATA_CLASSES = ("C1", "C2", "C3")
"""JR/T 0171-2020 classes of personal financial information (C3 most sensitive)."""

RAW_DERIVATIONS = frozenset({"identity", "passthrough", "raw", "copy"})
"""Derivation names that would hand a source value over unchanged; always refused."""

LANGUAGES = ("zh", "en")

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

# The most intervals of a finer unit that fit in one interval of a coarser one.
_INTERVALS_WITHIN = {("DAY", "MONTH"): 31, ("DAY", "YEAR"): 366, ("MONTH", "YEAR"): 12}


def quoted(value: object) -> str:
    """A caller-supplied name for an error detail, or a placeholder when it is not a name."""
    # Details are logged and echoed: free text might carry personal data, so only
    # identifier-shaped values are repeated back.
    if isinstance(value, str) and _NAME.match(value):
        return f"'{value}'"
    return "(an unrecognized value)"


class CatalogError(ValueError):
    """The catalogs cannot be loaded; `problems` names each fault by file and line."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        super().__init__("policy catalog is invalid:\n" + "\n".join(self.problems))


@dataclass(frozen=True)
class LocalizedText:
    """Text a borrower or lender reads, in Chinese and English."""

    zh: str
    en: str

    def as_dict(self) -> dict[str, str]:
        """The JSON form, `{"zh": ..., "en": ...}`."""
        return {"zh": self.zh, "en": self.en}


@dataclass(frozen=True)
class Frequency:
    """At most `value` releases per calendar `unit` (DAY, MONTH or YEAR)."""

    unit: str
    value: int

    def within(self, maximum: Frequency) -> bool:
        """Whether every release pattern this frequency allows is also allowed by `maximum`.

        Intervals are calendar intervals, so a coarser frequency may spend its whole budget
        inside one interval of the maximum's unit (12 per YEAR can mean 12 in one month);
        a finer one adds up over the most intervals that fit (1 per DAY is 31 in a month).
        Either way the comparison is in the maximum's unit, and strict rate order holds:
        DAY is faster than MONTH, which is faster than YEAR.
        """
        own = FREQUENCY_UNITS.index(self.unit)
        limit = FREQUENCY_UNITS.index(maximum.unit)
        if own >= limit:
            return self.value <= maximum.value
        return self.value * _INTERVALS_WITHIN[(self.unit, maximum.unit)] <= maximum.value

    def __str__(self) -> str:
        return f"{self.value} per {self.unit}"


def _format_number(number: Decimal) -> str:
    if number == number.to_integral_value():
        return str(int(number))
    return format(number.normalize(), "f")


@dataclass(frozen=True)
class Output:
    """A feature's output type and how its value is generalized before release.

    Bands are lower-inclusive, `[lo, hi)`: with edges `[0, 3000, 5000]` the value 3000 is
    `"3000-5000"` and 5000 or more is `"5000+"`; a value below the first edge is
    `"<lo"`. Ratios are rounded half-up to a multiple of `step`.
    """

    type: str
    edges: tuple[Decimal, ...] = ()
    step: Decimal | None = None
    values: tuple[str, ...] = ()
    nullable: bool = False

    @property
    def labels(self) -> tuple[str, ...]:
        """Every label a band can take, lowest first."""
        if self.type != "band":
            return ()
        edges = [_format_number(edge) for edge in self.edges]
        below = (f"<{edges[0]}",) if self.edges[0] > 0 else ()
        return (
            *below,
            *(f"{lo}-{hi}" for lo, hi in pairwise(edges)),
            f"{edges[-1]}+",
        )

    def generalize(self, value: Any) -> Any:
        """The JSON-ready released form of a derivation's raw value."""
        if value is None:
            if not self.nullable:
                raise ValueError(f"a {self.type} output without `nullable` cannot be null")
            return None
        if self.type == "boolean" and isinstance(value, bool):
            return value
        if self.type == "integer" and isinstance(value, int) and not isinstance(value, bool):
            return value
        if self.type == "enum" and value in self.values:
            return value
        if self.type == "band" and _is_number(value):
            return self._band(Decimal(str(value)) if isinstance(value, float) else Decimal(value))
        if self.type == "ratio" and _is_number(value) and self.step is not None:
            number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
            steps = (number / self.step).to_integral_value(rounding=ROUND_HALF_UP)
            return float(steps * self.step)
        raise ValueError(f"value of type {type(value).__name__} does not fit a {self.type} output")

    def _band(self, number: Decimal) -> str:
        edges = [_format_number(edge) for edge in self.edges]
        # bisect_right keeps a value equal to an edge in the band that starts there.
        index = bisect_right(self.edges, number) - 1
        if index < 0:
            return f"<{edges[0]}"
        if index == len(self.edges) - 1:
            return f"{edges[index]}+"
        return f"{edges[index]}-{edges[index + 1]}"

    def public_view(self) -> dict[str, Any]:
        """The JSON form shown in the public catalog."""
        view: dict[str, Any] = {"type": self.type, "nullable": self.nullable}
        if self.type == "band":
            view["edges"] = [_json_number(edge) for edge in self.edges]
            view["labels"] = list(self.labels)
        if self.type == "ratio" and self.step is not None:
            view["step"] = _json_number(self.step)
        if self.type == "enum":
            view["values"] = list(self.values)
        return view


def _is_number(value: object) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _json_number(number: Decimal) -> int | float:
    return int(number) if number == number.to_integral_value() else float(number)


@dataclass(frozen=True)
class Feature:
    """A value the gateway can release: what it reads, how it is derived and generalized."""

    name: str
    description: LocalizedText
    sources: tuple[str, ...]
    source_fields: Mapping[str, tuple[str, ...]]
    derivation: str
    output: Output
    data_class: str
    params: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    compares_identity: bool = False
    """Match, don't reveal: compares `name`/`phone` with the claimed identity, answers yes/no."""

    def public_view(self) -> dict[str, Any]:
        """The JSON form shown in the public catalog."""
        return {
            "name": self.name,
            "description": self.description.as_dict(),
            "sources": list(self.sources),
            "source_fields": {source: list(paths) for source, paths in self.source_fields.items()},
            "params": dict(self.params),
            "output": self.output.public_view(),
            "data_class": self.data_class,
            "compares_identity": self.compares_identity,
        }


@dataclass(frozen=True)
class Purpose:
    """Why a lender may ask: the features allowed and the ceilings on every consent term."""

    code: str
    title: LocalizedText
    notice: LocalizedText
    legal_basis: str
    features: tuple[str, ...]
    fetch_types: tuple[str, ...]
    max_validity_days: int
    max_frequency: Frequency
    max_data_range_months: int
    max_data_life_days: int
    sources: tuple[str, ...] = ()
    """Every source its features read, in catalog order."""

    def public_view(self) -> dict[str, Any]:
        """The JSON form shown in the public catalog."""
        return {
            "code": self.code,
            "title": self.title.as_dict(),
            "notice": self.notice.as_dict(),
            "legal_basis": self.legal_basis,
            "features": list(self.features),
            "sources": list(self.sources),
            "fetch_types": list(self.fetch_types),
            "max_validity_days": self.max_validity_days,
            "max_frequency": {"unit": self.max_frequency.unit, "value": self.max_frequency.value},
            "max_data_range_months": self.max_data_range_months,
            "max_data_life_days": self.max_data_life_days,
        }


@dataclass(frozen=True)
class Catalog:
    """Every purpose and feature in force, and the version releases are stamped with."""

    purposes: Mapping[str, Purpose]
    features: Mapping[str, Feature]
    version: str

    def purpose(self, code: str) -> Purpose:
        """The purpose `code`; an unknown purpose is a `PurposeViolation`."""
        try:
            return self.purposes[code]
        except (KeyError, TypeError):
            raise PurposeViolation(f"Unknown purpose {quoted(code)}.") from None

    def feature(self, name: str) -> Feature:
        """The feature `name`; an unknown feature is a `PurposeViolation`."""
        try:
            return self.features[name]
        except (KeyError, TypeError):
            raise PurposeViolation(f"Unknown feature {quoted(name)}.") from None

    def public_view(self) -> dict[str, Any]:
        """The JSON document `GET /v1/catalog` serves."""
        used = {source for feature in self.features.values() for source in feature.sources}
        sources = load_sources()
        return {
            "policy_version": self.version,
            "purposes": [purpose.public_view() for purpose in self.purposes.values()],
            "features": [feature.public_view() for feature in self.features.values()],
            "sources": [
                {
                    "name": source,
                    "title": sources[source].title,
                    "retention_months": sources[source].retention_months,
                }
                for source in sources
                if source in used
            ],
        }


def catalog_version(features_yaml: bytes, purposes_yaml: bytes) -> str:
    """`sha256:` + hex SHA-256 over the features file's bytes, then the purposes file's."""
    return "sha256:" + hashlib.sha256(features_yaml + purposes_yaml).hexdigest()


def load_catalog(directory: Path | None = None) -> Catalog:
    """Load and check the catalogs in `directory` (default: the shipped ones)."""
    catalog, problems = _load(directory or DEFAULT_DIRECTORY)
    if catalog is None:
        raise CatalogError(problems)
    return catalog


def check_catalog(directory: Path | None = None) -> list[str]:
    """Every problem in the catalogs of `directory` (default: the shipped ones)."""
    return _load(directory or DEFAULT_DIRECTORY)[1]


# -- reading YAML with line numbers ----------------------------------------------------


class _Map(dict[str, Any]):
    """A YAML mapping that remembers where it and each of its keys stand."""

    def __init__(self, line: int):
        super().__init__()
        self.line = line
        self.key_lines: dict[str, int] = {}

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class _Seq(list[Any]):
    """A YAML sequence that remembers where it and each of its items stand."""

    def __init__(self, line: int):
        super().__init__()
        self.line = line
        self.item_lines: list[int] = []


class _File:
    """One catalog file being read: its bytes, parsed tree and the problems found in it."""

    def __init__(self, path: Path, problems: list[str]):
        self.path = path
        self.problems = problems
        self.data = b""
        self.tree: Any = None
        self._scalars = yaml.constructor.SafeConstructor()
        try:
            self.data = path.read_bytes()
        except OSError as exc:
            problems.append(f"{path}: cannot read the file ({exc.strerror or exc}).")
            return
        try:
            node = yaml.compose(self.data, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark is not None else 1
            problems.append(f"{path}:{line}: not valid YAML: {exc.problem or exc}.")
            return
        except yaml.YAMLError as exc:
            problems.append(f"{path}:1: not valid YAML: {exc}.")
            return
        if node is None:
            self.problem(1, "the file is empty.")
            return
        self.tree = self._convert(node)

    def problem(self, line: int, message: str) -> None:
        """Record a problem at `line` (1-based)."""
        self.problems.append(f"{self.path}:{line}: {message}")

    def _convert(self, node: yaml.Node) -> Any:
        line = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            mapping = _Map(line)
            for key_node, value_node in node.value:
                key_line = key_node.start_mark.line + 1
                key = self._convert(key_node)
                if not isinstance(key, str):
                    self.problem(key_line, f"keys must be text, not {key!r}.")
                    continue
                if key in mapping:
                    self.problem(key_line, f"`{key}` is given twice.")
                    continue
                mapping[key] = self._convert(value_node)
                mapping.key_lines[key] = key_line
            return mapping
        if isinstance(node, yaml.SequenceNode):
            sequence = _Seq(line)
            for item in node.value:
                sequence.append(self._convert(item))
                sequence.item_lines.append(item.start_mark.line + 1)
            return sequence
        return self._scalars.construct_object(node)


# -- checking --------------------------------------------------------------------------


class _Checker:
    """Field-by-field checks of one catalog file, each problem placed on its line."""

    def __init__(self, file: _File):
        self.file = file
        self.failed = False

    def problem(self, line: int, message: str) -> None:
        self.failed = True
        self.file.problem(line, message)

    def keys(self, node: _Map, what: str, required: Sequence[str], optional: Sequence[str]) -> None:
        for key in node:
            if key not in required and key not in optional:
                self.problem(node.line_of(key), f"{what} has an unknown key `{key}`.")
        for key in required:
            if key not in node:
                self.problem(node.line, f"{what} lacks `{key}`.")

    def text(self, node: _Map, key: str, what: str) -> LocalizedText | None:
        value = node.get(key)
        if key not in node:
            return None
        if not isinstance(value, _Map):
            self.problem(node.line_of(key), f"{what} `{key}` must map zh and en to text.")
            return None
        for language in value:
            if language not in LANGUAGES:
                self.problem(value.line_of(language), f"{what} `{key}` has unknown `{language}`.")
        texts = {}
        for language in LANGUAGES:
            text = value.get(language)
            if not isinstance(text, str) or not text.strip():
                self.problem(
                    value.line_of(language) if language in value else value.line,
                    f"{what} `{key}` lacks its {language} text.",
                )
            else:
                texts[language] = text.strip()
        if len(texts) != len(LANGUAGES):
            return None
        return LocalizedText(zh=texts["zh"], en=texts["en"])

    def string(self, node: _Map, key: str, what: str) -> str | None:
        if key not in node:
            return None
        value = node[key]
        if not isinstance(value, str) or not value.strip():
            self.problem(node.line_of(key), f"{what} `{key}` must be non-empty text.")
            return None
        return value.strip()

    def positive(self, node: _Map, key: str, what: str) -> int | None:
        if key not in node:
            return None
        value = node[key]
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            self.problem(node.line_of(key), f"{what} `{key}` must be a positive whole number.")
            return None
        return value

    def names(self, node: _Map, key: str, what: str) -> list[tuple[str, int]] | None:
        """A non-empty list of distinct names, each with its line."""
        if key not in node:
            return None
        value = node[key]
        if not isinstance(value, _Seq) or not value:
            self.problem(node.line_of(key), f"{what} `{key}` must be a non-empty list.")
            return None
        names: list[tuple[str, int]] = []
        for item, line in zip(value, value.item_lines, strict=True):
            if not isinstance(item, str):
                self.problem(line, f"{what} `{key}` lists {item!r}, which is not a name.")
            elif any(item == seen for seen, _ in names):
                self.problem(line, f"{what} `{key}` lists `{item}` twice.")
            else:
                names.append((item, line))
        return names

    def entries(self, key: str) -> list[tuple[_Map, int]]:
        """The items of the file's top-level list `key`."""
        tree = self.file.tree
        if tree is None:
            return []
        if not isinstance(tree, _Map) or set(tree) != {key}:
            self.problem(getattr(tree, "line", 1), f"the file must hold one key, `{key}`.")
            if not isinstance(tree, _Map):
                return []
        value = tree.get(key)
        if not isinstance(value, _Seq) or not value:
            self.problem(tree.line_of(key), f"`{key}` must be a non-empty list.")
            return []
        entries = []
        for item, line in zip(value, value.item_lines, strict=True):
            if isinstance(item, _Map):
                entries.append((item, line))
            else:
                self.problem(line, f"each entry of `{key}` must be a mapping.")
        return entries


_FEATURE_REQUIRED = (
    "name",
    "description",
    "sources",
    "source_fields",
    "derivation",
    "output",
    "data_class",
)
_OUTPUT_KEYS = {
    "boolean": (),
    "integer": (),
    "band": ("edges",),
    "ratio": ("step",),
    "enum": ("values",),
}


def _check_features(file: _File) -> tuple[dict[str, Feature], dict[str, tuple[str, ...]]]:
    """Parse the feature catalog.

    Returns the sound features, and every declared name with the sources it names (sound
    or not), so that the purposes can be judged against what each feature claims to read.
    """
    checker = _Checker(file)
    features: dict[str, Feature] = {}
    declared: dict[str, tuple[str, ...]] = {}
    for node, line in checker.entries("features"):
        checker.failed = False
        name = node.get("name")
        if isinstance(name, str) and _NAME.match(name):
            what = f"feature `{name}`"
            if name in declared:
                checker.problem(node.line_of("name"), f"{what} is declared twice.")
            declared.setdefault(name, _named_sources(node))
        else:
            what = f"feature at line {line}"
            if "name" in node:
                checker.problem(
                    node.line_of("name"), f"{what}: `name` must be lower_snake_case text."
                )
        checker.keys(node, what, _FEATURE_REQUIRED, ("params",))
        description = checker.text(node, "description", what)
        source_fields = _feature_fields(checker, node, what)
        derivation = _feature_derivation(checker, node, what, source_fields)
        params = _feature_params(checker, node, what, derivation)
        _window_within_retention(checker, node, what, source_fields, params)
        output = _feature_output(checker, node, what, derivation)
        data_class = checker.string(node, "data_class", what)
        if data_class is not None and data_class not in DATA_CLASSES:
            checker.problem(
                node.line_of("data_class"),
                f"{what} `data_class` must be one of {', '.join(DATA_CLASSES)} (JR/T 0171).",
            )
        if checker.failed or not isinstance(name, str):
            continue
        assert description and source_fields and derivation and output and data_class
        features[name] = Feature(
            name=name,
            description=description,
            sources=tuple(source_fields),
            source_fields=MappingProxyType(source_fields),
            derivation=derivation,
            output=output,
            data_class=data_class,
            params=MappingProxyType(params),
            compares_identity=DERIVATIONS[derivation].compares_identity,
        )
    return features, declared


def _named_sources(node: _Map) -> tuple[str, ...]:
    """Every source a feature entry names, in `sources` or as a `source_fields` key."""
    named: list[str] = []
    sources = node.get("sources")
    if isinstance(sources, _Seq):
        named.extend(source for source in sources if isinstance(source, str))
    fields = node.get("source_fields")
    if isinstance(fields, _Map):
        named.extend(fields)
    return tuple(dict.fromkeys(named))


def _window_within_retention(
    checker: _Checker,
    node: _Map,
    what: str,
    source_fields: Mapping[str, tuple[str, ...]] | None,
    params: Mapping[str, int],
) -> None:
    """A feature's look-back window must not reach further back than its sources keep."""
    window = params.get("window_months")
    if window is None or source_fields is None:
        return
    for source in source_fields:
        retention = load_sources().retention_months.get(source)
        if retention is not None and window > retention:
            params_node = node["params"]
            checker.problem(
                params_node.line_of("window_months"),
                f"{what} looks back {window} months, beyond the {retention} months "
                f"`{source}` keeps (its `retention_months`).",
            )


def _feature_fields(checker: _Checker, node: _Map, what: str) -> dict[str, tuple[str, ...]] | None:
    """`sources` and `source_fields`: known sources and fields, no identity field, agreeing.

    An identity field (`name`, `phone`) is allowed to exactly one kind of derivation: an
    identity comparison, which answers true/false and never the value. An empty field
    list asks a source only whether it holds the person.
    """
    named = node.get("derivation")
    registered = DERIVATIONS.get(named) if isinstance(named, str) else None
    compares_identity = registered is not None and registered.compares_identity
    sources = checker.names(node, "sources", what)
    sound = sources is not None
    for source, line in sources or []:
        if source not in load_sources():
            checker.problem(line, f"{what} names an unknown source `{source}`.")
            sound = False
    if "source_fields" not in node:
        return None
    mapping = node["source_fields"]
    if not isinstance(mapping, _Map) or not mapping:
        checker.problem(
            node.line_of("source_fields"), f"{what} `source_fields` must map sources to fields."
        )
        return None
    declared_sources = {source for source, _ in sources or []}
    fields: dict[str, tuple[str, ...]] = {}
    for source in mapping:
        source_line = mapping.line_of(source)
        schema = load_sources().schemas.get(source)
        if schema is None:
            checker.problem(source_line, f"{what} reads an unknown source `{source}`.")
            sound = False
            continue
        if sources is not None and source not in declared_sources:
            checker.problem(source_line, f"{what} reads `{source}`, which `sources` does not list.")
            sound = False
        listed = mapping[source]
        if isinstance(listed, _Seq) and not listed:
            fields[source] = ()
            continue
        names = checker.names(mapping, source, f"{what} `source_fields`")
        if names is None:
            sound = False
            continue
        for path, line in names:
            if path not in schema:
                checker.problem(line, f"{what} reads an unknown field `{source}.{path}`.")
                sound = False
            elif path.split(".")[-1] in FREE_TEXT_FIELDS:
                checker.problem(
                    line,
                    f"{what} reads the free-text field `{source}.{path}`, which may carry "
                    "anything, personal data included; no feature may read it.",
                )
                sound = False
            elif path.split(".")[-1] in IDENTITY_FIELDS and not compares_identity:
                checker.problem(
                    line,
                    f"{what} reads the identifier `{source}.{path}`; "
                    "a feature must never output a raw identifier "
                    "(only an identity comparison may read it, to answer true/false).",
                )
                sound = False
        fields[source] = tuple(path for path, _ in names)
    for source in sorted(declared_sources - set(mapping)):
        if source in load_sources():
            checker.problem(
                mapping.line, f"{what} lists source `{source}` but no `source_fields` for it."
            )
            sound = False
    if not sound or sources is None:
        return None
    # Keep the order of `sources`, so the public view reads like the YAML.
    return {source: fields[source] for source, _ in sources}


def _feature_derivation(
    checker: _Checker,
    node: _Map,
    what: str,
    source_fields: Mapping[str, tuple[str, ...]] | None,
) -> str | None:
    """`derivation`: a registered, non-raw derivation reading exactly the declared fields."""
    name = checker.string(node, "derivation", what)
    if name is None:
        return None
    line = node.line_of("derivation")
    if name in RAW_DERIVATIONS:
        checker.problem(
            line,
            f"{what} uses the raw derivation `{name}`; "
            "a feature must never output a raw identifier or source value.",
        )
        return None
    derivation = DERIVATIONS.get(name)
    if derivation is None:
        checker.problem(line, f"{what} names an unknown derivation `{name}`.")
        return None
    if source_fields is None:
        return name
    sound = True
    fields_node = node["source_fields"]
    for source in sorted(set(derivation.reads) | set(source_fields)):
        declared = set(source_fields.get(source, ()))
        reads = derivation.reads.get(source, frozenset())
        # Point at the field list to fix, or at `derivation` when the source is missing.
        fields_line = fields_node.line_of(source) if source in fields_node else line
        if source not in derivation.reads:
            checker.problem(
                fields_line,
                f"{what} reads `{source}`, which derivation `{name}` does not use "
                "(contact only the sources needed).",
            )
            sound = False
            continue
        if source not in source_fields and not reads:
            checker.problem(
                line,
                f"{what} must list source `{source}` (with no fields): derivation `{name}` "
                "asks it whether it holds the person.",
            )
            sound = False
            continue
        if extra := sorted(declared - reads):
            checker.problem(
                fields_line,
                f"{what} declares {', '.join(f'`{source}.{p}`' for p in extra)}, which "
                f"derivation `{name}` does not read (collect only the minimum).",
            )
            sound = False
        if missing := sorted(reads - declared):
            checker.problem(
                fields_line,
                f"{what} must declare {', '.join(f'`{source}.{p}`' for p in missing)}, "
                f"which derivation `{name}` reads.",
            )
            sound = False
    return name if sound else None


def _feature_params(
    checker: _Checker, node: _Map, what: str, derivation: str | None
) -> dict[str, int]:
    """`params`: exactly the derivation's parameters, each a positive whole number."""
    params: dict[str, int] = {}
    value = node.get("params", _Map(node.line))
    if not isinstance(value, _Map):
        checker.problem(node.line_of("params"), f"{what} `params` must be a mapping.")
        return params
    for key in value:
        parsed = checker.positive(value, key, f"{what} parameter")
        if parsed is not None:
            params[key] = parsed
    if derivation is None:
        return params
    expected = DERIVATIONS[derivation].params
    for key in sorted(set(value) - expected):
        checker.problem(value.line_of(key), f"{what}: derivation `{derivation}` takes no `{key}`.")
    for key in sorted(expected - set(value)):
        checker.problem(
            node.line_of("params"), f"{what}: derivation `{derivation}` needs `params.{key}`."
        )
    return params


def _feature_output(
    checker: _Checker, node: _Map, what: str, derivation: str | None
) -> Output | None:
    """`output`: a known type matching the derivation, with a sound generalization."""
    if "output" not in node:
        return None
    value = node["output"]
    line = node.line_of("output")
    if not isinstance(value, _Map):
        checker.problem(line, f"{what} `output` must be a mapping with a `type`.")
        return None
    kind = value.get("type")
    if kind not in OUTPUT_TYPES:
        checker.problem(
            value.line_of("type"),
            f"{what} output `type` must be one of {', '.join(OUTPUT_TYPES)}.",
        )
        return None
    # Judge the output on its own problems, then fold them into the feature's verdict.
    failed = checker.failed
    checker.failed = False
    checker.keys(value, f"{what} output", ("type", *_OUTPUT_KEYS[kind]), ("nullable",))
    nullable = value.get("nullable", False)
    if not isinstance(nullable, bool):
        checker.problem(value.line_of("nullable"), f"{what} output `nullable` must be true/false.")
    registered = DERIVATIONS.get(derivation) if derivation else None
    if registered is not None and registered.output_type != kind:
        checker.problem(
            value.line_of("type"),
            f"{what}: derivation `{derivation}` needs output type `{registered.output_type}`, "
            f"not `{kind}`.",
        )
    if registered is not None and registered.nullable and nullable is not True:
        checker.problem(
            line,
            f"{what}: derivation `{derivation}` can answer null; "
            "its output needs `nullable: true`.",
        )
    output = Output(type=kind, nullable=nullable is True)
    if kind == "band":
        output = Output(
            type=kind, nullable=output.nullable, edges=_band_edges(checker, value, what)
        )
    elif kind == "ratio":
        output = Output(type=kind, nullable=output.nullable, step=_ratio_step(checker, value, what))
    elif kind == "enum":
        values = checker.names(value, "values", f"{what} output")
        codes = tuple(code for code, _ in values or [])
        if (
            registered is not None
            and registered.output_type == "enum"
            and values is not None
            and set(codes) != set(registered.values)
        ):
            checker.problem(
                value.line_of("values"),
                f"{what} output `values` must be exactly {', '.join(registered.values)}, "
                f"the codes derivation `{derivation}` returns.",
            )
        output = Output(type=kind, nullable=output.nullable, values=codes)
    sound = not checker.failed
    checker.failed = failed or checker.failed
    return output if sound else None


def _band_edges(checker: _Checker, output: _Map, what: str) -> tuple[Decimal, ...]:
    edges = output.get("edges")
    line = output.line_of("edges")
    if "edges" not in output:
        return ()
    if not isinstance(edges, _Seq) or len(edges) < 2 or not all(map(_is_number, edges)):
        checker.problem(line, f"{what} band `edges` must be a list of at least two numbers.")
        return ()
    numbers = tuple(Decimal(str(edge)) for edge in edges)
    for index in range(1, len(numbers)):
        if numbers[index] <= numbers[index - 1]:
            checker.problem(
                edges.item_lines[index],
                f"{what} band `edges` must be strictly increasing "
                f"({_format_number(numbers[index])} follows {_format_number(numbers[index - 1])}).",
            )
    return numbers


def _ratio_step(checker: _Checker, output: _Map, what: str) -> Decimal | None:
    if "step" not in output:
        return None
    step = output["step"]
    if not _is_number(step) or Decimal(str(step)) <= 0:
        checker.problem(output.line_of("step"), f"{what} ratio `step` must be a positive number.")
        return None
    return Decimal(str(step))


_PURPOSE_REQUIRED = (
    "code",
    "title",
    "notice",
    "legal_basis",
    "features",
    "fetch_types",
    "max_validity_days",
    "max_frequency",
    "max_data_range_months",
    "max_data_life_days",
)


def _check_purposes(
    file: _File, declared: Mapping[str, tuple[str, ...]], features: Mapping[str, Feature]
) -> dict[str, Purpose]:
    """Parse the purpose catalog against the declared features and the sources' retention."""
    checker = _Checker(file)
    purposes: dict[str, Purpose] = {}
    seen: set[str] = set()
    for node, line in checker.entries("purposes"):
        checker.failed = False
        code = node.get("code")
        if isinstance(code, str) and _NAME.match(code):
            what = f"purpose `{code}`"
            if code in seen:
                checker.problem(node.line_of("code"), f"{what} is declared twice.")
            seen.add(code)
        else:
            what = f"purpose at line {line}"
            if "code" in node:
                checker.problem(
                    node.line_of("code"), f"{what}: `code` must be lower_snake_case text."
                )
        checker.keys(node, what, _PURPOSE_REQUIRED, ())
        title = checker.text(node, "title", what)
        notice = checker.text(node, "notice", what)
        legal_basis = checker.string(node, "legal_basis", what)
        limits = {
            key: checker.positive(node, key, what)
            for key in ("max_validity_days", "max_data_range_months", "max_data_life_days")
        }
        allowed = checker.names(node, "features", what)
        for name, item_line in allowed or []:
            if name not in declared:
                checker.problem(
                    item_line, f"{what} allows `{name}`, which features.yaml does not declare."
                )
                continue
            if unknown := [source for source in declared[name] if source not in load_sources()]:
                checker.problem(
                    item_line,
                    f"{what} allows `{name}`, which reads the undeclared source "
                    f"{', '.join(f'`{source}`' for source in unknown)} "
                    "(no source folder or plug-in declares it).",
                )
                continue
            window = features[name].params.get("window_months") if name in features else None
            range_limit = limits["max_data_range_months"]
            if window is not None and range_limit is not None and window > range_limit:
                checker.problem(
                    item_line,
                    f"{what} allows `{name}`, which looks back {window} months, "
                    f"beyond its max_data_range_months of {range_limit}.",
                )
        sources = _purpose_sources(allowed or [], features)
        _range_within_retention(checker, node, what, limits["max_data_range_months"], sources)
        fetch_types = checker.names(node, "fetch_types", what)
        for fetch_type, item_line in fetch_types or []:
            if fetch_type not in FETCH_TYPES:
                checker.problem(
                    item_line,
                    f"{what} has an unknown fetch type `{fetch_type}` "
                    f"(use {' or '.join(FETCH_TYPES)}).",
                )
        frequency = _frequency(checker, node, what)
        if checker.failed or not isinstance(code, str) or code in purposes:
            continue
        assert title and notice and legal_basis and allowed and fetch_types and frequency
        purposes[code] = Purpose(
            code=code,
            title=title,
            notice=notice,
            legal_basis=legal_basis,
            features=tuple(name for name, _ in allowed),
            fetch_types=tuple(fetch_type for fetch_type, _ in fetch_types),
            max_validity_days=_limit(limits["max_validity_days"]),
            max_frequency=frequency,
            max_data_range_months=_limit(limits["max_data_range_months"]),
            max_data_life_days=_limit(limits["max_data_life_days"]),
            sources=tuple(sources),
        )
    return purposes


def _purpose_sources(
    allowed: Sequence[tuple[str, int]], features: Mapping[str, Feature]
) -> dict[str, list[str]]:
    """The sources a purpose's (sound) features read, each with the features that read it."""
    readers: dict[str, list[str]] = {}
    for name, _ in allowed:
        for source in features[name].sources if name in features else ():
            readers.setdefault(source, []).append(name)
    # Catalog order of the sources, so every view lists them alike.
    return {source: readers[source] for source in load_sources() if source in readers}


def _range_within_retention(
    checker: _Checker,
    node: _Map,
    what: str,
    range_limit: int | None,
    sources: Mapping[str, Sequence[str]],
) -> None:
    """`max_data_range_months` must not reach further back than any source it reads keeps."""
    if range_limit is None:
        return
    for source, readers in sources.items():
        retention = load_sources().retention_months.get(source)
        if retention is not None and range_limit > retention:
            checker.problem(
                node.line_of("max_data_range_months"),
                f"{what} `max_data_range_months` of {range_limit} is above the {retention} "
                f"months `{source}` keeps (read by {', '.join(f'`{n}`' for n in readers)}).",
            )


def _limit(value: int | None) -> int:
    # Only reached when every check passed, so each ceiling was read.
    assert value is not None
    return value


def _frequency(checker: _Checker, node: _Map, what: str) -> Frequency | None:
    if "max_frequency" not in node:
        return None
    value = node["max_frequency"]
    if not isinstance(value, _Map):
        checker.problem(
            node.line_of("max_frequency"), f"{what} `max_frequency` must map `unit` and `value`."
        )
        return None
    checker.keys(value, f"{what} `max_frequency`", ("unit", "value"), ())
    unit = value.get("unit")
    if "unit" in value and unit not in FREQUENCY_UNITS:
        checker.problem(
            value.line_of("unit"),
            f"{what} `max_frequency` has an unknown unit `{unit}` "
            f"(use {', '.join(FREQUENCY_UNITS)}).",
        )
        unit = None
    count = checker.positive(value, "value", f"{what} `max_frequency`")
    if not isinstance(unit, str) or count is None:
        return None
    return Frequency(unit=unit, value=count)


def _load(directory: Path) -> tuple[Catalog | None, list[str]]:
    problems: list[str] = []
    features_file = _File(directory / FEATURES_FILE, problems)
    purposes_file = _File(directory / PURPOSES_FILE, problems)
    features, declared = _check_features(features_file)
    purposes = _check_purposes(purposes_file, declared, features)
    if problems:
        return None, problems
    version = catalog_version(features_file.data, purposes_file.data)
    catalog = Catalog(
        purposes=MappingProxyType(purposes),
        features=MappingProxyType(features),
        version=version,
    )
    return catalog, problems
