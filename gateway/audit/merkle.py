"""RFC 6962 / RFC 9162 Merkle trees over audit leaves (pure, no I/O).

A node is named by `(level, index)`: the perfect subtree of `2**level` leaves that
starts at leaf `index * 2**level`. Those are the only hashes ever stored; every
other subtree hash in a proof (the ragged right edge of a tree whose size is not a
power of two) is folded from at most one stored node per level. So a proof or a
root needs O(log n) stored nodes, and the functions below say exactly which.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
"""The root of the empty tree: SHA-256 of nothing (RFC 6962 §2.1)."""

NodeId = tuple[int, int]
"""`(level, index)` of a perfect subtree."""

LeafRange = tuple[int, int]
"""Leaves `[start, end)`."""


class ProofError(ValueError):
    """A proof that cannot be checked: wrong length, or sizes that make no sense."""


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


def split_point(size: int) -> int:
    """The largest power of two strictly below `size` (RFC 6962's `k`), for `size` ≥ 2."""
    return 1 << ((size - 1).bit_length() - 1)


# --- which stored nodes a range, a root or a proof needs ----------------------------


def range_nodes(start: int, end: int) -> list[NodeId]:
    """The perfect subtrees tiling leaves `[start, end)`, left to right, each as large as fits."""
    nodes = []
    while start < end:
        level = (end - start).bit_length() - 1
        if start:
            level = min(level, (start & -start).bit_length() - 1)
        nodes.append((level, start >> level))
        start += 1 << level
    return nodes


def fold(hashes: Sequence[bytes]) -> bytes:
    """The hash of a subtree from its perfect tiles, largest first (the RFC 6962 recursion)."""
    if not hashes:
        return EMPTY_ROOT
    folded = hashes[-1]
    for left in reversed(hashes[:-1]):
        folded = node_hash(left, folded)
    return folded


def inclusion_ranges(index: int, size: int) -> list[LeafRange]:
    """The subtrees whose hashes form the inclusion proof of leaf `index`, leaf to root.

    RFC 9162 §2.1.3.1: PATH(m, D[n]) is PATH of the half holding m, then the
    hash of the other half.
    """
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size} leaves")
    siblings: list[LeafRange] = []
    start = 0
    while size > 1:
        k = split_point(size)
        if index < k:
            siblings.append((start + k, start + size))
            size = k
        else:
            siblings.append((start, start + k))
            index -= k
            start += k
            size -= k
    return siblings[::-1]


def consistency_ranges(first: int, second: int) -> list[LeafRange]:
    """The subtrees whose hashes form the consistency proof from `first` to `second` leaves.

    RFC 9162 §2.1.4.1: SUBPROOF(m, D[n], b), walked from the root; each step adds
    the hash of the half the old tree does not decide, and the walk ends at a
    subtree wholly inside the old tree (recorded unless it is the old root itself).
    """
    if not 0 < first <= second:
        raise ProofError(f"no consistency proof from {first} to {second} leaves")
    ranges: list[LeafRange] = []
    start, size, known_root = 0, second, True
    while first != size:
        k = split_point(size)
        if first <= k:
            ranges.append((start + k, start + size))
            size = k
        else:
            ranges.append((start, start + k))
            first -= k
            start += k
            size -= k
            known_root = False
    if not known_root:
        ranges.append((start, start + size))
    return ranges[::-1]


def nodes_for(ranges: Iterable[LeafRange]) -> set[NodeId]:
    """Every stored node the hashes of `ranges` are folded from."""
    return {node for start, end in ranges for node in range_nodes(start, end)}


def hashes_for(ranges: Iterable[LeafRange], nodes: Mapping[NodeId, bytes]) -> list[bytes]:
    """The hash of each range, folded from stored `nodes` (which must hold `nodes_for(ranges)`)."""
    return [fold([nodes[node] for node in range_nodes(start, end)]) for start, end in ranges]


# --- building a tree a leaf (or a perfect subtree) at a time ------------------------


