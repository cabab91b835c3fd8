"""Audit leaves: canonical JSON and RFC 6962 leaf and node hashes."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from gateway.audit.events import LEAF_KEYS, AuditEvent
from gateway.audit.merkle import canonical_json, leaf_hash, node_hash


def test_canonical_json_sorts_keys_and_drops_whitespace() -> None:
    assert canonical_json({"b": 1, "a": ["张", 2]}) == '{"a":["张",2],"b":1}'.encode()


def test_leaf_and_node_hashes_follow_rfc6962() -> None:
    # RFC 6962 §2.1: the hash of the empty leaf is SHA-256(0x00).
    assert leaf_hash(b"").hex() == (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )
    left, right = leaf_hash(b"\x00"), leaf_hash(b"\x10")
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()


def test_an_event_becomes_a_leaf_with_exactly_the_design_keys() -> None:
    event = AuditEvent(
        type="release.granted",
        actor="lender:lnd_x",
        consent_id="cns_1",
        features=("b", "a"),
        source_fields=("s.y", "s.x"),
    )
    leaf = event.leaf(41, datetime(2026, 11, 23, 1, 2, 3, 456789, tzinfo=UTC))
    assert tuple(sorted(leaf)) == tuple(sorted(LEAF_KEYS))
    assert leaf["seq"] == 41
    assert leaf["ts"] == "2026-11-23T01:02:03.456Z"
    assert leaf["features"] == ["a", "b"]
    assert leaf["source_fields"] == ["s.x", "s.y"]
