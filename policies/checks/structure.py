"""The shape of an entry: validated by its pydantic model, each error placed on its line.

Pydantic names where an error stands (`loc`) and what kind it is; the line-aware tree turns
the location into a line, and the messages below say what an author should write instead.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from policies.catalog import FETCH_TYPES, FREQUENCY_UNITS
from policies.lines import CatalogFile, LineMap, line_at, own_line
from policies.outputs import OUTPUT_TYPES
from policies.values import is_name

Model = TypeVar("Model")

TEXT_KEYS = frozenset({"description", "label", "explanation", "title", "notice", "why"})
LIST_KEYS = frozenset({"sources", "features", "fetch_types"})
TEXT_VALUE_KEYS = frozenset({"derivation", "legal_basis", "data_class"})
POSITIVE_KEYS = frozenset({"max_validity_days", "max_data_range_months", "max_data_life_days"})
_MISSING = frozenset({"missing", "missing_argument"})
_UNKNOWN = frozenset({"extra_forbidden", "unexpected_keyword_argument"})
_UNION_TAG = frozenset({"union_tag_invalid", "union_tag_not_found"})


def entry_name(node: LineMap, key: str, kind: str, line: int) -> str:
    """How problems name an entry: by its name when it has a sound one, else by its line."""
    value = node.get(key)
    return f"{kind} `{value}`" if is_name(value) else f"{kind} at line {line}"


def validate(
    file: CatalogFile, model: TypeAdapter[Model], node: LineMap, what: str
) -> Model | None:
    """The entry as `model` reads it, or None after recording each problem on its line."""
    try:
        return model.validate_python(node)
    except ValidationError as exc:
        reported: set[tuple[int, str]] = set()
        for error in _in_reading_order(exc.errors()):
            for problem in _problems(node, what, error):
                # Every item of a broken list reports the same fault on the list's line.
                if problem not in reported:
                    reported.add(problem)
                    file.problem(*problem)
        return None


def _in_reading_order(errors: list[ErrorDetails]) -> list[ErrorDetails]:
    """The entry's unknown then missing keys first; then field by field, likewise."""
    fields = list(dict.fromkeys(error["loc"][0] for error in errors if error["loc"]))

    def place(error: ErrorDetails) -> tuple[int, int, int]:
        kind = 0 if error["type"] in _UNKNOWN else 1 if error["type"] in _MISSING else 2
        if len(error["loc"]) == 1 and kind < 2:
            return (kind, 0, 0)
        return (2, fields.index(error["loc"][0]) if error["loc"] else 0, kind)

    return sorted(errors, key=place)


def _problems(node: LineMap, what: str, error: ErrorDetails) -> Iterator[tuple[int, str]]:
    """Where `error` stands in the entry `node`, and what it means for a catalog author."""
    path: list[str | int] = list(error["loc"])
    if path[:1] == ["output"] and len(path) > 1 and path[1] in OUTPUT_TYPES:
        del path[1]  # the discriminated union's tag, not a key of the file
    kind = error["type"]
    if kind == "too_short" and error.get("ctx", {}).get("actual_length", 0) < len(error["input"]):
        return  # the list is long enough; its items that are not names are reported
    if kind in _MISSING:
        yield own_line(node, path[:-1], node.line), _missing(what, path)
    elif kind in _UNKNOWN:
        yield line_at(node, path, node.line), _unknown(what, path)
    elif kind == "repeated":
        listed = line_at(node, path, node.line)
        value = _value_at(node, path)
        for index in error.get("ctx", {}).get("repeated", ()):
            line = line_at(value, [index], listed)
            yield line, f"{_list_owner(what, path)} lists `{value[index]}` twice."
    elif path[:1] == ["output"] and (kind in _UNION_TAG or path[1:] in ([], ["type"])):
        output = _value_at(node, ["output"])
        if not isinstance(output, LineMap):
            yield node.line_of("output"), f"{what} `output` must be a mapping with a `type`."
        else:
            yield (
                output.line_of("type"),
                f"{what} output `type` must be one of {', '.join(OUTPUT_TYPES)}.",
            )
    else:
        line = line_at(node, path, node.line)
        if path[:1] == ["output"] and path[1:2] == ["edges"]:
            line = line_at(node, path[:2], node.line)
        yield line, _invalid(what, path, error["input"])


