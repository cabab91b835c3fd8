"""The gateway's JOSE layer: `lendgate_sdk.jose` with refusals as `InvalidToken`, plus key files.

The primitives (keys, JWS, JWE) are the ones the SDK uses, so the gateway and its
clients sign, verify, encrypt and decrypt the same way. What only the gateway
needs lives here: its refusals answer 401 `InvalidToken`, and its signing key is
kept as a PEM file.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from lendgate_sdk import jose
from lendgate_sdk.errors import TokenRejected
from lendgate_sdk.jose import (
    SigningKey,
    encrypt_for,
    generate_signing_key,
    public_jwk,
    public_jwks,
    sign_jwt,
    unverified_kid,
)

from gateway.core.errors import InvalidToken

P = ParamSpec("P")
R = TypeVar("R")

__all__ = [
    "encrypt_for",
    "generate_signing_key",
    "load_private_key_pem",
    "private_key_pem",
    "public_jwk",
    "public_jwks",
    "sign_jwt",
    "unverified_kid",
    "verify_jwt",
]


def _refusals_as_invalid_token(function: Callable[P, R]) -> Callable[P, R]:
    """`function` with every `TokenRejected` raised as `InvalidToken` (401), same detail."""

    @functools.wraps(function)
    def checked(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except TokenRejected as refusal:
            raise InvalidToken(refusal.detail) from None

    return checked


verify_jwt = _refusals_as_invalid_token(jose.verify_jwt)


def private_key_pem(key: SigningKey) -> bytes:
    """Serialize a private key as unencrypted PKCS#8 PEM (for a key file kept at 0600)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_private_key_pem(data: bytes) -> Ed25519PrivateKey:
    """Load an Ed25519 private key written by `private_key_pem`."""
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("The PEM file does not hold an Ed25519 private key.")
    return key
