"""Revision 0002 hashes a log written before it into the tree it would have had all along."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text

from gateway.audit import repository
from gateway.audit.events import AuditEvent
from gateway.audit.merkle import MemoryTree, canonical_json, leaf_hash
from gateway.audit.models import AuditNode
from gateway.core.db import create_engine, create_sessionmaker
from gateway.core.migrate import upgrade
from tests.support.databases import (
    create_postgres_database,
    drop_postgres_database,
    require_postgres,
)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_existing_leaves_get_their_tree(backend: str, tmp_path: Path) -> None:
    if backend == "sqlite":
        url, server = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}", None
    else:
        server = require_postgres()
        url = await create_postgres_database(server, "lendgate_migration")
    engine = create_engine(url)
    try:
        await upgrade(url, "0001")
        leaves = [
            canonical_json(
                AuditEvent(type="admin.client_added", actor="operator:test").leaf(
                    seq, datetime(2026, 11, 23, tzinfo=UTC)
                )
            )
            for seq in range(13)
        ]
        async with engine.begin() as connection:
            for seq, leaf in enumerate(leaves):
                await connection.execute(
                    text(
                        "INSERT INTO audit_entries (seq, ts, type, leaf, leaf_hash) "
                        "VALUES (:seq, :ts, 'admin.client_added', :leaf, :hash)"
                    ),
                    {
                        "seq": seq,
                        "ts": datetime(2026, 11, 23, tzinfo=UTC),
                        "leaf": leaf.decode(),
                        "hash": leaf_hash(leaf).hex(),
                    },
                )
            await connection.execute(text("UPDATE audit_head SET size = 13"))

        await upgrade(url)

        tree = MemoryTree([leaf_hash(leaf) for leaf in leaves])
        async with create_sessionmaker(engine)() as session:
            frontier = await repository.head(session)
            stored = {
                (node.level, node.position): node.hash
                for node in (await session.scalars(select(AuditNode))).all()
            }
        assert (frontier.size, frontier.root()) == (13, tree.root())
        assert stored == {
            (level, index): tree.node((level, index))
            for level in range(4)
            for index in range(13 >> level)
        }
    finally:
        await engine.dispose()
        if server is not None:
            await drop_postgres_database(server, url)
