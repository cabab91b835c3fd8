"""The gateway's own access tokens: verified once per process, refused for the wrong use."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from gateway.core.errors import InvalidToken
from gateway.core.settings import Settings
from gateway.crypto import jose
from gateway.crypto.keys import KeyStore, add_signing_key, retire_signing_key
from gateway.security import tokens
from gateway.security.tokens import (
    BORROWER_TOKEN_USE,
    CLIENT_TOKEN_USE,
    VerifiedTokens,
    verify_gateway_token,
)

ISSUER = "https://gateway.example"


@pytest.fixture
def keys(tmp_path: Path) -> KeyStore:
    return KeyStore.open(tmp_path / "keys", create_missing=True)


def gateway_token(keys: KeyStore, **overrides: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": ISSUER,
        "sub": "lnd_example",
        "iat": now,
        "exp": now + 300,
        "token_use": CLIENT_TOKEN_USE,
    } | overrides
    return jose.sign_jwt(claims, keys.signing_key.private_key, keys.signing_key.kid)


def settings(tmp_path: Path) -> Settings:
    return Settings(environment="test", data_dir=tmp_path, issuer=ISSUER)


def test_a_verified_token_is_not_verified_again(
    keys: KeyStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    verified = VerifiedTokens()
    token = gateway_token(keys)
    first = verify_gateway_token(keys, settings(tmp_path), token, CLIENT_TOKEN_USE, verified)

    def no_second_check(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the signature was checked again")

    monkeypatch.setattr(tokens.jose, "verify_jwt", no_second_check)
    again = verify_gateway_token(keys, settings(tmp_path), token, CLIENT_TOKEN_USE, verified)
    assert again == first and again["sub"] == "lnd_example"
    # Another token is checked as usual (and here the check is gone).
    with pytest.raises(AssertionError):
        verify_gateway_token(
            keys,
            settings(tmp_path),
            gateway_token(keys, sub="lnd_other"),
            CLIENT_TOKEN_USE,
            verified,
        )


def test_a_remembered_token_is_still_refused_for_another_use(
    keys: KeyStore, tmp_path: Path
) -> None:
    verified = VerifiedTokens()
    token = gateway_token(keys)
    verify_gateway_token(keys, settings(tmp_path), token, CLIENT_TOKEN_USE, verified)
    with pytest.raises(InvalidToken):
        verify_gateway_token(keys, settings(tmp_path), token, BORROWER_TOKEN_USE, verified)


def test_an_expired_token_is_forgotten_and_refused(keys: KeyStore, tmp_path: Path) -> None:
    verified = VerifiedTokens()
    token = gateway_token(keys)
    verified.put(token, {"token_use": CLIENT_TOKEN_USE}, time.time() - 1, keys.signing_key.kid)
    assert verified.get(token, keys) is None
    expired = gateway_token(keys, exp=int(time.time()) - 600, iat=int(time.time()) - 900)
    with pytest.raises(InvalidToken):
        verify_gateway_token(keys, settings(tmp_path), expired, CLIENT_TOKEN_USE, verified)
    assert verified.get(expired, keys) is None


def test_a_token_of_a_retired_key_is_no_longer_served(keys: KeyStore, tmp_path: Path) -> None:
    verified = VerifiedTokens()
    token = gateway_token(keys)
    verify_gateway_token(keys, settings(tmp_path), token, CLIENT_TOKEN_USE, verified)
    assert verified.get(token, keys) is not None
    old = keys.signing_key.kid
    add_signing_key(keys.directory)
    retire_signing_key(keys.directory, old)
    assert verified.get(token, keys) is None
    with pytest.raises(InvalidToken):
        verify_gateway_token(keys, settings(tmp_path), token, CLIENT_TOKEN_USE, verified)


def test_the_least_recently_used_token_goes_first(keys: KeyStore) -> None:
    verified = VerifiedTokens(capacity=2)
    later, kid = time.time() + 60, keys.signing_key.kid
    verified.put("a", {"n": 1}, later, kid)
    verified.put("b", {"n": 2}, later, kid)
    assert verified.get("a", keys) == {"n": 1}
    verified.put("c", {"n": 3}, later, kid)
    assert verified.get("b", keys) is None
    assert verified.get("a", keys) == {"n": 1} and verified.get("c", keys) == {"n": 3}
