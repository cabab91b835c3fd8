"""Reading a catalog file so that every mapping, key and list item keeps its line.

Problems are reported as `FILE:LINE: message`; the parsed tree remembers where each node
stands, so a problem found on a value (by a model or a check) can point at its line.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml


class LineMap(dict[str, Any]):
    """A YAML mapping that remembers where it and each of its keys stand."""

    def __init__(self, line: int):
        super().__init__()
        self.line = line
        self.key_lines: dict[str, int] = {}

    def line_of(self, key: str) -> int:
        """The line of `key`, or of the mapping itself when the key is absent."""
        return self.key_lines.get(key, self.line)


class LineSeq(list[Any]):
    """A YAML sequence that remembers where it and each of its items stand."""

    def __init__(self, line: int):
        super().__init__()
        self.line = line
        self.item_lines: list[int] = []


def _walk(node: Any, path: Sequence[str | int]) -> Iterator[tuple[int, Any]]:
    """Each step of `path` that exists from `node`, with its line and value."""
    for step in path:
        if isinstance(node, LineMap) and isinstance(step, str) and step in node:
            line, node = node.line_of(step), node[step]
        elif isinstance(node, LineSeq) and isinstance(step, int) and 0 <= step < len(node):
            line, node = node.item_lines[step], node[step]
        else:
            return
        yield line, node


def line_at(node: Any, path: Sequence[str | int], default: int) -> int:
    """The line of the value `path` leads to from `node`, or of the nearest one that exists."""
    line = getattr(node, "line", default)
    for step_line, _ in _walk(node, path):
        line = step_line
    return line


def own_line(node: Any, path: Sequence[str | int], default: int) -> int:
    """Where the mapping or list `path` leads to starts (its first item), else `line_at`."""
    steps = list(_walk(node, path))
    target = steps[-1][1] if steps else node
    if len(steps) == len(path) and isinstance(target, LineMap | LineSeq):
        return target.line
    return line_at(node, path, default)


class CatalogFile:
    """One catalog file being read: its bytes, parsed tree and the problems found in it."""

    def __init__(self, path: Path, problems: list[str], data: bytes | None = None):
        """Read `path` (or take `data`, a document named `path` that is not on disk)."""
        self.path = path
        self.problems = problems
        self.data = b""
        self.tree: Any = None
        self._scalars = yaml.constructor.SafeConstructor()
        try:
            self.data = path.read_bytes() if data is None else data
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

    def entries(self, key: str) -> list[tuple[LineMap, int]]:
        """The items of the file's one top-level list `key`, each with its line."""
        tree = self.tree
        if tree is None:
            return []
        if not isinstance(tree, LineMap) or set(tree) != {key}:
            self.problem(getattr(tree, "line", 1), f"the file must hold one key, `{key}`.")
            if not isinstance(tree, LineMap):
                return []
        value = tree.get(key)
        if not isinstance(value, LineSeq) or not value:
            self.problem(tree.line_of(key), f"`{key}` must be a non-empty list.")
            return []
        entries = []
        for item, line in zip(value, value.item_lines, strict=True):
            if isinstance(item, LineMap):
                entries.append((item, line))
            else:
                self.problem(line, f"each entry of `{key}` must be a mapping.")
        return entries

    def _convert(self, node: yaml.Node) -> Any:
        line = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            mapping = LineMap(line)
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
            sequence = LineSeq(line)
            for item in node.value:
                sequence.append(self._convert(item))
                sequence.item_lines.append(item.start_mark.line + 1)
            return sequence
        return self._scalars.construct_object(node)
