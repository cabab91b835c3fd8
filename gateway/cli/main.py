"""`lendgate`: the operator's command line. Every admin action is an audit event.

One module per command group; this one holds the root and the commands that run services.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from gateway.cli.audit import audit_app
from gateway.cli.clients import clients_app
from gateway.cli.db import db_app
from gateway.cli.keys import keys_app
from gateway.cli.pii import pii_app
from gateway.cli.policy import policy_app
from gateway.cli.products import products_app
from gateway.cli.simulators import simulators_app
from gateway.core.settings import get_settings

app = typer.Typer(help="Lendgate: consent-bound data sharing for lending.", no_args_is_help=True)


@app.command()
def serve(
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            help="Processes sharing the port (default LENDGATE_WORKERS, else one per CPU core "
            "in production and one in development).",
        ),
    ] = None,
) -> None:
    """Run the gateway (host and port from LENDGATE_HOST / LENDGATE_PORT)."""
    import uvicorn

    from gateway.core.migrate import upgrade
    from gateway.crypto.keys import KeysMissing, KeyStore
    from policies.loading import CatalogError, load_catalog

    settings = get_settings()
    # Refuse early and plainly: a broken catalog or missing keys is the operator's to fix.
    # Keys and, in development, the schema are made here, once, before any worker starts,
    # so that workers never race to create them.
    try:
        load_catalog(settings.policy_dir)
        KeyStore.open(settings.resolved_key_dir, create_missing=settings.is_development)
    except CatalogError as error:
        for problem in error.problems:
            typer.echo(problem, err=True)
        raise typer.Exit(1) from error
    except KeysMissing as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from error
    if settings.is_development:
        asyncio.run(upgrade(settings.resolved_database_url))
    # Each worker builds its app from the same environment (`create_app` reads the settings).
    uvicorn.run(
        "gateway.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers or settings.resolved_workers,
        # uvloop and httptools, both dependencies (auto falls back where they do not build).
        loop="auto",
        http="auto",
        log_level="warning",
        server_header=False,
    )


@app.command()
def demo(
    keep_running: Annotated[
        bool, typer.Option("--keep-running", help="Leave the services up after the story.")
    ] = False,
) -> None:
    """Start the simulators and the gateway on loopback and run the whole story."""
    from gateway.cli.demo import run_demo

    raise typer.Exit(asyncio.run(run_demo(get_settings(), keep_running=keep_running)))


for name, group in (
    ("db", db_app),
    ("clients", clients_app),
    ("keys", keys_app),
    ("policy", policy_app),
    ("products", products_app),
    ("simulators", simulators_app),
    ("pii", pii_app),
    ("audit", audit_app),
):
    app.add_typer(group, name=name)


if __name__ == "__main__":
    app()
