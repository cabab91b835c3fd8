"""Export bundles: a range of leaves with everything needed to check it offline."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.audit import merkle, proofs, repository, tree_heads
from gateway.audit.merkle import NodeId
from gateway.audit.verify import BUNDLE_FORMAT
from gateway.core.clock import utcnow
from gateway.core.errors import InvalidRequest
from gateway.core.inputs import parse_index, parse_rfc3339
from gateway.crypto.keys import KeyStore

MAX_EXPORT_LEAVES = 50_000


async def position_of(session: AsyncSession, value: str | None, size: int) -> int | None:
    """A leaf position from `from`/`to`: a leaf index, or an RFC 3339 time (first leaf at/after)."""
    if value is None:
        return None
    index = parse_index(value)
    if index is not None:
        return index
    moment = parse_rfc3339(value)
    if moment is None:
        raise InvalidRequest(
            "`from` and `to` are leaf indexes or RFC 3339 date-times with a UTC offset."
        )
    found = await repository.first_seq_at_or_after(session, moment)
    return size if found is None else min(found, size)


async def export_bundle(
    session: AsyncSession, keys: KeyStore, start: int | None, end: int | None
) -> dict[str, Any]:
    """Leaves `[start, end)` with everything needed to check them offline.

    The bundle carries the hashes of the perfect subtrees left of `start` and
    right of `end` (up to the newest signed head), so a verifier recomputes
    every root from the leaves it holds and those few hashes; every tree head
    inside the range with its co-signatures; and the gateway's JWKS. The witnesses'
    public keys (`witnesses`, last) are the client registry's to add.
    """
    closing = await tree_heads.issue_tree_head(session, keys)
    size = closing.tree_size
    start = 0 if start is None else start
    end = size if end is None else end
    if not 0 <= start <= end <= size:
        raise InvalidRequest(f"Need 0 ≤ from ≤ to ≤ the log's size, {size}.")
    if end - start > MAX_EXPORT_LEAVES:
        raise InvalidRequest(
            f"One bundle holds at most {MAX_EXPORT_LEAVES} leaves; export in ranges with from/to."
        )
    prefix, suffix = merkle.range_nodes(0, start), merkle.range_nodes(end, size)
    nodes = await proofs.stored_nodes(session, {*prefix, *suffix})
    heads = list(await repository.tree_heads_between(session, start, end))
    if size > end:
        heads.append(closing)
    views = await tree_heads.tree_head_views(session, heads)
    return {
        "format": BUNDLE_FORMAT,
        "generated_at": utcnow().isoformat(),
        "from": start,
        "to": end,
        "prefix": [_node_json(node, nodes[node]) for node in prefix],
        "leaves": [
            {
                "index": int(seq),
                "leaf": _leaf_json(leaf),
                "leaf_hash": bytes(tree_hash).hex() if tree_hash is not None else None,
            }
            for seq, leaf, tree_hash in await repository.leaves_between(session, start, end)
        ],
        "suffix": [_node_json(node, nodes[node]) for node in suffix],
        "tree_heads": [view.model_dump(mode="json") for view in views],
        # Retired keys too: a tree head stays evidence long after its key stopped signing.
        "jwks": {"keys": [*keys.jwks()["keys"], *keys.retired_jwks()["keys"]]},
    }


def witness_ids(bundle: Mapping[str, Any]) -> set[str]:
    """The witnesses whose co-signatures a bundle carries (their keys go in `witnesses`)."""
    return {
        cosignature["witness"]
        for head in bundle["tree_heads"]
        for cosignature in head["cosignatures"]
    }


def _node_json(node: NodeId, digest: bytes) -> dict[str, Any]:
    return {"level": node[0], "index": node[1], "hash": digest.hex()}


def _leaf_json(leaf: str) -> Any:
    """The leaf as a JSON object; a stored leaf that is not one is shipped as its raw text."""
    try:
        value = json.loads(leaf)
    except ValueError:
        return leaf
    return value if isinstance(value, dict) else leaf
