"""Who is calling: access tokens for clients, sessions for borrowers.

Endpoints take one of the `Annotated` aliases at the bottom. A client request is
checked for the token's signature, audience and use, the client's standing (a
suspended client's tokens stop working at once), the DPoP proof when the token is
sender-constrained (RFC 9449), the client's rate limit, and the endpoint's scope.
A borrower request carries a bearer token (apps) or the session cookie (the
portal); either names a server-side session that logout ends, and a request that
changes anything on the strength of the cookie must also carry the CSRF token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Annotated, Any, Final
from urllib.parse import urlsplit

from fastapi import Depends, Request, Security
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth import schemes
from gateway.borrowers import repository as borrowers_repository
from gateway.clients import repository as clients_repository
from gateway.clients.service import encryption_key
from gateway.core.db import SessionDep
from gateway.core.errors import InsufficientScope, InvalidToken
from gateway.core.settings import Settings
from gateway.runtime.context import ContextDep, GatewayContext
from gateway.security import dpop
from gateway.security.limits import enforce_rate_limit
from gateway.security.principals import (
    BorrowerPrincipal,
    ClientKind,
    ClientPrincipal,
    ClientStatus,
)
from gateway.security.replay import spend_dpop_proof
from gateway.security.tokens import BORROWER_TOKEN_USE, CLIENT_TOKEN_USE, verify_gateway_token

CSRF_HEADER: Final = "X-CSRF-Token"
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
_SESSION_COOKIE: Final = "lendgate_session"
_CSRF_COOKIE: Final = "lendgate_csrf"
# Outside development the cookies carry the `__Host-` prefix: Secure, Path=/, no Domain,
# so no other host (not even a sibling subdomain) can set or shadow them.
_HOST_PREFIX: Final = "__Host-"


# -- tokens ---------------------------------------------------------------------------------


def authorization(request: Request) -> tuple[str, str]:
    """The request's `Authorization` scheme (lower case) and credential, or `InvalidToken`."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if not scheme or not token.strip():
        raise InvalidToken("An access token is required.")
    return scheme.lower(), token.strip()


def bearer_token(request: Request) -> str:
    """The bearer token of the request, or `InvalidToken`."""
    scheme, token = authorization(request)
    if scheme != "bearer":
        raise InvalidToken("A bearer token is required.")
    return token


# -- clients --------------------------------------------------------------------------------


def request_url(settings: Settings, request: Request) -> str:
    """The URL a request was sent to as clients know the gateway (the issuer), for `htu`."""
    return settings.issuer.rstrip("/") + request.url.path


async def _check_dpop(request: Request, context: GatewayContext, token: str, jkt: str) -> None:
    proofs = request.headers.getlist("DPoP")
    if len(proofs) != 1:
        raise InvalidToken(
            "A DPoP-bound token needs exactly one DPoP proof.",
            headers={"WWW-Authenticate": dpop.CHALLENGE},
        )
    settings = context.settings
    proof = dpop.verify_proof(
        proofs[0],
        method=request.method,
        url=request_url(settings, request),
        access_token=token,
        max_age_seconds=settings.dpop_proof_max_age_seconds,
        leeway_seconds=settings.clock_skew_seconds,
    )
    if not hmac.compare_digest(proof.jkt, jkt):
        raise InvalidToken(
            "The DPoP proof is signed by another key than the token is bound to.",
            headers={"WWW-Authenticate": dpop.CHALLENGE},
        )
    await spend_dpop_proof(context.shared_store, settings, proof)


async def _client(request: Request, context: ContextDep, session: SessionDep) -> ClientPrincipal:
    scheme, token = authorization(request)
    if scheme not in ("bearer", "dpop"):
        raise InvalidToken("Use the Bearer or DPoP scheme.")
    claims = verify_gateway_token(
        context.keys, context.settings, token, CLIENT_TOKEN_USE, context.verified_tokens
    )
    client = await clients_repository.get(session, str(claims["sub"]))
    if client is None or client.status is not ClientStatus.ACTIVE:
        raise InvalidToken("This client's access is suspended.")
    request.state.client_id = client.id  # for the request's log line
    confirmation = claims.get("cnf")
    jkt = confirmation.get("jkt") if isinstance(confirmation, dict) else None
    if jkt is None and (scheme != "bearer" or client.dpop_required):
        raise InvalidToken(
            "This client's tokens must be DPoP-bound."
            if client.dpop_required
            else "This token is not DPoP-bound: use the Bearer scheme.",
            headers={"WWW-Authenticate": dpop.TOKEN_CHALLENGE},
        )
    if jkt is not None and scheme != "dpop":
        raise InvalidToken(
            "This token is DPoP-bound: use the DPoP scheme with a proof.",
            headers={"WWW-Authenticate": dpop.TOKEN_CHALLENGE},
        )
    settings = context.settings
    await enforce_rate_limit(
        context.shared_store,
        f"client:{client.id}",
        limit=settings.client_rate_limit,
        window_seconds=settings.client_rate_limit_window_seconds,
        detail="Too many requests from this client; retry after the time given.",
        exact=False,
    )
    if jkt is not None:
        await _check_dpop(request, context, token, str(jkt))
    return ClientPrincipal(
        client_id=client.id,
        kind=client.kind,
        scopes=frozenset(str(claims.get("scope", "")).split()),
        name=client.name,
        encryption_key=encryption_key(client.jwks),
    )


