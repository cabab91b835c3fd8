"""`lendgate`: the operator's command line. Every admin action is an audit event."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gateway.core.settings import Settings, get_settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

app = typer.Typer(help="Lendgate: consent-bound data sharing for lending.", no_args_is_help=True)
db_app = typer.Typer(help="The database schema.", no_args_is_help=True)
clients_app = typer.Typer(help="Registered lenders and regulators.", no_args_is_help=True)
client_keys_app = typer.Typer(help="A client's public keys (rotation).", no_args_is_help=True)
clients_app.add_typer(client_keys_app, name="keys")
keys_app = typer.Typer(help="The gateway's own keys.", no_args_is_help=True)
policy_app = typer.Typer(help="Purpose and feature catalogs.", no_args_is_help=True)
simulators_app = typer.Typer(help="Source simulators for development.", no_args_is_help=True)
pii_app = typer.Typer(help="Personal-data recognizers.", no_args_is_help=True)
audit_app = typer.Typer(help="The verifiable audit log.", no_args_is_help=True)
for name, sub in (
    ("db", db_app),
    ("clients", clients_app),
    ("keys", keys_app),
    ("policy", policy_app),
    ("simulators", simulators_app),
    ("pii", pii_app),
    ("audit", audit_app),
):
    app.add_typer(sub, name=name)

OPERATOR = "operator:cli"


@app.command()
def serve() -> None:
    """Run the gateway (host and port from LENDGATE_HOST / LENDGATE_PORT)."""
    import uvicorn

    from gateway.app import create_app
    from gateway.crypto.keys import KeysMissing, KeyStore
    from policies.loading import CatalogError, load_catalog

    settings = get_settings()
    # Refuse early and plainly: a broken catalog or missing keys is the operator's to fix.
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
    uvicorn.run(
        create_app(settings=settings),
        host=settings.host,
        port=settings.port,
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


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the database to the latest schema."""
    from gateway.core.migrate import upgrade

    settings = get_settings()
    asyncio.run(upgrade(settings.resolved_database_url))
    typer.echo("database is at the latest schema")


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


@keys_app.command("init")
def keys_init() -> None:
    """Create whatever gateway keys are missing in the key directory."""
    settings = get_settings()
    created = asyncio.run(_initialise_keys(settings))
    for name in created:
        typer.echo(f"created {name}")
    typer.echo(f"keys ready in {settings.resolved_key_dir}")


async def _initialise_keys(settings: Settings) -> list[str]:
    from gateway.audit import service as audit_service
    from gateway.audit.events import AuditEvent
    from gateway.crypto.keys import ACTIVE_FILE, KEK_DIR, ROOT_SECRET_FILE, SIGNING_DIR, initialise
    from gateway.crypto.kms import FileKms

    directory = settings.resolved_key_dir
    missing = [
        name
        for name, present in (
            ("signing key", (directory / SIGNING_DIR / ACTIVE_FILE).exists()),
            ("key-encryption key", FileKms.is_initialised(directory / KEK_DIR)),
            ("root secret", (directory / ROOT_SECRET_FILE).exists()),
        )
        if not present
    ]
    if missing:
        # On record first, as for every key change: keys that could not be audited are not made.
        async with operator_session(settings) as session:
            await audit_service.append(
                session,
                AuditEvent(
                    type="admin.keys_initialised",
                    actor=OPERATOR,
                    reason="created " + ", ".join(missing),
                ),
            )
            initialise(directory)
    return missing


@keys_app.command("rotate")
def keys_rotate(
    kek: Annotated[
        bool,
        typer.Option(
            "--kek",
            help="Rotate the key-encryption key instead: a new KEK, and every data key "
            "re-wrapped under it in batches (online; an interrupted run resumes).",
        ),
    ] = False,
    batch_size: Annotated[
        int, typer.Option(min=1, help="Data keys re-wrapped per transaction (--kek).")
    ] = 500,
) -> None:
    """Add a new signing key and make it active (old public keys stay in the JWKS), or --kek."""
    settings = get_settings()
    if not kek:
        typer.echo(asyncio.run(_rotate_signing_key(settings)))
        return
    report = asyncio.run(_rotate_kek(settings, batch_size))
    typer.echo(
        f"{report.kek_id}: {report.rewrapped} data keys re-wrapped"
        + (" (resumed)" if report.resumed else "")
    )
    for consent_id in report.unreadable:
        typer.echo(f"could not open the data key of {consent_id}", err=True)
    if report.unreadable:
        raise typer.Exit(1)


async def _rotate_signing_key(settings: Settings) -> str:
    from gateway.audit import service as audit_service
    from gateway.audit.events import AuditEvent
    from gateway.crypto.keys import add_signing_key, new_signing_kid
    from gateway.runtime.context import open_keys

    open_keys(settings)
    kid = new_signing_kid()
    async with operator_session(settings) as session:
        # On record first: a key that could not be audited is never made active.
        await audit_service.append(
            session, AuditEvent(type="key.rotated", actor=OPERATOR, reason=f"signing key {kid}")
        )
        add_signing_key(settings.resolved_key_dir, kid)
    return kid


async def _rotate_kek(settings: Settings, batch_size: int) -> Any:
    from gateway.retention import service as protection_service
    from gateway.runtime.context import open_keys

    keys = open_keys(settings)
    async with operator_engine(settings) as sessionmaker:
        return await protection_service.rotate_kek(
            sessionmaker,
            keys.kms,
            actor=OPERATOR,
            batch_size=batch_size,
            on_batch=lambda done: typer.echo(f"re-wrapped {done}", err=True),
        )


