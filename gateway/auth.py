"""Who is calling: bearer access tokens for clients, session tokens for borrowers.

Endpoints take one of the `Annotated` aliases at the bottom; each checks the
token's signature, audience, use and the scope the endpoint needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from gateway import jose
from gateway.context import ContextDep, GatewayContext
from gateway.errors import InsufficientScope, InvalidToken

CLIENT_TOKEN_USE = "client"
BORROWER_TOKEN_USE = "borrower"


@dataclass(frozen=True)
class ClientPrincipal:
    """An authenticated lender or regulator."""

    client_id: str
    kind: str
    scopes: frozenset[str]


@dataclass(frozen=True)
class BorrowerPrincipal:
    """An authenticated borrower, known by the blind index of the phone they proved."""

    phone_index: str


def bearer_token(request: Request) -> str:
    """The bearer token of the request, or `InvalidToken`."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise InvalidToken("A bearer token is required.")
    return token.strip()


def verify_gateway_token(context: GatewayContext, token: str, use: str) -> dict[str, Any]:
    """Claims of a token the gateway itself issued for `use`, or `InvalidToken`."""
    claims = jose.verify_jwt(
        token,
        context.keys.jwks(),
        audience=context.settings.issuer,
        issuer=context.settings.issuer,
        leeway=context.settings.clock_skew_seconds,
        required=("exp", "iat", "sub"),
    )
    if claims.get("token_use") != use:
        raise InvalidToken("This token is not valid here.")
    return claims


def _client(request: Request, context: ContextDep) -> ClientPrincipal:
    claims = verify_gateway_token(context, bearer_token(request), CLIENT_TOKEN_USE)
    return ClientPrincipal(
        client_id=str(claims["sub"]),
        kind=str(claims.get("client_kind")),
        scopes=frozenset(str(claims.get("scope", "")).split()),
    )


def _requiring(kind: str, scope: str) -> Any:
    def dependency(principal: Annotated[ClientPrincipal, Depends(_client)]) -> ClientPrincipal:
        if principal.kind != kind or scope not in principal.scopes:
            raise InsufficientScope(f"This endpoint needs a {kind} token with scope `{scope}`.")
        return principal

    return dependency


def _borrower(request: Request, context: ContextDep) -> BorrowerPrincipal:
    claims = verify_gateway_token(context, bearer_token(request), BORROWER_TOKEN_USE)
    return BorrowerPrincipal(phone_index=str(claims["sub"]))


ConsentWriter = Annotated[ClientPrincipal, Depends(_requiring("lender", "consents:write"))]
FeatureReader = Annotated[ClientPrincipal, Depends(_requiring("lender", "features:read"))]
RegulatorDep = Annotated[ClientPrincipal, Depends(_requiring("regulator", "audit:read"))]
# A witness needs only `audit:cosign`: a regulator may narrow its token to co-signing.
RegulatorCosigner = Annotated[ClientPrincipal, Depends(_requiring("regulator", "audit:cosign"))]
CurrentBorrower = Annotated[BorrowerPrincipal, Depends(_borrower)]
