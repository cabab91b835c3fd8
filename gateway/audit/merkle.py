"""RFC 6962 / RFC 9162 hashing of audit leaves (pure, no I/O)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"


def canonical_json(value: Mapping[str, Any]) -> bytes:
    """Sorted keys, no whitespace, UTF-8: the exact bytes a leaf is hashed over."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def leaf_hash(leaf: bytes) -> bytes:
    """SHA-256(0x00 ‖ leaf)."""
    return hashlib.sha256(LEAF_PREFIX + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 ‖ left ‖ right)."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()