def _requiring(kind: ClientKind, scope: str) -> Any:
    # async: a plain function would be run in a worker thread on every request.
    async def dependency(
        principal: Annotated[ClientPrincipal, Depends(_client)],
        # A default, not `Annotated`: the scope is this closure's, unknown to a string annotation.
        _described: Any = Security(schemes.CLIENT_CREDENTIALS, scopes=[scope]),
        _pasted: Annotated[Any, Security(schemes.CLIENT_ACCESS_TOKEN)] = None,
    ) -> ClientPrincipal:
        if principal.kind != kind or scope not in principal.scopes:
            raise InsufficientScope(
                f"This endpoint needs a {kind} token with scope `{scope}`.",
                headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'},
            )
        return principal

    return dependency


# -- borrowers ------------------------------------------------------------------------------


def session_cookie_name(settings: Settings) -> str:
    """The name of the HttpOnly cookie holding a borrower's session token."""
    return _SESSION_COOKIE if settings.is_development else _HOST_PREFIX + _SESSION_COOKIE


def csrf_cookie_name(settings: Settings) -> str:
    """The name of the cookie the portal's script reads its CSRF token from."""
    return _CSRF_COOKIE if settings.is_development else _HOST_PREFIX + _CSRF_COOKIE


def csrf_token(context: GatewayContext, session_id: str) -> str:
    """The CSRF token of a cookie session: a keyed hash of its id, so only the gateway mints it."""
    digest = hmac.new(context.keys.secret("csrf"), session_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def check_same_origin(request: Request, context: GatewayContext) -> None:
    """Refuse a browser request sent by another site's page (`Origin`, `Sec-Fetch-Site`)."""
    settings = context.settings
    allowed = {_origin(settings.issuer), _origin(settings.portal_url or settings.issuer)}
    origin = request.headers.get("Origin")
    if origin is not None and origin.lower() not in allowed:
        raise InvalidToken("This request comes from another site.")
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        raise InvalidToken("This request comes from another site.")


def _check_csrf(request: Request, context: GatewayContext, session_id: str) -> None:
    check_same_origin(request, context)
    sent = request.headers.get(CSRF_HEADER, "")
    if not hmac.compare_digest(sent.encode(), csrf_token(context, session_id).encode()):
        raise InvalidToken(f"A change made with the session cookie needs the {CSRF_HEADER} header.")


async def _borrower_or_none(
    request: Request, context: GatewayContext, session: AsyncSession
) -> BorrowerPrincipal | None:
    settings = context.settings
    cookie = request.cookies.get(session_cookie_name(settings))
    if "Authorization" in request.headers:
        # A header wins over the cookie: browsers never attach it on their own.
        token, by_cookie = bearer_token(request), False
    elif cookie:
        token, by_cookie = cookie, True
    else:
        return None
    claims = verify_gateway_token(context.keys, context.settings, token, BORROWER_TOKEN_USE)
    session_id = claims.get("sid")
    record = (
        await borrowers_repository.get_session(session, session_id)
        if isinstance(session_id, str)
        else None
    )
    if (
        record is None
        or record.revoked_at is not None
        or record.expires_at <= context.clock.now()
        or record.phone_index != claims["sub"]
    ):
        raise InvalidToken("This session has ended; log in again.")
    if by_cookie and request.method not in SAFE_METHODS:
        _check_csrf(request, context, record.id)
    return BorrowerPrincipal(phone_index=record.phone_index, session_id=record.id)


async def current_borrower(
    request: Request, context: GatewayContext, session: AsyncSession
) -> BorrowerPrincipal:
    """The signed-in borrower of the request (bearer token or cookie), or `InvalidToken`."""
    principal = await _borrower_or_none(request, context, session)
    if principal is None:
        raise InvalidToken("A borrower session is required.")
    return principal


async def _borrower(
    request: Request,
    context: ContextDep,
    session: SessionDep,
    _app: Annotated[Any, Security(schemes.BORROWER_BEARER)],
    _browser: Annotated[Any, Security(schemes.BORROWER_COOKIE)],
) -> BorrowerPrincipal:
    return await current_borrower(request, context, session)


async def _client_or_none(
    request: Request, context: ContextDep, session: SessionDep
) -> ClientPrincipal | None:
    # No credentials: an anonymous caller. Credentials that fail are refused, never ignored.
    if "authorization" not in request.headers:
        return None
    return await _client(request, context, session)


ConsentWriter = Annotated[ClientPrincipal, Depends(_requiring(ClientKind.LENDER, "consents:write"))]
FeatureReader = Annotated[ClientPrincipal, Depends(_requiring(ClientKind.LENDER, "features:read"))]
RegulatorDep = Annotated[ClientPrincipal, Depends(_requiring(ClientKind.REGULATOR, "audit:read"))]
# A witness needs only `audit:cosign`: a regulator may narrow its token to co-signing.
RegulatorCosigner = Annotated[
    ClientPrincipal, Depends(_requiring(ClientKind.REGULATOR, "audit:cosign"))
]
CurrentBorrower = Annotated[BorrowerPrincipal, Depends(_borrower)]
ClientOrAnonymous = Annotated[ClientPrincipal | None, Depends(_client_or_none)]
