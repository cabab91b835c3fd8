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


@clients_app.command("keygen")
def clients_keygen(
    kind: Annotated[str, typer.Option(help="lender or regulator")],
    out: Annotated[
        Path, typer.Option(help="Where to write the private JWKS (created owner-only, mode 0600).")
    ],
    alg: Annotated[str, typer.Option(help="Signing algorithm: EdDSA or ES256.")] = "EdDSA",
) -> None:
    """Make a client's keys: write the private JWKS to --out, print the public JWKS to register.

    A lender gets a signing key and an X25519 encryption key (releases are encrypted to it);
    a regulator a signing key. The private file never leaves the client's systems; the
    printed public JWKS is what `clients add --jwks` takes.
    """
    from lendgate_sdk import generate_client_jwks

    from gateway.crypto.key_files import write_private

    if kind not in ("lender", "regulator") or alg not in ("EdDSA", "ES256"):
        typer.echo("--kind must be lender or regulator, --alg EdDSA or ES256", err=True)
        raise typer.Exit(2)
    private, public = generate_client_jwks(kind, alg)  # type: ignore[arg-type]
    try:
        write_private(out, (json.dumps(private, indent=2) + "\n").encode())
    except FileExistsError as error:
        typer.echo(f"{out} exists; keys are never overwritten", err=True)
        raise typer.Exit(2) from error
    typer.echo(json.dumps(public, indent=2))


@clients_app.command("list")
def clients_list() -> None:
    """Every registered client: id, kind, status, name, key ids (and the database read)."""
    from gateway.cli.listening import database_shown
    from gateway.clients import service as clients_service

    async def read() -> list[Any]:
        async with operator_session(get_settings()) as session:
            return await clients_service.list_clients(session)

    settings = get_settings()
    typer.echo(f"database {database_shown(settings.resolved_database_url)}", err=True)
    for client in asyncio.run(read()):
        kids = ",".join(str(key.get("kid")) for key in client.jwks.get("keys", []))
        dpop = " dpop" if client.dpop_required else ""
        typer.echo(f"{client.id}\t{client.kind}\t{client.status}{dpop}\t{client.name}\tkeys {kids}")


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
    from gateway.cli.listening import database_shown
    from gateway.clients import service as clients_service
    from gateway.clients.service import ClientRegistrationError, UnknownClient

    async def run() -> Any:
        async with operator_session(get_settings()) as session:
            return await action(session, clients_service)

    try:
        return asyncio.run(run())
    except ClientRegistrationError as error:
        typer.echo(f"refused: {error}", err=True)
        if isinstance(error, UnknownClient):
            # The usual cause: another data directory or database than the one meant.
            database = database_shown(get_settings().resolved_database_url)
            typer.echo(f"(database {database}; see `lendgate clients list`)", err=True)
        raise typer.Exit(2) from error
