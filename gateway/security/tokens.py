"""The gateway's own access tokens: what each is for, and how one is checked."""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any, Final

from gateway.core.errors import InvalidToken
from gateway.core.settings import Settings
from gateway.crypto import jose
from gateway.crypto.keys import KeyStore

# `token_use` of the gateway's own tokens: a token minted for one kind of principal is
# refused wherever the other is expected.
CLIENT_TOKEN_USE: Final = "client"
BORROWER_TOKEN_USE: Final = "borrower"


class VerifiedTokens:
    """Tokens this process has verified, kept until they expire (a client reuses its token for
    every request of its lifetime, so the signature is checked once, not per request).

    Bounded: the least recently used token goes first. A retired signing key's tokens stay
    accepted here until they expire, which is no longer than a token lives anyway.
    """

    def __init__(self, capacity: int = 4096):
        self._capacity = capacity
        self._claims: OrderedDict[str, tuple[dict[str, Any], float]] = OrderedDict()

    def get(self, token: str) -> dict[str, Any] | None:
        """The claims of a token verified before and not yet expired."""
        found = self._claims.get(token)
        if found is None:
            return None
        claims, usable_until = found
        if time.time() >= usable_until:
            del self._claims[token]
            return None
        self._claims.move_to_end(token)
        return claims

    def put(self, token: str, claims: dict[str, Any], usable_until: float) -> None:
        """Remember a verified token until `usable_until` (Unix seconds)."""
        self._claims[token] = (claims, usable_until)
        self._claims.move_to_end(token)
        while len(self._claims) > self._capacity:
            self._claims.popitem(last=False)


def verify_gateway_token(
    keys: KeyStore,
    settings: Settings,
    token: str,
    use: str,
    verified: VerifiedTokens | None = None,
) -> dict[str, Any]:
    """Claims of a token the gateway itself issued for `use`, or `InvalidToken`."""
    claims = verified.get(token) if verified is not None else None
    if claims is None:
        claims = _verify(keys, settings, token)
        if verified is not None:
            verified.put(token, claims, float(claims["exp"]) + settings.clock_skew_seconds)
    if claims.get("token_use") != use:
        raise InvalidToken("This token is not valid here.")
    return claims


def _verify(keys: KeyStore, settings: Settings, token: str) -> dict[str, Any]:
    claims = jose.verify_jwt(
        token,
        keys.jwks(),
        audience=settings.issuer,
        issuer=settings.issuer,
        leeway=settings.clock_skew_seconds,
        required=("exp", "iat", "sub"),
    )
    return claims
