"""`lendgate db`: the database schema."""

from __future__ import annotations

import asyncio

import typer

from gateway.core.settings import get_settings

db_app = typer.Typer(help="The database schema.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the database to the latest schema."""
    from gateway.core.migrate import upgrade

    settings = get_settings()
    asyncio.run(upgrade(settings.resolved_database_url))
    typer.echo("database is at the latest schema")
