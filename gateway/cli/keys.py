"""`lendgate keys`: the gateway's own keys (signing keys, KEKs, data keys past their life)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer

from gateway.cli.operator import OPERATOR, operator_engine, operator_session
from gateway.core.settings import Settings, get_settings

keys_app = typer.Typer(help="The gateway's own keys.", no_args_is_help=True)


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


@keys_app.command("check")
def keys_check() -> None:
    """Check that the gateway's keys are all there and open; never creates any (exit 1 if not)."""
    from gateway.crypto.keys import KeysMissing, KeyStore
    from gateway.crypto.kms import configured_kms

    settings = get_settings()
    try:
        keys = KeyStore.open(
            settings.resolved_key_dir, create_missing=False, kms=configured_kms(settings)
        )
    except KeysMissing as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from error
    typer.echo(f"keys present in {settings.resolved_key_dir}: signing key {keys.signing_key.kid}")


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