@dataclass
class Frontier:
    """The right edge of a tree: one hash per set bit of its size, the largest subtree first.

    It is all an append needs (the new node and the parents it completes follow
    from it) and all a root needs. Appending a whole perfect subtree at an
    aligned position is allowed too, which is how a verifier resumes a tree from
    the hashes covering the leaves it was not given.
    """

    size: int = 0
    hashes: list[bytes] = field(default_factory=list)

    @classmethod
    def from_bytes(cls, size: int, packed: bytes) -> Frontier:
        """The frontier stored as the concatenated hashes of a tree of `size` leaves."""
        hashes = [packed[at : at + HASH_SIZE] for at in range(0, len(packed), HASH_SIZE)]
        if len(hashes) != size.bit_count() or any(len(h) != HASH_SIZE for h in hashes):
            raise ValueError(f"a frontier of {size} leaves has {size.bit_count()} hashes")
        return cls(size, hashes)

    def to_bytes(self) -> bytes:
        """The hashes, concatenated, for storage."""
        return b"".join(self.hashes)

    def nodes(self) -> list[NodeId]:
        """Where each frontier hash sits in the tree."""
        return range_nodes(0, self.size)

    def append(self, digest: bytes, level: int = 0) -> list[tuple[int, int, bytes]]:
        """Add a leaf hash (or a perfect subtree of `2**level` leaves); return the nodes made."""
        if self.size % (1 << level):
            raise ValueError(f"a subtree of level {level} cannot start at leaf {self.size}")
        index = self.size >> level
        created = [(level, index, digest)]
        while index & 1:
            digest = node_hash(self.hashes.pop(), digest)
            level += 1
            index >>= 1
            created.append((level, index, digest))
        self.hashes.append(digest)
        self.size += 1 << created[0][0]
        return created

    def root(self) -> bytes:
        """The Merkle tree hash of the tree so far."""
        return fold(self.hashes)

    def copy(self) -> Frontier:
        """An independent copy."""
        return Frontier(self.size, list(self.hashes))


def tree_levels(leaf_hashes: Sequence[bytes]) -> list[list[bytes]]:
    """Every perfect subtree hash of a tree held in memory: `levels[level][index]`."""
    levels = [list(leaf_hashes)]
    while len(levels[-1]) > 1:
        below = levels[-1]
        levels.append([node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)])
    return levels


class MemoryTree:
    """A tree held in memory (tests, benchmarks, and checking a whole bundle)."""

    def __init__(self, leaf_hashes: Sequence[bytes]):
        self.size = len(leaf_hashes)
        self._levels = tree_levels(leaf_hashes)

    def node(self, node: NodeId) -> bytes:
        """The hash of one perfect subtree."""
        level, index = node
        return self._levels[level][index]

    def _hashes(self, ranges: Iterable[LeafRange]) -> list[bytes]:
        ranges = list(ranges)
        return hashes_for(ranges, {node: self.node(node) for node in nodes_for(ranges)})

    def root(self, size: int | None = None) -> bytes:
        """The root of the first `size` leaves (default: all)."""
        size = self.size if size is None else size
        return fold([self.node(node) for node in range_nodes(0, size)])

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 9162 inclusion proof of leaf `index` in the first `size` leaves."""
        return self._hashes(inclusion_ranges(index, self.size if size is None else size))

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        """RFC 9162 consistency proof from `first` leaves to `second` (default: all)."""
        return self._hashes(consistency_ranges(first, self.size if second is None else second))


# --- verification (RFC 9162 §2.1.3.2 and §2.1.4.2) -----------------------------------


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root that `proof` leads to from leaf hash `leaf`; `ProofError` if it cannot fit."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size} leaves")
    fn, sn = index, size - 1
    digest = leaf
    for sibling in proof:
        if sn == 0:
            raise ProofError("the proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            digest = node_hash(sibling, digest)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            digest = node_hash(digest, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the proof is shorter than the tree is deep")
    return digest


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> bool:
    """Whether `proof` shows leaf hash `leaf` at `index` in the tree with `root`."""
    try:
        return root_from_inclusion_proof(index, size, leaf, proof) == root
    except ProofError:
        return False


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether `proof` shows the tree of `first` leaves is a prefix of the tree of `second`."""
    if not 0 < first <= second:
        return first == 0 <= second and not proof
    if first == second:
        return not proof and first_root == second_root
    path = list(proof)
    if not path:
        return False
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for step in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(step, fr)
            sr = node_hash(step, sr)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, step)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root
