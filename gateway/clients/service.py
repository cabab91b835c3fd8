"""Client registration and the client-credentials grant with `private_key_jwt` (RFC 7523)."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import jose
from gateway.audit import service as audit_service
from gateway.audit.events import AuditEvent
from gateway.auth import CLIENT_TOKEN_USE
from gateway.clients import repository
from gateway.clients.models import Client
from gateway.clients.schemas import TokenResponse
from gateway.context import GatewayContext
from gateway.db import utcnow
from gateway.errors import InsufficientScope, InvalidRequest, InvalidToken

log = structlog.get_logger()

CLIENT_KINDS = ("lender", "regulator")
DEFAULT_SCOPES = {
    "lender": ("consents:write", "features:read"),
    "regulator": ("audit:read", "audit:cosign"),
}
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
SIGNING_KEYS = {("OKP", "Ed25519"), ("EC", "P-256")}
ENCRYPTION_KEYS = {("OKP", "X25519")}


class ClientRegistrationError(ValueError):
    """A JWKS or client description that cannot be registered."""


def signing_keys(jwks: Mapping[str, Any]) -> dict[str, Any]:
    """The JWKS restricted to the client's signature keys."""
    return {
        "keys": [
            key
            for key in jwks.get("keys", [])
            if key.get("use", "sig") == "sig" and (key.get("kty"), key.get("crv")) in SIGNING_KEYS
        ]
    }


def encryption_key(jwks: Mapping[str, Any]) -> dict[str, Any] | None:
    """The client's X25519 key that releases are encrypted to."""
    for key in jwks.get("keys", []):
        if key.get("use") == "enc" and (key.get("kty"), key.get("crv")) in ENCRYPTION_KEYS:
            return dict(key)
    return None


def validate_jwks(kind: str, jwks: Mapping[str, Any]) -> dict[str, Any]:
    """Check a client's public JWKS: public keys only, a signature key, an enc key for lenders."""
    if kind not in CLIENT_KINDS:
        raise ClientRegistrationError(f"kind must be one of {', '.join(CLIENT_KINDS)}")
    keys = jwks.get("keys")
    if not isinstance(keys, list) or not keys:
        raise ClientRegistrationError("the JWKS has no keys")
    for key in keys:
        if not isinstance(key, dict) or not key.get("kid"):
            raise ClientRegistrationError("every key needs a `kid`")
        if any(member in key for member in ("d", "p", "q", "k")):
            raise ClientRegistrationError(f"key {key['kid']} holds private material")
    if not signing_keys(jwks)["keys"]:
        raise ClientRegistrationError("the JWKS needs a `sig` key (Ed25519 or P-256)")
    if kind == "lender" and encryption_key(jwks) is None:
        raise ClientRegistrationError("a lender's JWKS needs an X25519 `enc` key")
    return {"keys": [dict(key) for key in keys]}


async def register(
    session: AsyncSession, *, name: str, kind: str, jwks: Mapping[str, Any], actor: str
) -> Client:
    """Register a client from its public JWKS; the registration is an audit event."""
    public_jwks = validate_jwks(kind, jwks)
    prefix = "lnd" if kind == "lender" else "reg"
    client = Client(
        id=f"{prefix}_{secrets.token_hex(10)}",
        name=name,
        kind=kind,
        jwks=public_jwks,
        scopes=" ".join(DEFAULT_SCOPES[kind]),
    )
    session.add(client)
    await session.flush()
    await audit_service.append(
        session,
        AuditEvent(
            type="admin.client_added",
            actor=actor,
            lender_id=client.id if kind == "lender" else None,
            reason=f"{kind} registered",
        ),
    )
    return client


async def issue_token(
    session: AsyncSession,
    context: GatewayContext,
    *,
    grant_type: str,
    assertion_type: str | None,
    assertion: str | None,
    scope: str | None,
) -> TokenResponse:
    """Exchange a valid, unused client assertion for a short-lived access token."""
    if grant_type != "client_credentials":
        raise InvalidRequest("grant_type must be client_credentials.")
    if assertion_type != ASSERTION_TYPE or not assertion:
        raise InvalidRequest(f"client_assertion_type must be {ASSERTION_TYPE}.")
    client = None
    try:
        client = await _claimed_client(session, assertion)
        claims = await _verify_assertion(session, context, client, assertion)
    except InvalidToken as refusal:
        # Only a registered client's id goes on record: an unverified `iss` is anyone's text.
        audit_service.append_if_refused(
            session,
            AuditEvent(
                type="token.refused",
                actor=f"client:{client.id}" if client else "client:unknown",
                lender_id=client.id if client and client.kind == "lender" else None,
                outcome="denied",
                reason=refusal.detail,
            ),
        )
        raise

    registered = client.scopes.split()
    granted = registered if scope is None else scope.split()
    if not granted or not set(granted) <= set(registered):
        raise InsufficientScope("The requested scope exceeds the client's registration.")

    now = utcnow()
    ttl = context.settings.access_token_ttl_seconds
    token = jose.sign_jwt(
        {
            "iss": context.settings.issuer,
            "sub": client.id,
            "aud": context.settings.issuer,
            "iat": int(now.timestamp()),
            "exp": int(now.timestamp()) + ttl,
            "jti": secrets.token_urlsafe(16),
            "scope": " ".join(granted),
            "client_kind": client.kind,
            "token_use": CLIENT_TOKEN_USE,
        },
        context.keys.signing_key.private_key,
        context.keys.signing_key.kid,
        typ="at+jwt",
    )
    log.info("token.issued", client_id=client.id, scope=" ".join(granted), jti=claims["jti"])
    return TokenResponse(access_token=token, expires_in=ttl, scope=" ".join(granted))


async def _claimed_client(session: AsyncSession, assertion: str) -> Client:
    """The active client an assertion claims to come from (not yet verified)."""
    try:
        unverified = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError as error:
        raise InvalidToken("The client assertion is not a JWT.") from error
    client_id = unverified.get("iss")
    client = await repository.get(session, client_id) if isinstance(client_id, str) else None
    if client is None or client.status != "active":
        raise InvalidToken("Unknown client.")
    return client


async def _verify_assertion(
    session: AsyncSession, context: GatewayContext, client: Client, assertion: str
) -> dict[str, Any]:
    """The assertion's claims once its signature, audience, lifetime and `jti` check out."""
    settings = context.settings
    claims = jose.verify_jwt(
        assertion,
        signing_keys(client.jwks),
        audience=[settings.token_endpoint, settings.issuer],
        issuer=client.id,
        leeway=settings.clock_skew_seconds,
        required=("exp", "iat", "jti", "sub"),
    )
    if claims["sub"] != client.id:
        raise InvalidToken("The assertion's `sub` must equal its `iss`.")
    now = utcnow()
    expires_at = datetime.fromtimestamp(int(claims["exp"]), UTC)
    latest = now + timedelta(
        seconds=settings.client_assertion_max_lifetime_seconds + settings.clock_skew_seconds
    )
    if expires_at > latest:
        raise InvalidToken("The assertion's `exp` is too far ahead.")
    if not await repository.spend_assertion(
        session, client.id, str(claims["jti"]), expires_at, now
    ):
        raise InvalidToken("This client assertion was already used.")
    return claims
