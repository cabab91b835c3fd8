"""The gateway's key directory: generated in development, required elsewhere, rotated with kids."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from connectors.registry import load_sources
from gateway.audit.models import AuditEntry
from gateway.cli.main import app
from gateway.core.db import create_engine, create_sessionmaker
from gateway.core.settings import Settings, get_settings
from gateway.crypto.keys import (
    KEK_DIR,
    SIGNING_DIR,
    SUPERSEDED_SUFFIX,
    KeysMissing,
    KeyStore,
    add_signing_key,
    retire_signing_key,
    superseded_times,
)
from gateway.crypto.kms import FileKms


def test_development_generates_missing_keys_once(tmp_path: Path) -> None:
    first = KeyStore.open(tmp_path / "keys", create_missing=True)
    again = KeyStore.open(tmp_path / "keys", create_missing=False)
    assert first.signing_key.kid == again.signing_key.kid
    assert first.secret("x") == again.secret("x") != first.secret("y")
    private_files = [p for p in (tmp_path / "keys").rglob("*") if p.suffix in (".pem", ".key")]
    assert private_files and all(p.stat().st_mode & 0o077 == 0 for p in private_files)


def test_without_keys_and_without_permission_to_create_them_start_is_refused(
    tmp_path: Path,
) -> None:
    with pytest.raises(KeysMissing, match="lendgate keys init"):
        KeyStore.open(tmp_path / "keys", create_missing=False)
    assert not (tmp_path / "keys").exists()


def test_rotation_keeps_old_public_keys_published(tmp_path: Path) -> None:
    store = KeyStore.open(tmp_path, create_missing=True)
    old_kid = store.signing_key.kid
    new_kid = add_signing_key(tmp_path)
    rotated = KeyStore.open(tmp_path, create_missing=False)
    assert rotated.signing_key.kid == new_kid != old_kid
    assert {key["kid"] for key in rotated.jwks()["keys"]} == {old_kid, new_kid}
    assert all("d" not in key for key in rotated.jwks()["keys"])


def test_production_refuses_development_source_credentials() -> None:
    sources = load_sources()
    with pytest.raises(ValueError, match="development default"):
        sources.configure(Settings(environment="production"))
    with pytest.raises(ValueError, match="credential for utility is the development default"):
        sources.configure(
            Settings(environment="production", source_credentials={"utility": "dev-utility-key"})
        )
    assert sources.configure(Settings(environment="development")).is_development


def test_outside_development_the_gateway_will_not_start_without_keys(tmp_path: Path) -> None:
    from gateway.runtime.context import build_context

    settings = Settings(
        environment="production",
        data_dir=tmp_path,
        source_credentials={"social_insurance": "a", "housing_fund": "b", "credit_bureau": "c"},
        # A real SMS sender, so that the keys are what is missing.
        sms_sender="tests.sms.test_senders:recording_sender",
    )
    with pytest.raises(KeysMissing):
        build_context(settings)
    assert not (tmp_path / "keys").exists()


def test_a_running_key_store_follows_a_rotation_made_elsewhere(tmp_path: Path) -> None:
    store = KeyStore.open(tmp_path, create_missing=True)
    old = store.signing_key.kid
    new = add_signing_key(tmp_path)  # the operator's CLI, another process
    assert store.signing_key.kid == new
    assert {key["kid"] for key in store.jwks()["keys"]} == {old, new}
    [superseded] = [key for key in store.signing_keys() if key.kid == old]
    assert superseded.superseded_at is not None
    assert superseded.superseded_at <= datetime.now(UTC)


def test_keys_rotated_before_times_were_recorded_count_from_the_next_key(tmp_path: Path) -> None:
    store = KeyStore.open(tmp_path, create_missing=True)
    first = store.signing_key.kid
    second = add_signing_key(tmp_path)
    (tmp_path / SIGNING_DIR / f"{first}{SUPERSEDED_SUFFIX}").unlink()
    third = add_signing_key(tmp_path)
    keys = store.signing_keys()
    created = {key.kid: key.created_at for key in keys}
    times = superseded_times(keys, third)
    assert set(times) == {first, second}
    assert times[first] == created[second]  # the fallback: when the next key was made
    assert times[second] == next(key.superseded_at for key in keys if key.kid == second)


def test_retiring_archives_the_public_half_and_destroys_the_private_one(tmp_path: Path) -> None:
    store = KeyStore.open(tmp_path, create_missing=True)
    old = store.signing_key.kid
    new = add_signing_key(tmp_path)
    with pytest.raises(ValueError, match="active"):
        retire_signing_key(tmp_path, new)
    retire_signing_key(tmp_path, old)
    assert [key["kid"] for key in store.jwks()["keys"]] == [new]
    assert [key["kid"] for key in store.retired_jwks()["keys"]] == [old]
    assert not list((tmp_path / SIGNING_DIR).glob(f"{old}*"))
    assert all("d" not in key for key in store.retired_jwks()["keys"])


def test_a_deployment_kms_replaces_the_kek_files(tmp_path: Path) -> None:
    external = tmp_path / "hsm"
    FileKms.initialise(external)
    store = KeyStore.open(tmp_path / "keys", create_missing=True, kms=FileKms(external))
    assert not (tmp_path / "keys" / KEK_DIR).exists()
    assert store.kms.active_kek_id in FileKms(external).kek_ids()


# -- the operator's commands ---------------------------------------------------------------------

runner = CliRunner()


@pytest.fixture
def operator_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh data directory, as `LENDGATE_DATA_DIR`, for every command of the test."""
    monkeypatch.setenv("LENDGATE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("LENDGATE_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def audit_types(url: str) -> list[str]:
    """The event types in the audit log at `url`, in order."""

    async def read() -> list[str]:
        engine = create_engine(url)
        async with create_sessionmaker(engine)() as session:
            query = select(AuditEntry.type).order_by(AuditEntry.seq)
            types = list((await session.scalars(query)).all())
        await engine.dispose()
        return types

    return asyncio.run(read())


def test_keys_rotate_kek_then_retire_the_old_one(operator_env: Path) -> None:
    assert runner.invoke(app, ["keys", "init"]).exit_code == 0
    kek_dir = operator_env / "keys" / KEK_DIR
    old = FileKms(kek_dir).active_kek_id
    rotated = runner.invoke(app, ["keys", "rotate", "--kek"])
    assert rotated.exit_code == 0, rotated.output
    new = FileKms(kek_dir).active_kek_id
    assert new != old and rotated.stdout.strip() == f"{new}: 0 data keys re-wrapped"
    retired = runner.invoke(app, ["keys", "retire"])
    assert retired.exit_code == 0, retired.output
    assert f"retired {old}" in retired.stdout
    assert FileKms(kek_dir).kek_ids() == {new}
    url = get_settings().resolved_database_url
    assert audit_types(url) == [
        "admin.keys_initialised",
        "key.rotated",
        "key.rewrapped",
        "key.retired",
    ]


def test_keys_retire_keeps_a_just_superseded_signing_key(operator_env: Path) -> None:
    old = KeyStore.open(operator_env / "keys", create_missing=True).signing_key.kid
    assert runner.invoke(app, ["keys", "rotate"]).exit_code == 0
    dry = runner.invoke(app, ["keys", "retire", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert f"kept {old}: tokens it signed may still be presented" in dry.stdout
    assert (operator_env / "keys" / SIGNING_DIR / f"{old}.pem").exists()


def test_keys_shred_expired_reports_what_it_destroyed(operator_env: Path) -> None:
    swept = runner.invoke(app, ["keys", "shred-expired"])
    assert swept.exit_code == 0, swept.output
    assert swept.stdout.strip() == "0 consent keys shredded, 0 release copies erased"
