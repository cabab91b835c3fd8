"""What every operator command shares: who acts, and the database it acts on."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from gateway.core.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

OPERATOR = "operator:cli"
"""The actor every admin action is recorded under."""


@contextlib.asynccontextmanager
async def operator_engine(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions for an operator command that commits in several transactions."""
    from gateway.core.db import create_engine, create_sessionmaker
    from gateway.core.migrate import upgrade

    if settings.is_development:
        await upgrade(settings.resolved_database_url)
    engine = create_engine(settings.resolved_database_url)
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def operator_session(settings: Settings) -> AsyncIterator[AsyncSession]:
    """One transaction for an operator command (in development, on a migrated database)."""
    from gateway.core.db import create_engine, create_sessionmaker
    from gateway.core.migrate import upgrade

    if settings.is_development:
        await upgrade(settings.resolved_database_url)
    engine = create_engine(settings.resolved_database_url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            yield session
    finally:
        await engine.dispose()
