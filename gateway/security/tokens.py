"""The gateway's own access tokens: what each is for, and how one is checked."""

from __future__ import annotations

from typing import Any, Final

from gateway.core.errors import InvalidToken
from gateway.core.settings import Settings
from gateway.crypto import jose
from gateway.crypto.keys import KeyStore

# `token_use` of the gateway's own tokens: a token minted for one kind of principal is
# refused wherever the other is expected.
CLIENT_TOKEN_USE: Final = "client"
BORROWER_TOKEN_USE: Final = "borrower"


def verify_gateway_token(
    keys: KeyStore, settings: Settings, token: str, use: str
) -> dict[str, Any]:
    """Claims of a token the gateway itself issued for `use`, or `InvalidToken`."""
    claims = jose.verify_jwt(
        token,
        keys.jwks(),
        audience=settings.issuer,
        issuer=settings.issuer,
        leeway=settings.clock_skew_seconds,
        required=("exp", "iat", "sub"),
    )
    if claims.get("token_use") != use:
        raise InvalidToken("This token is not valid here.")
    return claims
