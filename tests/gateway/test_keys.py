"""The gateway's key directory: generated in development, required elsewhere, rotated with kids."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.keys import KeysMissing, KeyStore, add_signing_key
from gateway.settings import Settings


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
    with pytest.raises(ValueError, match="development default"):
        Settings(environment="production")
    assert Settings(environment="development").is_development


def test_outside_development_the_gateway_will_not_start_without_keys(tmp_path: Path) -> None:
    from gateway.context import build_context

    settings = Settings(
        environment="production",
        data_dir=tmp_path,
        source_credentials={"social_insurance": "a", "housing_fund": "b", "credit_bureau": "c"},
    )
    with pytest.raises(KeysMissing):
        build_context(settings)
    assert not (tmp_path / "keys").exists()
