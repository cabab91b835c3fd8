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
from gateway.cli.simulators import simulators_app
from gateway.core.settings import get_settings

app = typer.Typer(help="Lendgate: consent-bound data sharing for lending.", no_args_is_help=True)


@app.command()
def serve() -> None:
    """Run the gateway (host and port from LENDGATE_HOST / LENDGATE_PORT)."""
    import uvicorn

    from gateway.app import create_app
    from gateway.cli.listening import PortUnavailable, database_shown, listening_socket, url_of
    from gateway.crypto.keys import KeysMissing, KeyStore
    from gateway.sms.senders import SmsNotConfigured, configured_sms_sender
    from policies.loading import CatalogError, load_catalog

    settings = get_settings()
    # Refuse early and plainly: a broken catalog, missing keys, no SMS sender or a busy
    # port is the operator's to fix.
    try:
        load_catalog(settings.policy_dir)
        sms = configured_sms_sender(settings)
        KeyStore.open(settings.resolved_key_dir, create_missing=settings.is_development)
        sock = listening_socket(settings.host, settings.port, "LENDGATE_PORT")
    except CatalogError as error:
        for problem in error.problems:
            typer.echo(problem, err=True)
        raise typer.Exit(1) from error
    except (KeysMissing, SmsNotConfigured, PortUnavailable) as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from error
    sms_shown = f"outbox {settings.resolved_sms_outbox}" if sms.kind == "outbox" else sms.kind
    typer.echo(
        f"gateway {url_of(sock)} (database {database_shown(settings.resolved_database_url)}, "
        f"SMS {sms_shown})"
    )
    config = uvicorn.Config(create_app(settings=settings), log_level="warning", server_header=False)
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
    ("simulators", simulators_app),
    ("pii", pii_app),
    ("audit", audit_app),
):
    app.add_typer(group, name=name)


if __name__ == "__main__":
    app()
