"""`lendgate audit verify` on inputs it cannot check at all: exit 2, saying why."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.audit import verify


def test_what_is_not_a_bundle_cannot_be_verified(tmp_path: Path) -> None:
    missing = verify(tmp_path / "nowhere.json")
    assert missing.exit_code == 2
    assert "cannot read" in missing.output

    (tmp_path / "text.json").write_text("not json")
    assert verify(tmp_path / "text.json").exit_code == 2

    (tmp_path / "other.json").write_text(json.dumps({"format": "something else"}))
    other = verify(tmp_path / "other.json")
    assert other.exit_code == 2
    assert "not a lendgate-audit-bundle/1 bundle" in other.output

    bundle = {
        "format": "lendgate-audit-bundle/1",
        "from": 0,
        "to": 0,
        "prefix": [],
        "leaves": [],
        "suffix": [],
        "tree_heads": [],
        "jwks": {"keys": []},
    }
    (tmp_path / "empty.json").write_text(json.dumps(bundle))
    empty = verify(tmp_path / "empty.json", "--previous", "not-a-tree-head")
    assert empty.exit_code == 2
    assert "earlier tree head" in empty.output
    # Nothing signed closes an empty bundle: that is a failed check, not an unreadable input.
    unsigned = verify(tmp_path / "empty.json")
    assert unsigned.exit_code == 1
    assert "no signed tree head of size 0" in unsigned.output
