"""The Merkle tree agrees with Certificate Transparency's reference implementation.

The known answers (`tests/support/merkle.py`) are those the RFC 6962 reference
implementation was tested with; leaves are numbered from 0, as in RFC 9162.
"""

from __future__ import annotations

import hashlib
import random

import pytest

from gateway.audit.merkle import (
    EMPTY_ROOT,
    Frontier,
    MemoryTree,
    ProofError,
    consistency_ranges,
    inclusion_ranges,
    leaf_hash,
    node_hash,
    range_nodes,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)
from tests.support.merkle import CT_EMPTY_TREE_HASH, CT_LEAVES, CT_PATHS, CT_PROOFS, CT_ROOTS


def hexes(hashes: list[bytes]) -> list[str]:
    return [digest.hex() for digest in hashes]


# -- RFC 6962's own recursive definitions, written out naively to check the fast code ------


def reference_root(leaves: list[bytes]) -> bytes:
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node_hash(reference_root(leaves[:k]), reference_root(leaves[k:]))


def reference_path(index: int, leaves: list[bytes]) -> list[bytes]:
    if len(leaves) <= 1:
        return []
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    if index < k:
        return [*reference_path(index, leaves[:k]), reference_root(leaves[k:])]
    return [*reference_path(index - k, leaves[k:]), reference_root(leaves[:k])]


def reference_subproof(m: int, leaves: list[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [reference_root(leaves)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return [*reference_subproof(m, leaves[:k], complete), reference_root(leaves[k:])]
    return [*reference_subproof(m - k, leaves[k:], False), reference_root(leaves[:k])]


# -- the published vectors ----------------------------------------------------------------


def test_the_empty_tree_and_every_reference_root() -> None:
    assert EMPTY_ROOT.hex() == CT_EMPTY_TREE_HASH
    assert Frontier().root().hex() == CT_EMPTY_TREE_HASH
    tree = MemoryTree(CT_LEAVES)
    frontier = Frontier()
    for size, expected in enumerate(CT_ROOTS, start=1):
        frontier.append(CT_LEAVES[size - 1])
        assert tree.root(size).hex() == expected
        assert frontier.root().hex() == expected, f"appending leaf by leaf, size {size}"


@pytest.mark.parametrize(("index", "size", "path"), CT_PATHS)
def test_reference_inclusion_paths(index: int, size: int, path: list[str]) -> None:
    proof = MemoryTree(CT_LEAVES).inclusion_proof(index, size)
    assert hexes(proof) == path
    root = bytes.fromhex(CT_ROOTS[size - 1])
    assert verify_inclusion(index, size, CT_LEAVES[index], proof, root)


@pytest.mark.parametrize(("first", "second", "path"), CT_PROOFS)
def test_reference_consistency_proofs(first: int, second: int, path: list[str]) -> None:
    proof = MemoryTree(CT_LEAVES).consistency_proof(first, second)
    assert hexes(proof) == path
    first_root, second_root = (bytes.fromhex(CT_ROOTS[n - 1]) for n in (first, second))
    assert verify_consistency(first, second, first_root, second_root, proof)


# -- agreement with the recursive definitions, and refusals -------------------------------


def test_every_proof_of_every_tree_up_to_70_leaves_matches_the_definition() -> None:
    leaves = [leaf_hash(bytes([i])) for i in range(70)]
    for size in range(1, len(leaves) + 1):
        tree = MemoryTree(leaves[:size])
        assert tree.root() == reference_root(leaves[:size])
        for index in range(size):
            proof = tree.inclusion_proof(index)
            assert proof == reference_path(index, leaves[:size])
            assert verify_inclusion(index, size, leaves[index], proof, tree.root())
        for first in range(1, size + 1):
            proof = tree.consistency_proof(first)
            assert proof == reference_subproof(first, leaves[:size], True)
            assert verify_consistency(first, size, tree.root(first), tree.root(), proof)


def test_wrong_proofs_do_not_verify() -> None:
    tree = MemoryTree(CT_LEAVES)
    root, proof = tree.root(), tree.inclusion_proof(5)
    assert not verify_inclusion(4, 8, CT_LEAVES[5], proof, root)  # another index
    assert not verify_inclusion(5, 16, CT_LEAVES[5], proof, root)  # another size
    assert not verify_inclusion(5, 4, CT_LEAVES[5], proof, root)
    assert not verify_inclusion(5, 8, CT_LEAVES[4], proof, root)  # another leaf
    assert not verify_inclusion(5, 8, CT_LEAVES[5], proof[:-1], root)  # too short
    assert not verify_inclusion(5, 8, CT_LEAVES[5], [*proof, root], root)  # too long
    for position in range(len(proof)):
        broken = list(proof)
        broken[position] = EMPTY_ROOT
        assert not verify_inclusion(5, 8, CT_LEAVES[5], broken, root)
    with pytest.raises(ProofError):
        root_from_inclusion_proof(8, 8, CT_LEAVES[0], proof)

    consistency = tree.consistency_proof(6)
    old = tree.root(6)
    assert not verify_consistency(6, 8, root, old, consistency)  # roots swapped
    assert not verify_consistency(5, 8, old, root, consistency)
    assert not verify_consistency(6, 8, old, root, [])
    assert not verify_consistency(6, 8, old, root, consistency[:-1])
    assert not verify_consistency(6, 8, old, root, [*consistency, root])
    assert not verify_consistency(8, 6, root, old, consistency)  # time runs backwards


def test_range_nodes_tile_any_range_with_aligned_perfect_subtrees() -> None:
    rng = random.Random(7)
    for _ in range(500):
        start = rng.randrange(0, 5000)
        end = start + rng.randrange(0, 5000)
        covered = start
        for level, index in range_nodes(start, end):
            assert index << level == covered
            covered += 1 << level
        assert covered == end
        assert len(range_nodes(start, end)) <= 2 * max(1, end.bit_length())


def test_a_frontier_resumes_from_stored_bytes_and_reports_the_nodes_it_makes() -> None:
    leaves = [hashlib.sha256(str(i).encode()).digest() for i in range(37)]
    tree = MemoryTree(leaves)
    frontier = Frontier()
    made: dict[tuple[int, int], bytes] = {}
    for size, digest in enumerate(leaves, start=1):
        frontier = Frontier.from_bytes(frontier.size, frontier.to_bytes())
        for level, index, node in frontier.append(digest):
            made[(level, index)] = node
        assert frontier.root() == tree.root(size)
    # Every perfect subtree was made exactly once, by the leaf that completed it.
    expected = {(level, index) for level in range(6) for index in range(37 >> level)}
    assert set(made) == expected
    assert all(made[node] == tree.node(node) for node in made)


def test_proof_ranges_need_logarithmically_many_nodes() -> None:
    size = 10**7 + 12345
    for index in (0, 1, size // 2, size - 1):
        ranges = inclusion_ranges(index, size)
        assert len(ranges) <= size.bit_length()
        assert sum(len(range_nodes(a, b)) for a, b in ranges) <= 2 * size.bit_length()
    ranges = consistency_ranges(size // 3, size)
    assert sum(len(range_nodes(a, b)) for a, b in ranges) <= 2 * size.bit_length()
