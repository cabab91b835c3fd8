"""The Merkle tree as the database keeps it: written with each leaf, read in O(log n) per proof."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from gateway.audit import proofs, repository, tree_heads
from gateway.audit.merkle import MemoryTree
from gateway.audit.models import AuditEntry, AuditNode
from gateway.core.db import create_engine, create_sessionmaker
from gateway.crypto.keys import KeyStore
from tests.support.merkle import CT_LEAVES, CT_PATHS, CT_PROOFS, CT_ROOTS
from tests.support.stack import Stack


@pytest.fixture
async def engine(fresh_database: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a database of this test's own."""
    engine = create_engine(fresh_database)
    yield engine
    await engine.dispose()


async def grow(engine: AsyncEngine, digests: list[bytes]) -> None:
    """Append leaf hashes to the stored tree exactly as `audit_service.append` does."""
    async with create_sessionmaker(engine)() as session, session.begin():
        for digest in digests:
            reservation = await repository.reserve_seq(session)
            frontier = reservation.frontier
            entry = AuditEntry(
                seq=reservation.seq,
                ts=datetime.now(UTC),
                type="test.leaf",
                leaf="{}",
                leaf_hash=digest.hex(),
            )
            await repository.add_leaves(session, [entry], frontier, frontier.append(digest))


async def test_the_stored_tree_gives_the_reference_roots_and_proofs(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    """The CT reference vectors, computed from the nodes stored in the database."""
    await grow(engine, CT_LEAVES)
    keys = KeyStore.open(tmp_path / "keys", create_missing=True)
    async with create_sessionmaker(engine)() as session:
        for index, size, path in CT_PATHS:
            proof = await proofs.inclusion_proof(session, index, size)
            assert proof.inclusion_path == path
            assert proof.root_hash == CT_ROOTS[size - 1]
            assert proof.leaf_hash == CT_LEAVES[index].hex()
        for first, second, path in CT_PROOFS:
            consistency = await proofs.consistency_proof(session, first, second)
            assert consistency.consistency_path == path
            assert consistency.first_root_hash == CT_ROOTS[first - 1]
            assert consistency.second_root_hash == CT_ROOTS[second - 1]
        head = await tree_heads.issue_tree_head(session, keys)
        await session.commit()
    assert (head.tree_size, head.root_hash) == (8, CT_ROOTS[7])


async def test_a_proof_costs_the_same_few_queries_whatever_the_size(engine: AsyncEngine) -> None:
    """No tree is rebuilt per request: one query for the head, one for all nodes, one for a head."""
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    digests = [bytes([i % 256, i // 256]) * 16 for i in range(700)]
    await grow(engine, digests[:20])
    sessionmaker = create_sessionmaker(engine)

    async def queries_for_proofs(session: AsyncSession, size: int) -> int:
        statements.clear()
        event.listen(engine.sync_engine, "before_cursor_execute", count)
        try:
            await proofs.inclusion_proof(session, size // 3, size)
            inclusion = len(statements)
            statements.clear()
            await proofs.consistency_proof(session, size // 5 + 1, size)
            return max(inclusion, len(statements))
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", count)

    async with sessionmaker() as session:
        small = await queries_for_proofs(session, 20)
    await grow(engine, digests[20:])
    async with sessionmaker() as session:
        large = await queries_for_proofs(session, 700)
    assert small == large <= 3, statements


async def test_every_leaf_and_completed_subtree_is_stored_with_its_leaf(stack: Stack) -> None:
    regulator = await stack.register("regulator", name="监管机构")
    async with stack.regulator_client(regulator) as client:
        await client.tree_head()
    async with stack.context.sessionmaker() as session:
        entries = (await session.scalars(select(AuditEntry).order_by(AuditEntry.seq))).all()
        stored = {
            (node.level, node.position): node.hash
            for node in (await session.scalars(select(AuditNode))).all()
        }
        frontier = await repository.head(session)
    assert [entry.seq for entry in entries] == list(range(len(entries)))
    tree = MemoryTree([bytes.fromhex(entry.leaf_hash) for entry in entries])
    expected = {
        (level, index): tree.node((level, index))
        for level in range(len(entries).bit_length())
        for index in range(len(entries) >> level)
    }
    assert stored == expected
    assert frontier.size == len(entries)
    assert frontier.root() == tree.root()
