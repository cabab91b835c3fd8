"""Alembic environment: runs on a connection handed over by `gateway.core.migrate`, or its own."""

from __future__ import annotations

import asyncio
import importlib

from alembic import context
from sqlalchemy.engine import Connection

from gateway.core.db import Base
from gateway.core.settings import get_settings

# Every domain's tables, imported once so that Alembic sees the whole schema.
for _domain in (
    "consent.models",
    "consent.notifications.models",
    "gateway.audit.models",
    "gateway.borrowers.models",
    "gateway.clients.models",
    "gateway.releases.models",
    "gateway.retention.models",
    "gateway.security.models",
):
    importlib.import_module(_domain)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_with_own_engine(url: str) -> None:
    from gateway.core.db import create_engine

    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


def run() -> None:
    """Use the caller's connection if it passed one; otherwise connect from the settings."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.config.attributes.get("url") or get_settings().resolved_database_url
    asyncio.run(_run_with_own_engine(url))


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `lendgate db upgrade`")
run()