def _value_at(node: Any, path: Sequence[str | int]) -> Any:
    for step in path:
        node = node[step]
    return node


def _missing(what: str, path: Sequence[str | int]) -> str:
    key, owner = path[-1], path[:-1]
    if len(owner) == 1 and owner[0] in TEXT_KEYS:
        return f"{what} `{owner[0]}` lacks its {key} text."
    return f"{_owner(what, owner)} lacks `{key}`."


def _unknown(what: str, path: Sequence[str | int]) -> str:
    key, owner = path[-1], path[:-1]
    if len(owner) == 1 and owner[0] in TEXT_KEYS:
        return f"{what} `{owner[0]}` has unknown `{key}`."
    return f"{_owner(what, owner)} has an unknown key `{key}`."


def _owner(what: str, owner: Sequence[str | int]) -> str:
    if list(owner) == ["output"]:
        return f"{what} output"
    if owner:
        return f"{what} `{owner[0]}`"
    return what


def _list_owner(what: str, path: Sequence[str | int]) -> str:
    if list(path[:1]) == ["source_fields"]:
        return f"{what} `source_fields` `{path[1]}`"
    if list(path[:1]) == ["output"]:
        return f"{what} output `{path[1]}`"
    return f"{what} `{path[0]}`"


def _invalid(what: str, path: Sequence[str | int], value: Any) -> str:
    """The message for a value of the wrong kind at `path`."""
    key = path[0]
    rest = list(path[1:])
    if key in ("name", "code"):
        return f"{what}: `{key}` must be lower_snake_case text."
    if key in TEXT_KEYS:
        if rest:
            return f"{what} `{key}` lacks its {rest[0]} text."
        return f"{what} `{key}` must map zh and en to text."
    if key in POSITIVE_KEYS:
        return f"{what} `{key}` must be a positive whole number."
    if key == "data_class" and isinstance(value, str) and value.strip():
        return f"{what} `data_class` must be one of C1, C2, C3 (JR/T 0171)."
    if key in TEXT_VALUE_KEYS:
        return f"{what} `{key}` must be non-empty text."
    if key == "fetch_types" and rest and isinstance(value, str):
        return f"{what} has an unknown fetch type `{value}` (use {' or '.join(FETCH_TYPES)})."
    if key == "params":
        if rest:
            return f"{what} parameter `{rest[0]}` must be a positive whole number."
        return f"{what} `params` must be a mapping."
    if key == "source_fields":
        if not rest:
            return f"{what} `source_fields` must map sources to fields."
        return _list_item(what, path, value)
    if key == "max_frequency":
        return _frequency(what, rest, value)
    if key == "output":
        return _output(what, rest, value)
    return _list_item(what, path, value)


def _list_item(what: str, path: Sequence[str | int], value: Any) -> str:
    """A list that is not a non-empty list, or an item of it that is not a name."""
    owner = _list_owner(what, path)
    if isinstance(path[-1], int):
        return f"{owner} lists {value!r}, which is not a name."
    return f"{owner} must be a non-empty list."


def _frequency(what: str, rest: Sequence[str | int], value: Any) -> str:
    if rest == ["unit"]:
        return (
            f"{what} `max_frequency` has an unknown unit `{value}` "
            f"(use {', '.join(FREQUENCY_UNITS)})."
        )
    if rest == ["value"]:
        return f"{what} `max_frequency` `value` must be a positive whole number."
    return f"{what} `max_frequency` must map `unit` and `value`."


def _output(what: str, rest: Sequence[str | int], value: Any) -> str:
    if rest[:1] == ["nullable"]:
        return f"{what} output `nullable` must be true/false."
    if rest[:1] == ["edges"]:
        return f"{what} band `edges` must be a list of at least two numbers."
    if rest[:1] == ["step"]:
        return f"{what} ratio `step` must be a positive number."
    return _list_item(what, ["output", *rest], value)
