"""DPoP (RFC 9449) proofs: what a client sends to show it holds the key a token is bound to.

The gateway checks these proofs with the same type, algorithm and `ath` rules.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from typing import Any, Final
from urllib.parse import urlsplit

import jwt

from lendgate_sdk import jose

PROOF_TYPE: Final = "dpop+jwt"


def public_jwk(private_key: jose.SigningKey) -> dict[str, Any]:
    """The public JWK of a proof key, as it goes in the proof header."""
    return jose.public_key_jwk(private_key)


def access_token_hash(access_token: str) -> str:
    """`ath`: base64url SHA-256 of the access token, unpadded."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def make_proof(
    private_key: jose.SigningKey,
    method: str,
    url: str,
    *,
    access_token: str | None = None,
    now: int | None = None,
) -> str:
    """A fresh DPoP proof for one request (`htm`, `htu`, `iat`, unique `jti`, `ath`)."""
    claims: dict[str, Any] = {
        "htm": method.upper(),
        "htu": _without_query(url),
        "iat": int(time.time()) if now is None else now,
        "jti": uuid.uuid4().hex,
    }
    if access_token is not None:
        claims["ath"] = access_token_hash(access_token)
    return jwt.encode(
        claims,
        private_key,
        algorithm=jose.algorithm_for_key(private_key),
        headers={"typ": PROOF_TYPE, "jwk": public_jwk(private_key)},
    )


def _without_query(url: str) -> str:
    parts = urlsplit(url)
    return parts._replace(query="", fragment="").geturl()
