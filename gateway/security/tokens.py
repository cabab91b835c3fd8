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

    Bounded: the least recently used token goes first. A token is served from here only
    while the key that signed it is still held: retiring a key refuses its tokens at once.
    """

    def __init__(self, capacity: int = 4096):
        self._capacity = capacity
        self._claims: OrderedDict[str, tuple[dict[str, Any], float, str]] = OrderedDict()

    def get(self, token: str, keys: KeyStore) -> dict[str, Any] | None:
        """The claims of a token verified before, not yet expired, its key still held."""
        found = self._claims.get(token)
        if found is None:
            return None
        claims, usable_until, kid = found
        if time.time() >= usable_until or not keys.holds(kid):
            del self._claims[token]
            return None
        self._claims.move_to_end(token)
        return claims

    def put(self, token: str, claims: dict[str, Any], usable_until: float, kid: str) -> None:
        """Remember a token verified with key `kid` until `usable_until` (Unix seconds)."""
        self._claims[token] = (claims, usable_until, kid)
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
    claims = verified.get(token, keys) if verified is not None else None
    if claims is None:
        claims = _verify(keys, settings, token)
        kid = jose.unverified_kid(token)
        if verified is not None and kid is not None:
            usable_until = float(claims["exp"]) + settings.clock_skew_seconds
            verified.put(token, claims, usable_until, kid)
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
