"""Run the Alembic migrations from code: `lendgate db upgrade`, the app in development, tests."""

from __future__ import annotations

from importlib.resources import files

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from gateway.core.db import create_engine

MIGRATIONS_PACKAGE = "migrations"


def alembic_config() -> Config:
    """The Alembic configuration, built in code around the installed `migrations` package."""
    config = Config()
    # The package is installed as plain files (wheel or editable), never zipped:
    # Alembic reads `env.py` and `versions/` from that directory.
    config.set_main_option("script_location", str(files(MIGRATIONS_PACKAGE)))
    return config


async def upgrade(url: str, revision: str = "heads") -> None:
    """Bring the database at `url` to `revision` (default: every head of every branch)."""
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade, revision)
    finally:
        await engine.dispose()


def _upgrade(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)
