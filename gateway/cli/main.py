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
    from uvicorn.supervisors import Multiprocess

    from gateway.cli.listening import PortUnavailable, database_shown, listening_socket, url_of
    from gateway.core.migrate import upgrade
    from gateway.crypto.keys import KeysMissing, KeyStore
    from gateway.crypto.kms import configured_kms
    from gateway.sms.senders import SmsNotConfigured, configured_sms_sender
    from policies.loading import CatalogError, load_catalog

    settings = get_settings()
    # Refuse early and plainly: a broken catalog, missing keys, no SMS sender or a busy
    # port is the operator's to fix. Keys and, in development, the schema are made here,
    # once, before any worker starts, so that workers never race to create them.
    try:
        load_catalog(settings.policy_dir)
        sms = configured_sms_sender(settings)
        KeyStore.open(
            settings.resolved_key_dir,
            create_missing=settings.is_development,
            kms=configured_kms(settings),
        )
        sock = listening_socket(settings.host, settings.port, "LENDGATE_PORT")
    except CatalogError as error:
        for problem in error.problems:
            typer.echo(problem, err=True)
        raise typer.Exit(1) from error
    except (KeysMissing, SmsNotConfigured, PortUnavailable) as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from error
    if settings.is_development:
        asyncio.run(upgrade(settings.resolved_database_url))
    sms_shown = f"outbox {settings.resolved_sms_outbox}" if sms.kind == "outbox" else sms.kind
    typer.echo(
        f"gateway {url_of(sock)} (database {database_shown(settings.resolved_database_url)}, "
        f"SMS {sms_shown})"
    )
    # Each worker builds its app from the same environment (`create_app` reads the settings)
    # and serves the socket bound above; uvloop and httptools (dependencies) when they load.
    config = uvicorn.Config(
        "gateway.app:create_app",
        factory=True,
        workers=workers or settings.resolved_workers,
        loop="auto",
        http="auto",
        log_level="warning",
        server_header=False,
    )
    if config.workers > 1:
        Multiprocess(config, sockets=[sock]).run()
    else:
        uvicorn.Server(config).run(sockets=[sock])


@app.command()
def demo(
    keep_running: Annotated[
        bool, typer.Option("--keep-running", help="Leave the services up after the story.")
    ] = False,
) -> None:
    """Start the simulators and the gateway on loopback and run the whole story."""
    from gateway.cli.demo import run_demo
    from gateway.cli.listening import PortUnavailable

    try:
        raise typer.Exit(asyncio.run(run_demo(get_settings(), keep_running=keep_running)))
    except PortUnavailable as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from error


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
