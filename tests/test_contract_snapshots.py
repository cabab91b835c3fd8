"""The public surface a restructuring must not move: the OpenAPI document and the CLI's help.

The snapshots in `tests/snapshots/` were taken from the gateway as released; a change to
either is a change to the contract and is made on purpose, by regenerating the snapshot
with `python -m tests.snapshots` and reviewing the diff.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.snapshots import SNAPSHOTS, cli_help, openapi_document


def test_the_openapi_document_is_the_released_one(tmp_path: Path) -> None:
    released = json.loads((SNAPSHOTS / "openapi.json").read_text(encoding="utf-8"))
    assert openapi_document(tmp_path) == released


def test_every_cli_help_text_is_the_released_one() -> None:
    released = (SNAPSHOTS / "cli_help.txt").read_text(encoding="utf-8")
    assert cli_help() == released