@keys_app.command("retire")
def keys_retire(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only say what would be retired.")
    ] = False,
) -> None:
    """Retire superseded signing keys nothing valid needs, and KEKs that wrap no data key."""
    from gateway.retention.service import RotationInProgress

    try:
        signing, keks = asyncio.run(_retire(get_settings(), dry_run))
    except RotationInProgress as error:
        typer.echo(f"a key-encryption key rotation is unfinished: {error}", err=True)
        raise typer.Exit(1) from error
    verb = "would retire" if dry_run else "retired"
    for kid in signing.retired + keks.retired:
        typer.echo(f"{verb} {kid}")
    for kid, why in {**signing.kept, **keks.kept}.items():
        typer.echo(f"kept {kid}: {why}")


async def _retire(settings: Settings, dry_run: bool) -> Any:
    from datetime import timedelta

    from gateway.retention import service as protection_service
    from gateway.runtime.context import open_keys

    keys = open_keys(settings)
    token_lifetime = timedelta(
        seconds=max(settings.access_token_ttl_seconds, settings.borrower_session_ttl_seconds)
        + settings.clock_skew_seconds
    )
    async with operator_session(settings) as session:
        signing = await protection_service.retire_signing_keys(
            session, keys, actor=OPERATOR, token_lifetime=token_lifetime, dry_run=dry_run
        )
    async with operator_engine(settings) as sessionmaker:
        keks = await protection_service.retire_keks(
            sessionmaker, keys.kms, actor=OPERATOR, dry_run=dry_run
        )
    return signing, keks


@keys_app.command("shred-expired")
def keys_shred_expired() -> None:
    """Destroy the data keys and release copies whose data life has ended (run it daily)."""
    sweep = asyncio.run(_shred_expired(get_settings()))
    typer.echo(
        f"{len(sweep.keys_shredded)} consent keys shredded, "
        f"{sweep.copies_erased} release copies erased"
    )


async def _shred_expired(settings: Settings) -> Any:
    from gateway.retention import service as protection_service

    async with operator_session(settings) as session:
        return await protection_service.shred_expired(session, actor=OPERATOR)


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


@policy_app.command("check")
def policy_check(
    directory: Annotated[
        Path | None, typer.Argument(help="Folder with purposes.yaml and features.yaml.")
    ] = None,
) -> None:
    """Validate the purpose and feature catalogs against the source schemas."""
    from policies.loading import check_catalog

    folder = directory or get_settings().policy_dir
    problems = check_catalog(folder)
    for problem in problems:
        typer.echo(problem, err=True)
    if problems:
        raise typer.Exit(1)
    typer.echo("catalogs are valid")


@simulators_app.command("serve")
def simulators_serve() -> None:
    """Run every source simulator (社保, 公积金, 征信, 水电燃气) on its loopback port."""
    from connectors.simulators.server import build_simulator_servers

    async def run() -> None:
        servers = build_simulator_servers(get_settings())
        for source, url, _ in servers:
            typer.echo(f"{source} {url}")
        await asyncio.gather(*(server.serve() for _, _, server in servers))

    asyncio.run(run())


@pii_app.command("scan")
def pii_scan(
    source: Annotated[str, typer.Argument(help="A file, or - for standard input.")] = "-",
) -> None:
    """Print one JSON line of findings (masked, never raw) per input line."""
    from gateway.privacy.scan import scan_lines

    handle = sys.stdin if source == "-" else Path(source).open(encoding="utf-8")  # noqa: SIM115
    with handle:
        for result in scan_lines(handle):
            typer.echo(json.dumps(result, ensure_ascii=False))


@audit_app.command("verify")
def audit_verify(
    bundle: Annotated[Path, typer.Argument(help="A bundle from GET /v1/audit/export.")],
    jwks: Annotated[
        Path | None,
        typer.Option(help="The gateway's JWKS obtained elsewhere (default: the bundle's own)."),
    ] = None,
    previous: Annotated[
        str | None,
        typer.Option(
            help="A tree head kept from before: a file with the GET /v1/audit/sth answer "
            "or the JWS, or the JWS itself. The bundle must extend it unchanged."
        ),
    ] = None,
) -> None:
    """Recompute every leaf hash and root, check every signature; exit 1 naming the bad leaf."""
    from gateway.audit.verify import BundleError, verify_bundle

    try:
        document = _read_json(bundle)
        trusted = _read_json(jwks) if jwks is not None else None
        earlier: Any = None
        if previous is not None:
            candidate = Path(previous)
            earlier = _read_json(candidate) if candidate.is_file() else previous
        outcome = verify_bundle(document, trusted_jwks=trusted, previous=earlier)
    except BundleError as error:
        typer.echo(f"cannot verify: {error}", err=True)
        raise typer.Exit(2) from error
    for line in outcome.lines():
        typer.echo(line)
    raise typer.Exit(0 if outcome.ok else 1)


def _read_json(path: Path) -> Any:
    """A JSON document from `path`; a tree head may also be a bare JWS."""
    from gateway.audit.verify import BundleError

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise BundleError(f"cannot read {path}: {error.strerror}") from error
    try:
        return json.loads(text)
    except ValueError:
        if text.strip().count(".") == 2:
            return text.strip()
        raise BundleError(f"{path} is not JSON") from None


if __name__ == "__main__":
    app()
