"""RFC 9162 proofs over the stored tree: inclusion of a leaf, consistency of two sizes."""

from __future__ import annotations

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.audit import merkle, repository, tree_heads
from gateway.audit.merkle import NodeId
from gateway.audit.schemas import ConsistencyProof, InclusionProof
from gateway.core.errors import AuditUnavailable, InvalidRequest

log = structlog.get_logger()


async def inclusion_proof(
    session: AsyncSession, index: int, tree_size: int | None
) -> InclusionProof:
    """RFC 9162 inclusion proof of leaf `index` in the tree of `tree_size` leaves."""
    current = (await repository.head(session)).size
    size = current if tree_size is None else tree_size
    if not 0 < size <= current:
        raise InvalidRequest(f"tree_size must be between 1 and the log's size, {current}.")
    if not 0 <= index < size:
        raise InvalidRequest(f"index must be between 0 and tree_size - 1 ({size - 1}).")
    path = merkle.inclusion_ranges(index, size)
    root = [(0, size)]
    nodes = await stored_nodes(session, merkle.nodes_for([*path, *root]) | {(0, index)})
    head = await repository.tree_head_at(session, size)
    return InclusionProof(
        leaf_index=index,
        tree_size=size,
        leaf_hash=nodes[(0, index)].hex(),
        inclusion_path=[h.hex() for h in merkle.hashes_for(path, nodes)],
        root_hash=merkle.hashes_for(root, nodes)[0].hex(),
        tree_head=(await tree_heads.tree_head_views(session, [head]))[0] if head else None,
    )


async def consistency_proof(session: AsyncSession, first: int, second: int) -> ConsistencyProof:
    """RFC 9162 consistency proof from the tree of `first` leaves to the tree of `second`."""
    current = (await repository.head(session)).size
    if not 0 < first <= second <= current:
        raise InvalidRequest(f"Need 0 < first ≤ second ≤ the log's size, {current}.")
    path = merkle.consistency_ranges(first, second)
    roots = [(0, first), (0, second)]
    nodes = await stored_nodes(session, merkle.nodes_for([*path, *roots]))
    first_root, second_root = merkle.hashes_for(roots, nodes)
    return ConsistencyProof(
        tree_size_1=first,
        tree_size_2=second,
        consistency_path=[h.hex() for h in merkle.hashes_for(path, nodes)],
        first_root_hash=first_root.hex(),
        second_root_hash=second_root.hex(),
    )


async def stored_nodes(session: AsyncSession, wanted: set[NodeId]) -> dict[NodeId, bytes]:
    """The stored hashes of `wanted` subtrees; a missing one means the tree is damaged."""
    nodes = await repository.nodes(session, wanted)
    if len(nodes) != len(wanted):
        missing = sorted(wanted - nodes.keys())[:5]
        log.error("audit.tree_incomplete", missing=[f"{level}/{index}" for level, index in missing])
        raise AuditUnavailable("The audit tree is incomplete; the operator has been alerted.")
    return nodes
