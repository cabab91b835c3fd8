"""`lendgate clients`: registered lenders and regulators, and their keys."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gateway.cli.operator import OPERATOR, operator_session
from gateway.core.settings import get_settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

clients_app = typer.Typer(help="Registered lenders and regulators.", no_args_is_help=True)
client_keys_app = typer.Typer(help="A client's public keys (rotation).", no_args_is_help=True)
clients_app.add_typer(client_keys_app, name="keys")


@clients_app.command("add")
def clients_add(
    name: Annotated[str, typer.Option(help="The institution's name.")],
    kind: Annotated[str, typer.Option(help="lender or regulator")],
    jwks: Annotated[Path, typer.Option(help="File with the client's public JWKS.")],
    dpop: Annotated[
        bool,
        typer.Option(
            "--dpop", help="Require DPoP (RFC 9449): every token is bound to the client's key."
        ),
    ] = False,
) -> None:
    """Register a client from its public JWKS and print its client_id."""
    document = _read_jwks(jwks)
    client_id = _client_command(
        lambda session, service: service.register(
            session, name=name, kind=kind, jwks=document, actor=OPERATOR, dpop_required=dpop
        )
    ).id
    typer.echo(client_id)


@clients_app.command("suspend")
def clients_suspend(client_id: Annotated[str, typer.Argument(help="The client's id.")]) -> None:
    """Suspend a client: no new tokens, and its existing tokens stop working at once."""
    _client_command(lambda session, service: service.suspend(session, client_id, actor=OPERATOR))
    typer.echo(f"{client_id} suspended")


@clients_app.command("resume")
def clients_resume(client_id: Annotated[str, typer.Argument(help="The client's id.")]) -> None:
    """Lift a client's suspension."""
    _client_command(lambda session, service: service.resume(session, client_id, actor=OPERATOR))
    typer.echo(f"{client_id} resumed")


@client_keys_app.command("add")
def client_keys_add(
    client_id: Annotated[str, typer.Argument(help="The client's id.")],
    jwks: Annotated[Path, typer.Option(help="File with the new public key(s), as a JWKS.")],
) -> None:
    """Add keys to a client; the old ones keep working until retired (rotation, no downtime)."""
    document = _read_jwks(jwks)
    added = _client_command(
        lambda session, service: service.add_keys(session, client_id, document, actor=OPERATOR)
    )
    for kid in added:
        typer.echo(f"added {kid}")


@client_keys_app.command("retire")
def client_keys_retire(
    client_id: Annotated[str, typer.Argument(help="The client's id.")],
    kid: Annotated[str, typer.Option(help="The key to retire.")],
) -> None:
    """Remove one of a client's keys (never its last signing or encryption key)."""
    _client_command(
        lambda session, service: service.retire_key(session, client_id, kid, actor=OPERATOR)
    )
    typer.echo(f"retired {kid}")


def _read_jwks(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        typer.echo(f"cannot read a JWKS from {path}: {error}", err=True)
        raise typer.Exit(2) from error
    if not isinstance(document, dict):
        typer.echo(f"{path} does not hold a JWKS object", err=True)
        raise typer.Exit(2)
    return document


def _client_command(action: Callable[[AsyncSession, Any], Awaitable[Any]]) -> Any:
    """Run one operator action on clients in one audited transaction; exit 2 if refused."""
    from gateway.clients import service as clients_service
    from gateway.clients.service import ClientRegistrationError

    async def run() -> Any:
        async with operator_session(get_settings()) as session:
            return await action(session, clients_service)

    try:
        return asyncio.run(run())
    except ClientRegistrationError as error:
        typer.echo(f"refused: {error}", err=True)
        raise typer.Exit(2) from error
